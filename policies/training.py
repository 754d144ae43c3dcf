"""Training: :func:`train` runs the whole pipeline behind ``train.py`` (model, warm starts,
callbacks, export, curve, summary); configuration, vector envs, callbacks and validation are its
parts. Kept in the package (not in ``train.py``) so that tests, notebooks and sweeps reuse them.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from tqdm import tqdm

from schedgym import envs  # registers the env ids
from schedgym.data.files import write_json_atomic, write_text_atomic
from schedgym.data.instance_sets import recipes
from schedgym.envs.validation import check_choice
from schedgym.policies.extras import raise_if_extra_missing

try:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import TensorBoardOutputFormat
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
except ModuleNotFoundError as error:  # the train extra is not installed
    raise_if_extra_missing("schedgym.policies.training", error)
    raise

from schedgym.policies.checkpoint import (
    BEST, CHECKPOINT, CONFIG, ONNX, PLOT, SUMMARY, RunState, finished_summary, load_model, read_state,
    repair, save_best, save_checkpoint, write_curve,
)
from schedgym.policies.pointer import PointerNet, torch_logits

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"
#: Default ``checkpoint_freq``: env steps between checkpoints, the most a killed run loses.
DEFAULT_CHECKPOINT_FREQ = 10_000


# ----------------------------------------------------------------------------- configuration

def config_path(env_id: str) -> Path:
    """``policies/hyperparams/<Name>-vN.yaml`` of an env id."""
    return HYPERPARAMS_DIR / f"{env_id.split('/')[-1]}.yaml"


def load_config(env_id: str, overrides: Sequence[str] = (), path: str | Path | None = None) -> dict[str, Any]:
    """The env's YAML hyperparameters with ``key.sub=value`` overrides (values parsed as YAML)."""
    path = Path(path) if path else config_path(env_id)
    if not path.exists():
        raise FileNotFoundError(f"no hyperparameters for {env_id} at {path}")
    config = yaml.safe_load(path.read_text())
    config["env_id"] = env_id
    for override in overrides:
        set_override(config, override)
    return config


def set_override(config: dict[str, Any], override: str) -> None:
    """Applies one ``a.b.c=value`` override in place; the key path must exist except its last part."""
    if "=" not in override:
        raise ValueError(f"override {override!r} is not of the form key.sub=value")
    key, raw = override.split("=", 1)
    parts = key.strip().split(".")
    node = config
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise KeyError(f"override {override!r}: {part!r} is not a section of the config")
        node = node[part]
    node[parts[-1]] = yaml.safe_load(raw)


# ----------------------------------------------------------------------------- environments

class _ActionMasks:
    """``action_masks`` of the innermost env, exposed by a wrapper (for ``MaskablePPO``)."""

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.action_masks()


class InstancePool(_ActionMasks, gym.Wrapper):
    """Reuses generated training instances, so that expensive instance generation (about 75 ms
    per VM medium instance, the cost of ~500 steps) does not dominate training.

    The first ``size`` resets generate fresh instances through the env's own sampler and keep
    them; later resets replay a pooled instance, except that with probability ``refresh`` a
    fresh one is generated and replaces a random pool entry. Resets with an explicit
    ``options["instance"]`` pass through. Envs whose state exposes no ``instance`` are not pooled.
    """

    def __init__(self, env: gym.Env, size: int = 64, refresh: float = 0.05, seed: int | None = None) -> None:
        super().__init__(env)
        self.size, self.refresh = int(size), float(refresh)
        self.pool: list[Any] = []
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # noqa: ANN201
        if self.size <= 0 or (options and "instance" in options):
            return self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        if len(self.pool) < self.size or self._rng.random() < self.refresh:
            result = self.env.reset(seed=seed, options=options)
            instance = getattr(getattr(self.env.unwrapped, "state", None), "instance", None)
            if instance is None:
                self.size = 0  # nothing to pool for this env
            elif len(self.pool) < self.size:
                self.pool.append(instance)
            else:
                self.pool[int(self._rng.integers(len(self.pool)))] = instance
            return result
        instance = self.pool[int(self._rng.integers(len(self.pool)))]
        return self.env.reset(seed=seed, options={**(options or {}), "instance": instance})


class _Masked(_ActionMasks, gym.Wrapper):
    """Exposes ``action_masks`` through outer wrappers (Monitor)."""


def _make_env(env_id: str, env_kwargs: dict[str, Any], pool: dict[str, Any], seed: int, threads: int) -> gym.Env:
    torch.set_num_threads(threads)
    env = gym.make(env_id, **env_kwargs)
    env = InstancePool(env, size=pool.get("size", 0), refresh=pool.get("refresh", 0.0), seed=seed)
    env = _Masked(Monitor(env))
    env.reset(seed=seed)
    return env


def env_kwargs_of(config: dict[str, Any], index: int) -> dict[str, Any]:
    """The env arguments of training env (or demonstration episode) ``index``: ``env_kwargs``
    updated by entry ``index mod len(env_mix)`` of the optional ``env_mix`` list, so one run
    trains on several workloads (e.g. loads) at once.

    Raises:
        ValueError: ``env_mix`` is not a non-empty list of mappings.
    """
    mix = config.get("env_mix")
    base = dict(config.get("env_kwargs", {}))
    if mix is None:
        return base
    if not isinstance(mix, list) or not mix or not all(isinstance(entry, dict) for entry in mix):
        raise ValueError(f"env_mix must be a non-empty list of env-argument mappings, got {mix!r}")
    return {**base, **mix[index % len(mix)]}


#: The ``vec_env`` values: envs in this process, in worker processes, or in Ray actors.
VEC_ENVS = ("dummy", "subproc", "ray")


def make_vec_env(config: dict[str, Any], seed: int) -> VecEnv:
    """``n_envs`` training envs (``vec_env``: one of :data:`VEC_ENVS`), env ``i`` seeded
    ``seed + 1000 * i`` with the arguments :func:`env_kwargs_of` gives it.

    ``n_envs: auto`` means one env per available core. ``vec_env: ray`` puts each env in a Ray
    actor (:class:`~schedgym.policies.ray_vec_env.RayVecEnv`) on the cluster at ``ray_address``
    (default: the Ray of this process, else a new local one); the training is the same as with
    ``dummy`` for the same seed.

    Raises:
        ValueError: ``vec_env`` is none of :data:`VEC_ENVS`, or an ``env_mix`` entry changes
            the observation or action space (the envs of one vector env must share them).
    """
    kind = check_choice("vec_env", config.get("vec_env", "dummy"), VEC_ENVS)
    n_envs = config.get("n_envs", "auto")
    if n_envs == "auto":
        n_envs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    kwargs = [env_kwargs_of(config, i) for i in range(int(n_envs))]
    if config.get("env_mix") is not None:
        _check_same_spaces(config["env_id"], kwargs)
    factories = [
        partial(_make_env, config["env_id"], kwargs[i], config.get("instance_pool", {}), seed + 1000 * i, 1)
        for i in range(int(n_envs))
    ]
    if kind == "ray":
        from schedgym.policies.ray_vec_env import RayVecEnv

        return RayVecEnv(factories, address=config.get("ray_address"))
    if kind == "subproc" and n_envs > 1:
        return SubprocVecEnv(factories, start_method="fork" if os.name == "posix" else None)
    return DummyVecEnv(factories)


def _check_same_spaces(env_id: str, kwargs: list[dict[str, Any]]) -> None:
    spaces = []
    for entry in kwargs:
        env = gym.make(env_id, **entry)
        spaces.append((env.observation_space, env.action_space))
        env.close()
    for index, space in enumerate(spaces):
        if space != spaces[0]:
            raise ValueError(f"env_mix: env {index}'s arguments {kwargs[index]} change the observation or "
                             f"action space against env 0's {kwargs[0]}; fix the slot sizes (e.g. max_nodes)")


# ----------------------------------------------------------------------------- evaluation

def net_action(net: PointerNet, obs: dict[str, np.ndarray]) -> int:
    """The greedy (deterministic) action of ``net`` on one observation."""
    return int(np.argmax(torch_logits(net, obs)))


def validation_instances(config: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, int]]]:
    """(env kwargs, [(instance or None, seed)]) of the validation set of ``config["eval"]``.

    ``eval.instances`` names fixed validation sets of the env (one name or a list, e.g.
    ``small-val``; never a test set; the sets must share their env arguments); otherwise
    ``eval.seeds`` are held-out generator seeds (a reset with that seed samples the instance;
    training seeds are far from them).
    """
    spec = config.get("eval", {})
    env_kwargs = dict(config.get("env_kwargs", {}))
    names = spec.get("instances")
    if names:
        names = [names] if isinstance(names, str) else list(names)
        items, set_kwargs = [], None
        purposes = {name: recipe.purpose for name, recipe in recipes(envs.env_key(config["env_id"])).items()}
        for name in names:
            if purposes.get(name) != "val":
                raise ValueError(f"refusing to validate on {name!r}, not a validation set of "
                                 f"{config['env_id']}: use a -val set or seeds")
            instance_set = envs.env_class(config["env_id"]).load_instance_set(name)
            if set_kwargs is not None and instance_set.env_kwargs != set_kwargs:
                raise ValueError(f"eval.instances: {name!r} needs env arguments {instance_set.env_kwargs}, "
                                 f"{names[0]!r} needs {set_kwargs}; validate on sets that share them")
            set_kwargs = instance_set.env_kwargs
            items += [(inst, 0) for inst in instance_set.instances]
        return {**env_kwargs, **set_kwargs}, items
    seeds = spec.get("seeds") or list(range(10**6, 10**6 + 8))
    return env_kwargs, [(None, int(seed)) for seed in seeds]


def rollout_metrics(net: PointerNet, env: gym.Env, items: list[tuple[Any, int]]) -> dict[str, float]:
    """Mean final leaderboard metrics of ``net`` acting greedily on each (instance, seed), and
    ``truncated``, the share of episodes cut off by the env's step limit (a policy that stalls)."""
    names = env.unwrapped.leaderboard_metrics
    totals = {name: [] for name in (*names, "truncated")}
    was_training = net.training
    net.eval()
    for instance, seed in items:
        options = {"instance": instance} if instance is not None else None
        obs, info = env.reset(seed=seed, options=options)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(net_action(net, obs))
            done = terminated or truncated
        for name in names:
            totals[name].append(float(info[name]))
        totals["truncated"].append(float(truncated and not terminated))
    net.train(was_training)
    return {name: float(np.mean(values)) for name, values in totals.items()}


# ----------------------------------------------------------------------------- callbacks

class ProgressCallback(BaseCallback):
    """A tqdm bar over the run's timesteps (resumed runs start where they stopped)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.bar: tqdm | None = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, initial=self.model.num_timesteps, unit="step", dynamic_ncols=True)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class EnvMetricsCallback(BaseCallback):
    """Logs the env's own metrics (``leaderboard_metrics`` of the final ``info``) of every
    finished training episode to TensorBoard as ``env/<metric>`` (mean per rollout)."""

    def __init__(self, metrics: Sequence[str]) -> None:
        super().__init__()
        self.metrics = tuple(metrics)

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if done:
                for name in self.metrics:
                    if name in info:
                        self.logger.record_mean(f"env/{name}", float(info[name]))
        return True


class RunCallback(BaseCallback):
    """Validation and checkpoints, at rollout boundaries (where the weights have been trained on
    every step counted) and at the end of training.

    Validation every ``eval.freq`` steps: greedy rollouts on the validation set, a row of the
    curve (``eval_curve.json``), TensorBoard ``val/<metric>`` at that step. Checkpoint
    (``last_model.zip`` with the :class:`~schedgym.policies.checkpoint.RunState`) at every
    validation and often enough that at most ``checkpoint_freq`` steps are ever unsaved (at least
    one rollout, ``n_envs * n_steps``); ``best_model.zip`` copies it when the metric improves.
    """

    def __init__(self, config: dict[str, Any], out: Path, state: RunState, last_checkpoint: int | None,
                 clock: Callable[[], float]) -> None:
        super().__init__()
        self.out, self.state, self.last_checkpoint, self.clock = Path(out), state, last_checkpoint, clock
        spec = config.get("eval", {})
        self.eval_freq = int(spec.get("freq", 10_000))
        self.checkpoint_freq = checkpoint_freq(config)
        self.sign = 1.0 if spec.get("mode", "min") == "min" else -1.0
        env_kwargs, self.items = validation_instances(config)
        self.env = gym.make(config["env_id"], **env_kwargs)
        self.metric = spec.get("metric") or self.env.unwrapped.leaderboard_metrics[0]
        best = state.best_row()
        self.best = self.score(best) if best else (float("inf"), float("inf"))
        self.writer = None

    def score(self, row: dict[str, float]) -> tuple[float, float]:
        """Model-selection key, lower is better: first the share of truncated (stalled) episodes,
        whose metrics cover only part of the workload, then the metric."""
        return row.get("truncated", 0.0), self.sign * row[self.metric]

    def _on_training_start(self) -> None:
        self.writer = next((output.writer for output in self.logger.output_formats
                            if isinstance(output, TensorBoardOutputFormat)), None)

    def _on_rollout_start(self) -> None:
        steps = self.model.num_timesteps
        last = self.state.last_validation
        validate = last is None or steps // self.eval_freq > last // self.eval_freq
        rollout = self.model.n_steps * self.model.n_envs
        unsaved = self.last_checkpoint is None or steps + rollout - self.last_checkpoint > self.checkpoint_freq
        if validate or unsaved:
            self.record(validate)

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        steps = self.model.num_timesteps
        validate = self.state.last_validation != steps  # the final validation
        if validate or self.last_checkpoint != steps:
            self.record(validate)
        self.env.close()

    def record(self, validate: bool) -> None:
        """Validates (if asked) and writes the checkpoint, then the best copy and the curve: a kill
        between these writes leaves nothing that :func:`~schedgym.policies.checkpoint.repair`
        cannot put right."""
        improved = validate and self.validate()
        steps = int(self.model.num_timesteps)
        self.state.timesteps, self.state.wall_s = steps, self.clock()
        save_checkpoint(self.model, self.state, self.out)
        self.last_checkpoint = steps
        if improved:
            save_best(self.out)
        if validate:
            write_curve(self.out, self.state.curve)

    def validate(self) -> bool:
        """Appends a validation row at the current step; whether it is the best so far."""
        steps = int(self.model.num_timesteps)
        metrics = rollout_metrics(self.model.policy.pointer_net, self.env, self.items)
        row = {"timesteps": steps, "wall_s": self.clock(), **metrics}
        self.state.curve.append(row)
        if self.writer is not None:
            # Straight to TensorBoard at this step: through SB3's logger the values would wait
            # for the next dump, at another step, and the final validation for none.
            for name, value in metrics.items():
                self.writer.add_scalar(f"val/{name}", value, steps)
            self.writer.flush()
        tqdm.write(f"[val] {row}")
        if self.score(row) < self.best:
            self.best, self.state.best_timesteps = self.score(row), steps
            return True
        return False


def checkpoint_freq(config: dict[str, Any]) -> int:
    """The config's ``checkpoint_freq``: the most env steps a killed run may lose."""
    value = config.get("checkpoint_freq", DEFAULT_CHECKPOINT_FREQ)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"checkpoint_freq must be a positive number of timesteps, got {value!r}")
    return value


def dump_config(config: dict[str, Any], path: Path) -> None:
    """Writes the exact config as YAML, atomically."""
    write_text_atomic(path, yaml.safe_dump(copy.deepcopy(config), sort_keys=False))


# ------------------------------------------------------------------------------- the pipeline


def _build_model(config: dict[str, Any], vec_env: VecEnv, node_features: Sequence[str], seed: int,
                 tb_dir: Path) -> Any:
    """A fresh MaskablePPO with the pointer policy configured by ``config["policy"]``."""
    from sb3_contrib import MaskablePPO

    from schedgym.policies.pointer import PointerPolicy, net_kwargs_for

    net = dict(config.get("policy", {}))
    selected = net.pop("selected_feature", "selected")
    net.update({k: v for k, v in net_kwargs_for(vec_env.observation_space, node_features, selected).items()
                if k == "selected_index"})
    return MaskablePPO(
        PointerPolicy, vec_env, seed=seed, device="cpu", tensorboard_log=str(tb_dir), verbose=0,
        policy_kwargs={"features_extractor_kwargs": net}, **config.get("ppo", {}),
    )


def _warm_start(model: Any, config: dict[str, Any], seed: int, progress: bool) -> dict[str, Any] | None:
    """Applies ``init_from`` and ``imitation`` of a new run; returns the imitation record."""
    if config.get("init_from"):
        # Warm start from another run's weights: the pointer net does not depend on N_MAX/E_MAX,
        # so e.g. a VM small policy initialises a VM medium run. (Unpickles: trusted files only.)
        from sb3_contrib import MaskablePPO

        source = MaskablePPO.load(config["init_from"], device="cpu")
        model.policy.pointer_net.load_state_dict(source.policy.pointer_net.state_dict())
        print(f"initialised from {config['init_from']}")
    if not config.get("imitation"):
        return None
    from schedgym.policies.imitation import warm_start

    print(f"warm start: imitating {config['imitation']['expert']} ...", flush=True)
    imitation = warm_start(model.policy.pointer_net, config, seed, progress)
    print(f"  {imitation['samples']} samples in {imitation['collect_s']:.0f} s, cloned in "
          f"{imitation['clone_s']:.0f} s, loss {imitation['losses'][0]:.3f} -> {imitation['losses'][-1]:.3f}")
    return imitation


def _wall_clock(offset: float) -> Callable[[], float]:
    """Wall seconds of the run: ``offset`` (earlier parts) plus the time since this call."""
    start = time.perf_counter()
    return lambda: offset + time.perf_counter() - start


def train(config: dict[str, Any], out: Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Trains a policy as ``config`` says into the run folder ``out``; returns the run summary.

    The folder receives ``config.yaml``, ``tb/``, ``eval_curve.json`` and ``eval_curve.png``,
    ``best_model.zip``, ``last_model.zip`` (the checkpoint), ``model.onnx`` (the best model,
    exported) and ``summary.json``, each written atomically.

    Args:
        config: The full config (``load_config``), with ``env_id``, ``seed`` and ``timesteps``.
        out: The run folder.
        resume: Continue from the checkpoint ``out/last_model.zip`` up to ``config["timesteps"]``
            in total (warm starts are not repeated; curve, wall time and imitation record carry
            on). A run already complete up to there is left untouched and its summary returned.
        progress: Show progress bars (demonstrations, PPO steps).

    Raises:
        schedgym.policies.checkpoint.RunFolderError: On resume, a file of ``out`` is missing
            or damaged.
    """
    env_id, seed, total = config["env_id"], int(config["seed"]), int(config["timesteps"])
    checkpoint_freq(config)  # a bad value fails before any work
    state = read_state(out / CHECKPOINT) if resume else RunState()
    if resume:
        summary = finished_summary(out, state, total)
        if summary is not None:
            print(f"{out} is already trained to {state.timesteps} timesteps (asked: {total}); nothing to do")
            return summary
        repair(out, state)
    clock = _wall_clock(state.wall_s)
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / CONFIG)
    torch.set_num_threads(int(config.get("torch_threads", 1)))
    probe = gym.make(env_id, **config.get("env_kwargs", {}))
    graph, metrics = probe.unwrapped.spec_graph, probe.unwrapped.leaderboard_metrics
    probe.close()
    vec_env = make_vec_env(config, seed)
    if resume:
        model = load_model(out / CHECKPOINT, env=vec_env, tensorboard_log=str(out / "tb"))
        model.set_random_seed(seed + state.timesteps)  # the resumed part does not replay the first episodes
    else:
        model = _build_model(config, vec_env, graph.node_features, seed, out / "tb")
        state.imitation = _warm_start(model, config, seed, progress)
    run = RunCallback(config, out, state, state.timesteps if resume else None, clock)
    callbacks = [EnvMetricsCallback(metrics), run]
    if progress:
        callbacks.insert(0, ProgressCallback(total))
    model.learn(total_timesteps=max(0, total - state.timesteps), callback=callbacks,
                reset_num_timesteps=not resume, tb_log_name="ppo")
    vec_env.close()
    return _finish(config, out, state, graph.metadata(), run.metric)


def _finish(config: dict[str, Any], out: Path, state: RunState, graph_metadata: dict[str, Any],
            metric: str) -> dict[str, Any]:
    """Exports the best checkpoint, draws the curve and writes ``summary.json`` (last, so that a
    run killed before it is finished again on resume)."""
    from schedgym.policies.curves import plot_validation_curve
    from schedgym.policies.export import export_net

    env_id = config["env_id"]
    best_name = BEST if state.best_timesteps is not None else CHECKPOINT
    best = load_model(out / best_name)
    summary = {
        "env_id": env_id, "env_kwargs": config.get("env_kwargs", {}), "seed": int(config["seed"]),
        "timesteps": state.timesteps, "wall_s": state.wall_s, "commands": config.get("commands", []),
        "best_checkpoint": best_name, "imitation": state.imitation, "best_val": state.best_row(),
    }
    export_net(best.policy.pointer_net, out / ONNX, graph_metadata, env_id, config.get("env_kwargs", {}),
               extra={"commands": summary["commands"], "seed": summary["seed"], "timesteps": state.timesteps,
                      "checkpoint": best_name, "policy": config.get("policy", {})})
    if state.curve:
        plot_validation_curve(state.curve, metric, out / PLOT, f"{env_id}: {out.name}")
    write_json_atomic(out / SUMMARY, summary)
    best_value = summary["best_val"][metric] if summary["best_val"] else "n/a"
    print(f"trained {state.timesteps} steps in {state.wall_s:.0f} s; best validation {metric}: {best_value}; "
          f"wrote {out}/{ONNX}")
    return summary


__all__ = [
    "load_config", "set_override", "config_path", "InstancePool", "make_vec_env", "net_action", "validation_instances", "rollout_metrics", "ProgressCallback",
    "EnvMetricsCallback", "RunCallback", "checkpoint_freq", "dump_config", "train",
]
