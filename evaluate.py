"""Leaderboard: compare schedulers on fixed instance sets of a SchedGym env.

Policies are baseline names, trained policies (``.onnx`` files, or ``.zip`` checkpoints from
``train.py``, which are unpickled: load only trusted ones) and ``pretrained:NAME``. With
``--best-of K`` every learned policy also runs as ``NAME best-of-K``: K rollouts on copies of the
env (one greedy, the rest sampled, at ``--temperature``), the best replayed (envs with known
dynamics only).

Example:
    python evaluate.py --env schedgym/VMReschedule-v1 --instances small-test \\
        --policies random,greedy,cpsat,pretrained:vm --out results.csv
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pandas as pd

from schedgym import baselines
from schedgym import envs  # registers the env ids
from schedgym.baselines.evaluation import evaluate, leaderboard, plot_leaderboard
from schedgym.policies.sampling import BestOfKScheduler
from schedgym.policies.scheduler import is_learned, load_policy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, choices=envs.ENV_IDS, help="registered env id")
    parser.add_argument("--instances", required=True,
                        help="comma-separated fixed instance sets, e.g. small-test")
    parser.add_argument("--policies", default="random",
                        help="comma-separated baseline names, .zip/.onnx policy files or pretrained:NAME")
    parser.add_argument("--seeds", default="0", help="comma-separated episode seeds")
    parser.add_argument("--best-of", type=int, default=1, metavar="K",
                        help="also run each learned policy as the best of K rollouts (K > 1)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="softmax temperature of the sampled best-of-K rollouts")
    parser.add_argument("--out", type=Path, help="write one CSV row per episode here")
    parser.add_argument("--plot", type=Path, help="save a bar chart of the metrics here (.png)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def build_schedulers(policies: str, env_id: str, best_of: int = 1,
                     temperature: float = 1.0) -> tuple[dict[str, Callable], dict[str, Any]]:
    """Scheduler factories by label for a comma-separated list of policies, and the learned
    policies among them (loaded once); exits with a message on any bad name or file. With
    ``best_of > 1`` each learned policy also gets a best-of-K entry sampling at ``temperature``."""
    if best_of < 1:
        sys.exit(f"error: --best-of must be at least 1, got {best_of}")
    if not temperature > 0:
        sys.exit(f"error: --temperature must be positive, got {temperature}")
    if best_of > 1 and not envs.env_class(env_id).known_dynamics:
        sys.exit(f"error: --best-of needs an env the scheduler can simulate; {env_id} has hidden randomness")
    schedulers, learned = {}, {}
    for name in filter(None, (part.strip() for part in policies.split(","))):
        if is_learned(name):
            try:
                policy = load_policy(name)  # loaded once; a fresh light scheduler per episode
            except (FileNotFoundError, ValueError) as error:
                sys.exit(f"error: {error}")
            if not policy.supports(env_id):
                sys.exit(f"error: policy {name!r} was trained for {policy.env_id}, not {env_id}")
            schedulers[name], learned[name] = policy.scheduler, policy
            if best_of > 1:
                entry = functools.partial(BestOfKScheduler, policy, best_of, temperature)
                schedulers[entry().name] = entry
            continue
        if name not in baselines.names():
            sys.exit(f"error: unknown policy {name!r}; baselines: {', '.join(baselines.names())}")
        if not baselines.supports(name, env_id):
            sys.exit(f"error: baseline {name!r} does not support {env_id}")
        schedulers[name] = functools.partial(baselines.make, name)
    return schedulers, learned


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env_class = envs.env_class(args.env)
    set_names = [name.strip() for name in args.instances.split(",") if name.strip()]
    if not set_names:
        sys.exit("error: --instances names no instance set")
    try:
        seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        sys.exit(f"error: --seeds must be comma-separated integers, got {args.seeds!r}")
    if not seeds:
        sys.exit("error: --seeds names no seed")
    for name in set_names:
        if name not in env_class.instance_sets():
            sys.exit(f"error: {args.env} has no instance set {name!r}; "
                     f"available: {', '.join(env_class.instance_sets())}")
    schedulers, learned = build_schedulers(args.policies, args.env, args.best_of, args.temperature)
    instance_sets = [env_class.load_instance_set(name) for name in set_names]
    # A learned policy fits one observation size: refuse before any episode runs.
    for instance_set in instance_sets:
        probe = gym.make(args.env, **instance_set.env_kwargs)
        for label, policy in learned.items():
            try:
                policy.check(probe)
            except ValueError as error:
                sys.exit(f"error: {label} cannot run on {instance_set.name}: {error}")
        probe.close()
    tables = []
    for instance_set in instance_sets:
        results = evaluate(args.env, instance_set, schedulers, seeds, progress=not args.no_progress)
        print(f"## {args.env} on {instance_set.name} ({len(instance_set.instances)} instances, "
              f"seeds {args.seeds})\n")
        print(leaderboard(results, env_class.leaderboard_metrics) + "\n")
        tables.append(results)
    results = pd.concat(tables, ignore_index=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results.to_csv(args.out, index=False)
        print(f"wrote {len(results)} rows to {args.out}")
    if args.plot:
        plot_leaderboard(results, env_class.leaderboard_metrics, str(args.plot))
        print(f"saved the chart to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
