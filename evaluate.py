"""Leaderboard: compare schedulers on fixed instance sets of a SchedGym env.

Policies are the env's baseline names, trained policies (``.onnx`` files, or ``.zip`` checkpoints
from ``train.py``, which are unpickled: load only trusted ones) and ``pretrained:NAME``. With
``--best-of K`` every learned policy also runs as ``NAME best-of-K``: K rollouts on copies of the
env (one greedy, the rest sampled, at ``--temperature``), the best replayed (envs with known
dynamics only); with ``--pilot ExW[xK]`` as ``NAME pilot-ExW[xK]``, a beam search of width W
over its E likeliest actions per step, each scored by the best of K completions by the policy
(``policies.pilot``).

With ``--out`` each episode's row is appended to the CSV as soon as the episode ends (safe
against kills and concurrent runs, see ``policies.evaluation.ResultsFile``); ``--resume`` runs only
the episodes the file does not hold yet, and the tables then cover its rows too. ``--render DIR``
saves a picture of each (policy, instance) episode at the first seed (the env's
``render_mode="rgb_array"``).

With ``--backend ray`` the episodes run on Ray actors (``--address auto`` or ``ray://HOST:PORT``
joins a cluster, else a local Ray starts), each actor loading the policies once; rows and tables
are those of the local run but for the wall times (``policies.distributed``).

Example:
    python evaluate.py --env schedgym/VMReschedule-v2 --instances small-test \\
        --policies random,greedy,cpsat,pop --out results.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=_catalogue(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, choices=envs.ENV_IDS, help="registered env id")
    parser.add_argument("--instances", required=True,
                        help="comma-separated fixed instance sets, e.g. small-test")
    parser.add_argument("--policies", default="random",
                        help="comma-separated baseline names, .zip/.onnx policy files, pretrained:NAME "
                             "or, for IoT, the RL + ACO hybrid rl_aco[:POLICY] (default: random)")
    parser.add_argument("--seeds", default="0", help="comma-separated episode seeds (default: 0)")
    parser.add_argument("--best-of", type=int, default=1, metavar="K",
                        help="also run each learned policy as the best of K rollouts (K > 1; default: 1)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="softmax temperature of the sampled best-of-K rollouts (default: 1.0)")
    parser.add_argument("--pilot", metavar="ExW[xK]",
                        help="also run each learned policy as a pilot search: a beam of width W "
                             "over its E likeliest actions per step, each scored by the best of "
                             "the policy's greedy completion and K-1 sampled ones (e.g. 8x1x8; "
                             "envs with known dynamics only)")
    parser.add_argument("--out", type=Path,
                        help="append one CSV row per episode here as it ends (refused if the file "
                             "already holds rows, unless --resume)")
    parser.add_argument("--resume", action="store_true",
                        help="with --out: skip the episodes the file already holds and add the rest")
    parser.add_argument("--plot", type=Path, help="save a bar chart of the metrics here (.png)")
    parser.add_argument("--render", type=Path, metavar="DIR",
                        help="also save a picture of each (policy, instance) episode at the first "
                             "seed: DIR/<set>/<instance>__<policy>.png")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="run the episodes in this process or on Ray actors (the same rows; "
                             "needs schedgym[ray]; default: local)")
    parser.add_argument("--address",
                        help="with --backend ray: the cluster to join (auto, HOST:PORT or "
                             "ray://HOST:PORT; default: start a local Ray)")
    parser.add_argument("--workers", type=int,
                        help="with --backend ray: Ray actors (default: one per CPU of the cluster)")
    return parser


def parse_args(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    try:
        args.seeds = [int(seed) for seed in _split(args.seeds)]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not args.seeds:
        parser.error("--seeds names no seed")
    if args.pilot is not None:
        try:
            args.pilot = tuple(int(part) for part in args.pilot.lower().split("x"))
        except ValueError:
            args.pilot = ()
        if len(args.pilot) not in (2, 3) or min(args.pilot) < 1:
            parser.error("--pilot must be EXPANDxWIDTH or EXPANDxWIDTHxSAMPLES of positive "
                         f"integers, e.g. 4x4, got {args.pilot!r}")
    if args.resume and not args.out:
        parser.error("--resume needs --out, the results file to complete")
    if args.backend != "ray" and (args.address or args.workers is not None):
        parser.error("--address and --workers need --backend ray")
    return args


def fail(parser: argparse.ArgumentParser, error: Exception) -> NoReturn:
    """Exits with status 2 and ``PROG: error: MESSAGE``, as argparse does for bad arguments."""
    parser.exit(2, f"{parser.prog}: error: {error}\n")


def _runner(args: argparse.Namespace):  # noqa: ANN202  (RayEpisodes | None; Ray is optional)
    """The Ray actors of ``--backend ray``, loading the same policies as this process."""
    if args.backend == "local":
        return None
    from schedgym.policies.distributed import RayEpisodes

    return RayEpisodes(args.env, _split(args.policies), args.best_of, args.temperature,
                       address=args.address, workers=args.workers, pilot=args.pilot)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(argv, parser)
    from schedgym.policies import evaluation

    try:
        schedulers, learned = evaluation.build_schedulers(args.env, _split(args.policies), args.best_of,
                                                          args.temperature, args.pilot)
        instance_sets = evaluation.load_instance_sets(args.env, _split(args.instances))
        evaluation.check_policies_fit(args.env, instance_sets, learned)
        runner = _runner(args)
    except ValueError as error:
        fail(parser, error)
    metrics = envs.env_class(args.env).leaderboard_metrics
    bounds = evaluation.bound_columns(args.env)
    out = None
    if args.out:
        try:
            columns = evaluation.result_columns(metrics, bounds.values())
            out = evaluation.ResultsFile(args.out, columns, resume=args.resume)
        except (ValueError, OSError) as error:
            fail(parser, error)
    tables = []
    for instance_set in instance_sets:
        results = evaluation.evaluate(args.env, instance_set, schedulers, args.seeds,
                                      progress=not args.no_progress, out=out, runner=runner)
        if out is not None:  # the file's rows of these episodes: this run's and earlier ones
            results = evaluation.select(out.read(), args.env, instance_set, list(schedulers), args.seeds)
        print(f"## {args.env} on {instance_set.name} ({len(instance_set.instances)} instances, "
              f"seeds {','.join(map(str, args.seeds))})\n")
        print(evaluation.leaderboard(results, metrics, bounds) + "\n")
        tables.append(results)
    results = pd.concat(tables, ignore_index=True)
    if runner is not None:
        runner.close()
    if out is not None:
        out.close()
        print(f"{args.out}: wrote {out.written} new rows, {len(results) - out.written} already present")
    if args.plot:
        evaluation.plot_leaderboard(results, metrics, str(args.plot))
        print(f"saved the chart to {args.plot}")
    if args.render:
        pictures = [path for instance_set in instance_sets for path in evaluation.render_episodes(
            args.env, instance_set, schedulers, args.seeds[0], args.render,
            progress=not args.no_progress)]
        print(f"saved {len(pictures)} pictures under {args.render}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
