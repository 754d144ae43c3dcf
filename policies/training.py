"""Training: :func:`train` runs the whole pipeline behind ``train.py`` (model, warm starts,
callbacks, export, curve, summary); configuration, vector envs, callbacks and validation are its
parts. Kept in the package (not in ``train.py``) so that tests, notebooks and sweeps reuse them.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from tqdm import tqdm

from schedgym import envs  # registers the env ids
from schedgym.policies.pointer import PointerNet, torch_logits

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"


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


def make_vec_env(config: dict[str, Any], seed: int) -> VecEnv:
    """``n_envs`` training envs (``vec_env``: ``subproc`` or ``dummy``), env ``i`` seeded ``seed + 1000 * i``.

    ``n_envs: auto`` means one env per available core.
    """
    n_envs = config.get("n_envs", "auto")
    if n_envs == "auto":
        n_envs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    factories = [
        partial(_make_env, config["env_id"], config.get("env_kwargs", {}), config.get("instance_pool", {}),
                seed + 1000 * i, 1)
        for i in range(int(n_envs))
    ]
    if config.get("vec_env", "dummy") == "subproc" and n_envs > 1:
        return SubprocVecEnv(factories, start_method="fork" if os.name == "posix" else None)
    return DummyVecEnv(factories)


# ----------------------------------------------------------------------------- evaluation

def net_action(net: PointerNet, obs: dict[str, np.ndarray]) -> int:
    """The greedy (deterministic) action of ``net`` on one observation."""
    return int(np.argmax(torch_logits(net, obs)))


def validation_instances(config: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, int]]]:
    """(env kwargs, [(instance or None, seed)]) of the validation set of ``config["eval"]``.

    ``eval.instances`` names a fixed validation set of the env (e.g. ``small-val``; never a
    test set); otherwise ``eval.seeds`` are held-out generator seeds (a reset with that seed
    samples the instance; training seeds are far from them).
    """
    spec = config.get("eval", {})
    env_kwargs = dict(config.get("env_kwargs", {}))
    name = spec.get("instances")
    if name:
        if "test" in name:
            raise ValueError(f"refusing to validate on test set {name!r}: use a -val set or seeds")
        instance_set = envs.env_class(config["env_id"]).load_instance_set(name)
        env_kwargs.update(instance_set.env_kwargs)
        return env_kwargs, [(inst, 0) for inst in instance_set.instances]
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


class ValidationCallback(BaseCallback):
    """Every ``freq`` steps: greedy rollouts on the validation set, TensorBoard ``val/<metric>``,
    ``best_model.zip`` when ``metric`` improves, ``last_model.zip`` always, and the curve in
    ``eval_curve.json`` (which a resumed run continues)."""

    def __init__(self, config: dict[str, Any], out: Path, freq: int) -> None:
        super().__init__()
        self.out, self.freq = Path(out), int(freq)
        spec = config.get("eval", {})
        self.metric = spec.get("metric")
        self.sign = 1.0 if spec.get("mode", "min") == "min" else -1.0
        env_kwargs, self.items = validation_instances(config)
        self.env = gym.make(config["env_id"], **env_kwargs)
        self.metric = self.metric or self.env.unwrapped.leaderboard_metrics[0]
        self.curve_path = self.out / "eval_curve.json"
        self.curve: list[dict[str, float]] = []
        self.best = (float("inf"), float("inf"))
        if self.curve_path.exists():
            self.curve = json.loads(self.curve_path.read_text())
            self.best = min((self.score(row) for row in self.curve), default=self.best)
        self.start = time.perf_counter()
        self.last_eval = -1

    def _on_step(self) -> bool:
        if self.model.num_timesteps // self.freq > self.last_eval // self.freq or self.last_eval < 0:
            self.evaluate()
        return True

    def score(self, row: dict[str, float]) -> tuple[float, float]:
        """Model-selection key, lower is better: first the share of truncated (stalled) episodes,
        whose metrics cover only part of the workload, then the metric."""
        return row.get("truncated", 0.0), self.sign * row[self.metric]

    def evaluate(self) -> dict[str, float]:
        self.last_eval = self.model.num_timesteps
        net = self.model.policy.pointer_net
        metrics = rollout_metrics(net, self.env, self.items)
        for name, value in metrics.items():
            self.logger.record(f"val/{name}", value)
        elapsed = time.perf_counter() - self.start
        previous = self.curve[-1]["wall_s"] if self.curve else 0.0
        row = {"timesteps": int(self.model.num_timesteps), "wall_s": previous + elapsed, **metrics}
        self.start = time.perf_counter()
        self.curve.append(row)
        self.curve_path.write_text(json.dumps(self.curve, indent=1))
        score = self.score(metrics)
        if score < self.best:
            self.best = score
            self.model.save(self.out / "best_model.zip")
        self.model.save(self.out / "last_model.zip")
        if self.verbose:
            tqdm.write(f"[val] {row}")
        return metrics

    def _on_training_end(self) -> None:
        if self.last_eval != self.model.num_timesteps:
            self.evaluate()
        self.env.close()


def dump_config(config: dict[str, Any], path: Path) -> None:
    """Writes the exact config as YAML."""
    path.write_text(yaml.safe_dump(copy.deepcopy(config), sort_keys=False))


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


def train(config: dict[str, Any], out: Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Trains a policy as ``config`` says into the run folder ``out``; returns the run summary.

    The folder receives ``config.yaml``, ``tb/``, ``eval_curve.json`` and ``eval_curve.png``,
    ``best_model.zip``, ``last_model.zip``, ``model.onnx`` (the best model, exported) and
    ``summary.json``.

    Args:
        config: The full config (``load_config``), with ``env_id``, ``seed`` and ``timesteps``.
        out: The run folder.
        resume: Continue from ``out/last_model.zip`` up to ``config["timesteps"]`` in total
            (warm starts are not repeated; the summary adds the earlier wall time).
        progress: Show progress bars (demonstrations, PPO steps).
    """
    from sb3_contrib import MaskablePPO

    from schedgym.policies.curves import plot_validation_curve
    from schedgym.policies.export import export_net

    env_id = config["env_id"]
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    torch.set_num_threads(int(config.get("torch_threads", 1)))
    seed = int(config["seed"])
    probe = gym.make(env_id, **config.get("env_kwargs", {}))
    graph = probe.unwrapped.spec_graph
    metrics = probe.unwrapped.leaderboard_metrics
    probe.close()
    vec_env = make_vec_env(config, seed)
    start = time.perf_counter()
    if resume:
        model = MaskablePPO.load(out / "last_model.zip", env=vec_env, device="cpu", tensorboard_log=str(out / "tb"))
    else:
        model = _build_model(config, vec_env, graph.node_features, seed, out / "tb")
    if config.get("init_from") and not resume:
        # Warm start from another run's weights: the pointer net does not depend on N_MAX/E_MAX,
        # so e.g. a VM small policy initialises a VM medium run. (Unpickles: trusted files only.)
        source = MaskablePPO.load(config["init_from"], device="cpu")
        model.policy.pointer_net.load_state_dict(source.policy.pointer_net.state_dict())
        print(f"initialised from {config['init_from']}")
    imitation = None
    if config.get("imitation") and not resume:
        from schedgym.policies.imitation import warm_start

        print(f"warm start: imitating {config['imitation']['expert']} ...", flush=True)
        imitation = warm_start(model.policy.pointer_net, config, seed, progress)
        print(f"  {imitation['samples']} samples in {imitation['collect_s']:.0f} s, cloned in "
              f"{imitation['clone_s']:.0f} s, loss {imitation['losses'][0]:.3f} -> {imitation['losses'][-1]:.3f}")
    total = int(config["timesteps"])
    validation = ValidationCallback(config, out, int(config.get("eval", {}).get("freq", 10_000)))
    validation.verbose = 1
    callbacks = [EnvMetricsCallback(metrics), validation]
    if progress:
        callbacks.insert(0, ProgressCallback(total))
    remaining = max(0, total - model.num_timesteps)
    model.learn(total_timesteps=remaining, callback=callbacks, reset_num_timesteps=not resume, tb_log_name="ppo")
    wall = time.perf_counter() - start
    vec_env.close()
    model.save(out / "last_model.zip")

    best_path = out / "best_model.zip" if (out / "best_model.zip").exists() else out / "last_model.zip"
    best = MaskablePPO.load(best_path, device="cpu")
    curve = json.loads((out / "eval_curve.json").read_text()) if (out / "eval_curve.json").exists() else []
    previous = json.loads((out / "summary.json").read_text()) if resume and (out / "summary.json").exists() else {}
    summary = {
        "env_id": env_id, "env_kwargs": config.get("env_kwargs", {}), "seed": seed,
        "timesteps": int(model.num_timesteps), "wall_s": previous.get("wall_s", 0.0) + wall,
        "commands": config.get("commands", []), "best_checkpoint": best_path.name,
        "imitation": imitation or previous.get("imitation"),
        "best_val": min(curve, key=validation.score) if curve else None,
    }
    export_net(best.policy.pointer_net, out / "model.onnx", graph.metadata(), env_id, config.get("env_kwargs", {}),
               extra={"commands": summary["commands"], "seed": seed, "timesteps": summary["timesteps"],
                      "checkpoint": best_path.name, "policy": config.get("policy", {})})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if curve:
        plot_validation_curve(curve, validation.metric, out / "eval_curve.png", f"{env_id}: {out.name}")
    best_value = summary["best_val"][validation.metric] if curve else "n/a"
    print(f"trained {summary['timesteps']} steps in {summary['wall_s']:.0f} s; best validation "
          f"{validation.metric}: {best_value}; wrote {out}/model.onnx")
    return summary


__all__ = [
    "load_config", "set_override", "config_path", "InstancePool", "make_vec_env", "net_action", "validation_instances", "rollout_metrics", "ProgressCallback",
    "EnvMetricsCallback", "ValidationCallback", "dump_config", "train",
]
