"""A lower bound on the episode objective of ``schedgym/IoTPlacement-v0``, for certified gaps.

Relaxation: every task is placed at its own first epoch on an otherwise empty network (no flow
ahead of it on any link, every core free, memory unlimited). Contention only delays a task's
input, run and result, and its energy does not depend on it (dynamic energy is its run time ×
the per-core power, radio energy its transfer time × the radio power), so no schedule charges a
task less than the cheapest node gives it in the relaxation. A task may also be dropped, which
costs at least ``response_weight × deadline + miss_weight + drop_weight`` (it waits until its
deadline has passed). Summing each task's cheaper option bounds every policy's objective from
below, episode-wide; the gap of a policy to it is an upper bound on its gap to the optimum.

Run: ``python -m schedgym.baselines.iot.bound --instances small-tree-light,small-tree-heavy``
prints the mean bound of each fixed set, with the env's default weights and its set arguments.
"""

from __future__ import annotations

import argparse

import numpy as np

from schedgym.envs.iot.sim import IoTSim, Weights
from schedgym.envs.iot.types import IoTInstance


def task_bounds(instance: IoTInstance, decision_interval: float, weights: Weights = Weights()) -> np.ndarray:
    """The least cost each task can be charged, (M,) float64 (module docstring)."""
    sim = IoTSim(instance, decision_interval, weights=weights)  # its routes and epoch rule
    topo, routes = instance.topology, sim.routes
    epochs = np.array([sim.epoch_of(float(t)) for t in instance.arrival])
    rows = routes.device_row[instance.device]
    latency, bottleneck = routes.latency[rows], routes.bottleneck[rows]  # (M, K)
    transfer = instance.input_bits[:, None] / bottleneck
    run = instance.cycles[:, None] / topo.freq_hz[None, :]
    back = epochs[:, None] + transfer + latency + run + latency + instance.output_bits[:, None] / bottleneck
    response = back - instance.arrival[:, None]
    dynamic = (topo.p_max_w - topo.p_idle_w) / topo.cores
    energy = dynamic[None, :] * run + topo.tx_power_w[instance.device][:, None] * transfer
    cost = (weights.response * response + weights.miss * (response > instance.deadline_s[:, None])
            + weights.energy * energy)
    placed = np.where(routes.runnable[rows], cost, np.inf).min(axis=1)
    dropped = weights.response * instance.deadline_s + weights.miss + weights.drop
    return np.minimum(placed, dropped)


def episode_bound(instance: IoTInstance, decision_interval: float, weights: Weights = Weights()) -> float:
    """A lower bound on the objective of any episode on ``instance``."""
    return float(task_bounds(instance, decision_interval, weights).sum())


def main(argv: list[str] | None = None) -> int:
    import gymnasium as gym

    import schedgym  # noqa: F401  (registers the env)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", required=True, help="comma-separated fixed IoT instance sets")
    args = parser.parse_args(argv)
    print("| set | instances | mean lower bound of the objective |\n|---|---:|---:|")
    for name in args.instances.split(","):
        env = gym.make("schedgym/IoTPlacement-v0").unwrapped
        instance_set = env.load_instance_set(name)
        env = gym.make("schedgym/IoTPlacement-v0", **instance_set.env_kwargs).unwrapped
        bounds = [episode_bound(inst, env.decision_interval, env.weights) for inst in instance_set.instances]
        print(f"| {name} | {len(bounds)} | {np.mean(bounds):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
