"""Leaderboard: compare schedulers on fixed instance sets of a SchedGym env.

Policies are the env's baseline names, trained policies (``.onnx`` files, or ``.zip`` checkpoints
from ``train.py``, which are unpickled: load only trusted ones) and ``pretrained:NAME``. With
``--best-of K`` every learned policy also runs as ``NAME best-of-K``: K rollouts on copies of the
env (one greedy, the rest sampled, at ``--temperature``), the best replayed (envs with known
dynamics only).

Example:
    python evaluate.py --env schedgym/VMReschedule-v1 --instances small-test \\
        --policies random,greedy,cpsat,pretrained:vm --out results.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from schedgym import baselines, envs
from schedgym.data.instance_sets import set_names
from schedgym.policies.scheduler import pretrained_names


def _catalogue() -> str:
    """What each env offers, for ``--help``: baselines, instance sets, pretrained policies."""
    lines = ["what each env offers:"]
    for env_id in envs.ENV_IDS:
        key = envs.env_key(env_id)
        lines += [f"  {env_id}",
                  f"    baselines:      {', '.join(baselines.names(env_id))}",
                  f"    instance sets:  {', '.join(set_names(key)) or 'none'}",
                  f"    pretrained:     {', '.join(pretrained_names(env_id)) or 'none'}"]
    return "\n".join(lines)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=_catalogue(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, choices=envs.ENV_IDS, help="registered env id")
    parser.add_argument("--instances", required=True,
                        help="comma-separated fixed instance sets, e.g. small-test")
    parser.add_argument("--policies", default="random",
                        help="comma-separated baseline names, .zip/.onnx policy files or pretrained:NAME "
                             "(default: random)")
    parser.add_argument("--seeds", default="0", help="comma-separated episode seeds (default: 0)")
    parser.add_argument("--best-of", type=int, default=1, metavar="K",
                        help="also run each learned policy as the best of K rollouts (K > 1; default: 1)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="softmax temperature of the sampled best-of-K rollouts (default: 1.0)")
    parser.add_argument("--out", type=Path, help="write one CSV row per episode here")
    parser.add_argument("--plot", type=Path, help="save a bar chart of the metrics here (.png)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        args.seeds = [int(seed) for seed in _split(args.seeds)]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not args.seeds:
        parser.error("--seeds names no seed")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from schedgym.policies import evaluation

    try:
        schedulers, learned = evaluation.build_schedulers(args.env, _split(args.policies), args.best_of,
                                                          args.temperature)
        instance_sets = evaluation.load_instance_sets(args.env, _split(args.instances))
        evaluation.check_policies_fit(args.env, instance_sets, learned)
    except ValueError as error:
        sys.exit(f"error: {error}")
    metrics = envs.env_class(args.env).leaderboard_metrics
    tables = []
    for instance_set in instance_sets:
        results = evaluation.evaluate(args.env, instance_set, schedulers, args.seeds,
                                      progress=not args.no_progress)
        print(f"## {args.env} on {instance_set.name} ({len(instance_set.instances)} instances, "
              f"seeds {','.join(map(str, args.seeds))})\n")
        print(evaluation.leaderboard(results, metrics) + "\n")
        tables.append(results)
    results = pd.concat(tables, ignore_index=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results.to_csv(args.out, index=False)
        print(f"wrote {len(results)} rows to {args.out}")
    if args.plot:
        evaluation.plot_leaderboard(results, metrics, str(args.plot))
        print(f"saved the chart to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
