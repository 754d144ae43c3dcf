"""Speed of ``schedgym/IoTPlacement-v0``'s headless path (:mod:`envs.iot.fastsim`) next to the
env stepped with observations, for every rule baseline on the same instances in one run.

Both columns run whole leaderboard episodes (``policies.evaluation.run_episode``, reset
included) of the same instances with the same rule and give the same results bit for bit; the
env column (``headless=False``) encodes an observation every step. The
two are measured alternately ``--repeats`` times and the best pass of each is kept, so that a
load change on a shared machine hits both; CPU seconds are printed beside wall seconds.

Run: ``python -m benchmarks.iot_speed [--instances 2] [--repeats 2] [--sets ...]
[--rules ...]``. Ratios compare rows measured side by side; absolute numbers depend on the
machine.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.envs.iot.env import IoTPlacementEnv
from schedgym.envs.iot.fastsim import RULES
from schedgym.envs.iot.types import IoTInstance
from schedgym.policies.evaluation import run_episode

ENV_ID = "schedgym/IoTPlacement-v0"
SETS = ("small-tree-heavy", "small-mesh-bursty", "medium-mesh-medium")


def time_episodes(env: gym.Env, instances: list[IoTInstance], rule: str,
                  headless: bool) -> tuple[float, float, int]:
    """Wall s, CPU s and steps of one leaderboard episode (``run_episode``: reset included) per
    instance, stepping ``env`` with observations or on the headless path."""
    wall, cpu, steps = time.perf_counter(), time.process_time(), 0
    for instance in instances:
        result = run_episode(env, baselines.make(ENV_ID, rule), instance, 0, headless=headless)
        steps += len(result.actions)
    return time.perf_counter() - wall, time.process_time() - cpu, steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2, help="instances per test set")
    parser.add_argument("--repeats", type=int, default=2, help="alternating passes (best kept)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated test sets")
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated rule baselines")
    args = parser.parse_args(argv)
    if args.instances < 1 or args.repeats < 1:
        parser.error("--instances and --repeats must be at least 1")
    rules = [rule for rule in args.rules.split(",") if rule]
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        parser.error(f"--rules: {', '.join(unknown)} not among {', '.join(RULES)}")
    print("| test set | rule | tasks | env steps | env tasks/s (wall) | headless tasks/s (wall) "
          "| env µs/step | headless µs/step | speed-up (wall) | speed-up (CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for set_name in args.sets.split(","):
        st = IoTPlacementEnv.load_instance_set(set_name)
        instances = list(st.instances[:args.instances])
        tasks = sum(instance.num_tasks for instance in instances)
        env = gym.make(ENV_ID, **st.env_kwargs)
        for rule in rules:
            best = {False: (float("inf"),) * 2, True: (float("inf"),) * 2}
            for _ in range(args.repeats):
                for headless in (False, True):
                    wall, cpu, steps = time_episodes(env, instances, rule, headless)
                    best[headless] = (min(best[headless][0], wall), min(best[headless][1], cpu))
            (env_wall, env_cpu), (fast_wall, fast_cpu) = best[False], best[True]
            print(f"| {set_name} | {rule} | {tasks:,} | {steps:,} | {tasks / env_wall:,.0f} "
                  f"| {tasks / fast_wall:,.0f} | {env_wall / steps * 1e6:,.1f} "
                  f"| {fast_wall / steps * 1e6:,.1f} | {env_wall / fast_wall:.1f}× "
                  f"| {env_cpu / fast_cpu:.1f}× |")
        env.close()


if __name__ == "__main__":
    main()
