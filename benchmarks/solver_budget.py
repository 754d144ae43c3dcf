"""What the VM planners' deterministic budgets cost in wall time, and that they are reproducible.

``cpsat`` and ``pop`` stop on CP-SAT's deterministic time (a count of work done), not on the
clock. This measures, per instance, the deterministic time a plan used and its wall time, so the
ratio (deterministic s per wall s) says what a budget means on this machine; every plan is made
twice and the two must be identical (same moves, status, work), whatever the load.

Run: ``python -m benchmarks.solver_budget [--env schedgym/VMReschedule-v2] [--policy cpsat]
[--instances small-test] [--count 5] [--once]``; the table also says where cpsat's work went
(probes / placement rounds / sequence model) and the plan's FR against its bound.
"""

from __future__ import annotations

import argparse
import json

import gymnasium as gym
import numpy as np

from schedgym import baselines
from schedgym.data import instance_sets

ENV_ID = "schedgym/VMReschedule-v2"


def plan(env: gym.Env, policy_name: str, instance, kwargs: dict,
         env_id: str = ENV_ID) -> tuple[list[int], object]:
    """One plan of ``policy_name`` on ``instance``: its actions and its report."""
    scheduler = baselines.make(env_id, policy_name, **kwargs)
    env.reset(seed=0, options={"instance": instance})
    scheduler.reset(env, seed=0)
    actions = []
    while not actions or actions[-1] != 0:
        actions.append(scheduler.act(env))
    return actions, scheduler.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=ENV_ID)
    parser.add_argument("--once", action="store_true", help="plan once (no repeat check)")
    parser.add_argument("--first", type=int, default=0, help="index of the first instance")
    parser.add_argument("--policy", default="cpsat", choices=("cpsat", "pop"))
    parser.add_argument("--instances", default="small-test")
    parser.add_argument("--count", type=int, default=5, help="first N instances of the set")
    parser.add_argument("--work-limit", type=float, default=None,
                        help="budget in CP-SAT deterministic s (default: the policy's)")
    parser.add_argument("--kwargs", default="{}", help="more policy kwargs, as JSON")
    args = parser.parse_args()
    instance_set = instance_sets.load_named("vm", args.instances)
    env = gym.make(args.env, **instance_set.env_kwargs)
    kwargs = {} if args.work_limit is None else {"work_limit": args.work_limit}
    kwargs.update(json.loads(args.kwargs))
    print("| instance | status | moves | FR | bound | FR proven | deterministic s | work by stage "
          "| wall s | det. s per wall s | repeat identical |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    chosen = instance_set.instances[args.first: args.first + args.count]
    for i, instance in enumerate(chosen, start=args.first):
        first_actions, first = plan(env, args.policy, instance, kwargs, args.env)
        identical = "not checked"
        if not args.once:
            second_actions, second = plan(env, args.policy, instance, kwargs, args.env)
            identical = (first_actions == second_actions and first.status == second.status
                         and first.budget_used == second.budget_used)
        ratio = first.budget_used / first.wall_seconds if first.wall_seconds else float("nan")
        ratios.append(ratio)
        stages = ", ".join(f"{k} {v:.2f}" for k, v in first.extra.get("work_by_stage", {}).items())
        bound = "-" if first.bound is None else f"{first.bound:.4f}"
        print(f"| {i} | {first.status} | {first.extra['moves']} | {first.objective:.4f} | {bound} "
              f"| {first.extra.get('fr_optimal', '-')} "
              f"| {first.budget_used:.3f} | {stages or '-'} | {first.wall_seconds:.3f} "
              f"| {ratio:.2f} | {identical} |", flush=True)
    print(f"\nbudget {first.budget} {first.budget_unit}; median det. s per wall s: "
          f"{float(np.nanmedian(ratios)):.2f}")


if __name__ == "__main__":
    main()
