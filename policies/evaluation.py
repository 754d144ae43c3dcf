"""The leaderboard: run schedulers (baselines and learned policies alike) on fixed instance sets
and summarise the env's metrics.

:func:`build_schedulers` turns policy names into scheduler factories and :func:`load_instance_sets`
checks set names; both raise ``ValueError`` with a message for the user, so ``evaluate.py``,
notebooks and sweeps share them. Every episode is recorded with its action sequence, so any row
can be replayed and checked (``replay``): the same instance, seed and actions must give the same
metrics.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from tqdm import tqdm

from schedgym import baselines, envs
from schedgym.baselines.base import Scheduler
from schedgym.data.instance_sets import InstanceSet


@dataclass
class EpisodeResult:
    """One episode of one scheduler on one instance.

    Attributes:
        metrics: The final ``info`` value of each of the env's ``leaderboard_metrics``.
        wall_s: Wall-clock seconds of the whole episode, the scheduler's planning included.
        actions: Every action taken, in order (for replay).
        solver_status: The scheduler's ``report.status`` if it reports one (exact solvers).
    """

    metrics: dict[str, float]
    wall_s: float
    actions: list[int] = field(default_factory=list)
    solver_status: str = ""


def build_schedulers(env_id: str, policies: Sequence[str], best_of: int = 1,
                     temperature: float = 1.0) -> tuple[dict[str, Callable[[], Scheduler]], dict[str, Any]]:
    """Scheduler factories by label, and the learned policies among them (each loaded once).

    Args:
        env_id: The env the schedulers will run on.
        policies: Baseline names of ``env_id``, ``.onnx``/``.zip`` policy files or
            ``pretrained:NAME``.
        best_of: With ``K > 1``, each learned policy also gets a ``NAME best-of-K`` entry: K
            rollouts, one greedy and the rest sampled, the best replayed (known dynamics only).
        temperature: Softmax temperature of the sampled best-of-K rollouts.

    Raises:
        ValueError: On an unknown name, a missing or corrupt file, a policy trained for another
            env, or a bad ``best_of``/``temperature``; the message says which.
    """
    from schedgym.policies.sampling import BestOfKScheduler
    from schedgym.policies.scheduler import is_learned, load_policy

    if best_of < 1:
        raise ValueError(f"--best-of must be at least 1, got {best_of}")
    if not temperature > 0:
        raise ValueError(f"--temperature must be positive, got {temperature}")
    if best_of > 1 and not envs.env_class(env_id).known_dynamics:
        raise ValueError(f"--best-of needs an env the scheduler can simulate; {env_id} has hidden randomness")
    if not policies:
        raise ValueError("no policy given")
    schedulers: dict[str, Callable[[], Scheduler]] = {}
    learned: dict[str, Any] = {}
    for name in policies:
        if is_learned(name):
            try:
                policy = load_policy(name)  # loaded once; a fresh light scheduler per episode
            except FileNotFoundError as error:
                raise ValueError(str(error)) from None
            if not policy.supports(env_id):
                raise ValueError(f"policy {name!r} was trained for {policy.env_id}, not {env_id}")
            schedulers[name], learned[name] = policy.scheduler, policy
            if best_of > 1:
                entry = functools.partial(BestOfKScheduler, policy, best_of, temperature)
                schedulers[entry().name] = entry
        elif name in baselines.names(env_id):
            schedulers[name] = functools.partial(baselines.make, env_id, name)
        else:
            raise ValueError(f"unknown policy {name!r}; the baselines of {env_id}: "
                             f"{', '.join(baselines.names(env_id))} (or a .onnx/.zip file, pretrained:NAME)")
    return schedulers, learned


def load_instance_sets(env_id: str, names: Sequence[str]) -> list[InstanceSet]:
    """The fixed instance sets ``names`` of ``env_id``.

    Raises:
        ValueError: If no name is given or a set does not exist; the message lists the sets.
    """
    env_class = envs.env_class(env_id)
    if not names:
        raise ValueError("no instance set given")
    for name in names:
        if name not in env_class.instance_sets():
            raise ValueError(f"{env_id} has no instance set {name!r}; available: "
                             f"{', '.join(env_class.instance_sets())}")
    return [env_class.load_instance_set(name) for name in names]


def check_policies_fit(env_id: str, instance_sets: Sequence[InstanceSet], learned: dict[str, Any]) -> None:
    """Raises ``ValueError`` unless every learned policy fits every set's observation size (a
    policy fits one N_MAX): checked before any episode runs."""
    for instance_set in instance_sets:
        probe = gym.make(env_id, **instance_set.env_kwargs)
        try:
            for label, policy in learned.items():
                try:
                    policy.check(probe)
                except ValueError as error:
                    raise ValueError(f"{label} cannot run on {instance_set.name}: {error}") from None
        finally:
            probe.close()


def run_episode(env: gym.Env, scheduler: Scheduler, instance: Any, seed: int) -> EpisodeResult:
    """Runs ``scheduler`` on ``instance`` until the episode ends."""
    metric_names = env.unwrapped.leaderboard_metrics
    start = time.perf_counter()
    _, info = env.reset(seed=seed, options={"instance": instance})
    scheduler.reset(env, seed=seed)
    actions, done = [], False
    while not done:
        action = int(scheduler.act(env))
        actions.append(action)
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    wall_s = time.perf_counter() - start
    report = getattr(scheduler, "report", None)
    return EpisodeResult(
        metrics={name: float(info[name]) for name in metric_names},
        wall_s=wall_s,
        actions=actions,
        solver_status=getattr(report, "status", ""),
    )


def replay(env: gym.Env, instance: Any, seed: int, actions: Sequence[int]) -> dict[str, float]:
    """Replays a recorded action sequence and returns the final metrics."""
    _, info = env.reset(seed=seed, options={"instance": instance})
    for action in actions:
        _, _, terminated, truncated, info = env.step(int(action))
        if terminated or truncated:
            break
    return {name: float(info[name]) for name in env.unwrapped.leaderboard_metrics}


def evaluate(
    env_id: str,
    instance_set: InstanceSet,
    schedulers: dict[str, Callable[[], Scheduler]],
    seeds: Iterable[int] = (0,),
    progress: bool = True,
) -> pd.DataFrame:
    """Runs every scheduler on every instance with every seed.

    Args:
        env_id: Registered env id.
        instance_set: The instances and the env arguments they need.
        schedulers: Label -> factory of a fresh scheduler (one per episode: no state leaks).
        seeds: Seeds of the episodes (env and scheduler alike).
        progress: Show a progress bar.

    Returns:
        One row per (env_id, instance_set, instance, policy, seed): the metrics, ``wall_s``,
        ``solver_status`` and the space-separated ``actions``.
    """
    env = gym.make(env_id, **instance_set.env_kwargs)
    seeds = list(seeds)
    jobs = [(i, inst, label, seed) for i, inst in enumerate(instance_set.instances)
            for label in schedulers for seed in seeds]
    rows = []
    for index, instance, label, seed in tqdm(jobs, desc=f"{env_id} {instance_set.name}", disable=not progress):
        result = run_episode(env, schedulers[label](), instance, seed)
        rows.append(
            {
                "env_id": env_id,
                "instance_set": instance_set.name,
                "instance": getattr(instance, "name", "") or f"{instance_set.name}/{index}",
                "policy": label,
                "seed": seed,
                **result.metrics,
                "wall_s": result.wall_s,
                "solver_status": result.solver_status,
                "actions": " ".join(map(str, result.actions)),
            }
        )
    env.close()
    return pd.DataFrame(rows)


def leaderboard(results: pd.DataFrame, metrics: Sequence[str]) -> str:
    """A Markdown table: per policy, mean ± std over instances and seeds of each metric and of
    the wall time per episode, in the order the policies first appear."""
    columns = [*metrics, "wall_s"]
    header = "| policy | episodes | " + " | ".join(columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 2)]
    for policy, group in results.groupby("policy", sort=False):
        cells = [_mean_std(group[column].to_numpy(float)) for column in columns]
        lines.append(f"| {policy} | {len(group)} | " + " | ".join(cells) + " |")
    statuses = results[results["solver_status"] != ""]
    if len(statuses):
        counts = statuses.groupby(["policy", "solver_status"]).size()
        lines.append("")
        lines.append("Solver status: " + ", ".join(f"{p} {s} × {n}" for (p, s), n in counts.items()))
    return "\n".join(lines)


def plot_leaderboard(results: pd.DataFrame, metrics: Sequence[str], path: str) -> None:
    """Saves bar charts, one row per instance set and one column per metric (mean per policy,
    std as error bar), as an image."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    sets = list(results["instance_set"].unique())
    figure, axes = plt.subplots(
        len(sets), len(metrics), figsize=(3.2 * len(metrics), 3.0 * len(sets)), squeeze=False
    )
    for row, set_name in zip(axes, sets):
        grouped = results[results["instance_set"] == set_name].groupby("policy", sort=False)
        for axis, metric in zip(row, metrics):
            means, stds = grouped[metric].mean(), grouped[metric].std(ddof=0)
            axis.bar(means.index, means.to_numpy(), yerr=stds.to_numpy(), capsize=3, color="#4c72b0")
            axis.set_title(f"{set_name}: {metric}", fontsize=9)
            axis.tick_params(axis="x", rotation=45, labelsize=8)
    figure.suptitle(f"{results['env_id'].iloc[0]} (mean ± std over instances and seeds)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _mean_std(values: np.ndarray) -> str:
    """``mean ± std`` with decimals by magnitude: 4 below 1, 2 below 100, 1 above."""
    mean, std = values.mean(), values.std()
    decimals = 4 if abs(mean) < 1 else 2 if abs(mean) < 100 else 1
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"
