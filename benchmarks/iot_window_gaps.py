"""How far greedy, EDF and ACO are from optimal on the decision windows of IoT instances.

Runs ``cpsat`` (exact per window) through each instance of a set and, on every window it plans,
also evaluates on the same state, with the env's own rules (``baselines.iot.window``): greedy
(arrival order, earliest result back), EDF (deadline order, same rule) and ACO (its own
pheromone carried over the windows it sees). Prints per instance the windows, their tasks, the
share of windows CP-SAT proved optimal, the summed window objective of each and its gap to the
summed optimum, and the share of windows where each is optimal (within CP-SAT's rounding
tolerance). These are per-window gaps on the same states, not episode results: a window's
placements also change the states later windows start from.

Run: ``python -m benchmarks.iot_window_gaps [--instances small-tree-light]
[--decision-interval 0.05] [--count 5]``.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

from schedgym.baselines.iot.aco import ACOScheduler
from schedgym.baselines.iot.cpsat import CpSatWindowScheduler, tolerance
from schedgym.baselines.iot.window import Window, edf_positions, evaluate, greedy_sequence
from schedgym.envs.iot.env import IoTPlacementEnv

ENV_ID = "schedgym/IoTPlacement-v0"
RIVALS = ("greedy", "edf", "aco")


class _Probe(CpSatWindowScheduler):
    """CP-SAT that also scores the rivals on every window it plans."""

    def __init__(self, aco: ACOScheduler) -> None:
        super().__init__()
        self.aco = aco
        self.rows: list[dict[str, float]] = []

    def plan(self, window: Window) -> tuple[list[tuple[int, int]], object]:
        sequence, report = super().plan(window)
        self.rows.append({
            "tasks": window.size, "optimal": report.status == "optimal", "cpsat": report.objective,
            "tolerance": tolerance(window),
            "greedy": evaluate(window, greedy_sequence(window)).cost,
            "edf": evaluate(window, greedy_sequence(window, edf_positions(window))).cost,
            "aco": self.aco.plan(window)[1].objective,
        })
        return sequence, report


def run_instance(env: gym.Env, instance, seed: int) -> list[dict[str, float]]:  # noqa: ANN001
    """Every window of one episode of ``cpsat`` on ``instance``, with the rivals' costs."""
    env.reset(seed=seed, options={"instance": instance})
    aco = ACOScheduler()
    aco.reset(env, seed=seed)
    probe = _Probe(aco)
    probe.reset(env, seed=seed)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(probe.act(env))
        done = terminated or truncated
    return probe.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="small-tree-light")
    parser.add_argument("--decision-interval", type=float, default=0.05)
    parser.add_argument("--count", type=int, default=5, help="first N instances of the set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    instance_set = IoTPlacementEnv.load_instance_set(args.instances)
    env = gym.make(ENV_ID, **{**instance_set.env_kwargs, "decision_interval": args.decision_interval})
    print(f"{args.instances}, decision_interval {args.decision_interval} s: Σ window objective "
          "(gap to Σ optimum) and share of windows solved optimally\n")
    print("| instance | windows | tasks/window (max) | proven optimal | optimum | "
          + " | ".join(RIVALS) + " |")
    print("|---|---|---|---|---|" + "---|" * len(RIVALS))
    for instance in instance_set.instances[:args.count]:
        rows = run_instance(env, instance, args.seed)
        tasks = np.array([r["tasks"] for r in rows])
        best = sum(r["cpsat"] for r in rows)
        cells = []
        for rival in RIVALS:
            total = sum(r[rival] for r in rows)
            hits = np.mean([r[rival] <= r["cpsat"] + r["tolerance"] for r in rows])
            cells.append(f"{total:.3f} (+{100 * (total / best - 1):.2f}%, {100 * hits:.0f}% opt.)")
        proven = np.mean([r["optimal"] for r in rows])
        print(f"| {instance.name} | {len(rows)} | {tasks.mean():.1f} ({tasks.max()}) | "
              f"{100 * proven:.0f}% | {best:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
