"""Speed of ``schedgym/SoCDAG-v0``: env steps and scheduling decisions per wall second, and
simulated chip time per wall time, for several schedulers on the same workloads in one run.

Run: ``python -m benchmarks.soc_speed [--episodes 3]``. Ratios compare rows measured side by
side; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

import baselines
import envs  # noqa: F401
from envs.soc.env import SoCDAGEnv


def measure(env_kwargs: dict, instances, policy_name: str, seeds: range) -> dict[str, float]:
    env = gym.make("schedgym/SoCDAG-v0", **env_kwargs)
    policy = baselines.make(policy_name)
    steps = decisions = 0
    sim_us = wall = 0.0
    for inst in instances:
        for seed in seeds:
            t0 = time.perf_counter()
            env.reset(seed=seed, options={"instance": inst})
            policy.reset(env, seed)
            while True:
                _, _, term, trunc, info = env.step(policy.act(env))
                steps += 1
                if term or trunc:
                    break
            wall += time.perf_counter() - t0
            sim_us += info["time"]
            decisions += sum(j.n_tasks for j in inst.jobs)  # one decision per task placed
    return {"steps_per_s": steps / wall, "decisions_per_s": decisions / wall,
            "sim_us_per_wall_us": sim_us / (wall * 1e6), "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2, help="seeds per instance")
    parser.add_argument("--instances", type=int, default=2, help="instances per test set")
    args = parser.parse_args(argv)
    seeds = range(args.episodes)
    rows = []
    for set_name in ("stream-light-noise0.2", "stream-heavy-noise0.2", "static-apps"):
        st = SoCDAGEnv.load_instance_set(set_name)
        insts = st.instances[: args.instances]
        for policy in ("random", "fifo", "heft_rt", "heft"):
            rows.append((set_name, policy, measure(st.env_kwargs, insts, policy, seeds)))
    base = {s: r for s, p, r in rows if p == "random"}
    print("| test set | scheduler | env steps/s | decisions/s | simulated µs per wall µs "
          "| wall time vs random |")
    print("|---|---|---:|---:|---:|---:|")
    for set_name, policy, r in rows:
        print(f"| {set_name} | {policy} | {r['steps_per_s']:,.0f} | {r['decisions_per_s']:,.0f} "
              f"| {r['sim_us_per_wall_us']:.2f} | {r['wall_s'] / base[set_name]['wall_s']:.2f}× |")


if __name__ == "__main__":
    main()
