"""Speed of ``schedgym/SoCDAG-v0``: env steps and scheduling decisions per wall second, and
simulated chip time per wall time, for several schedulers on the same workloads in one run;
then the headless compiled core (:mod:`envs.soc.fastsim`) next to env + baseline for each
rule it has, on every test set.

Run: ``python -m benchmarks.soc_speed [--episodes 2] [--instances 2]``. Ratios compare rows
measured side by side; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

from schedgym import baselines
from schedgym import envs  # noqa: F401
from schedgym.envs.soc import fastsim
from schedgym.envs.soc.env import SoCDAGEnv

ENV_SETS = ("stream-light-noise0.2", "stream-heavy-noise0.2", "static-apps")
ENV_POLICIES = ("random", "fifo", "heft_rt", "heft")
MIN_FAST_WALL_S = 0.3  # repeat the headless episodes until timings are this long


def measure(env_kwargs: dict, instances, policy_name: str, seeds: range) -> dict[str, float]:
    """Env + baseline: every (instance, seed) episode once, reset and scheduling included."""
    env = gym.make("schedgym/SoCDAG-v0", **env_kwargs)
    policy = baselines.make("schedgym/SoCDAG-v0", policy_name)
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


def measure_fast(env_kwargs: dict, instances, rule: str, seeds: range) -> dict[str, float]:
    """Headless core: the same episodes, each a whole :func:`fastsim.simulate` call (checks,
    flattening, noise draw, compiled run), repeated until the wall time is measurable."""
    decisions = passes = 0
    sim_us = wall = 0.0
    while passes < 3 or wall < MIN_FAST_WALL_S:
        for inst in instances:
            for seed in seeds:
                t0 = time.perf_counter()
                out = fastsim.simulate(inst, rule, seed=seed, **env_kwargs)
                wall += time.perf_counter() - t0
                sim_us += out["time"]
                decisions += out["decisions"]
        passes += 1
    return {"decisions_per_s": decisions / wall, "sim_us_per_wall_us": sim_us / (wall * 1e6),
            "wall_s": wall / passes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2, help="seeds per instance")
    parser.add_argument("--instances", type=int, default=2, help="instances per test set")
    args = parser.parse_args(argv)
    seeds = range(args.episodes)
    sets = {name: SoCDAGEnv.load_instance_set(name) for name in SoCDAGEnv.instance_sets()}

    env_rows: dict[tuple[str, str], dict[str, float]] = {}

    def env_row(set_name: str, policy: str) -> dict[str, float]:
        """Env + baseline measured once per (set, policy), shared by both tables."""
        if (set_name, policy) not in env_rows:
            st = sets[set_name]
            env_rows[set_name, policy] = measure(st.env_kwargs, st.instances[: args.instances],
                                                 policy, seeds)
        return env_rows[set_name, policy]

    rows = [(s, p, env_row(s, p)) for s in ENV_SETS for p in ENV_POLICIES]
    base = {s: r for s, p, r in rows if p == "random"}
    print("| test set | scheduler | env steps/s | decisions/s | simulated µs per wall µs "
          "| wall time vs random |")
    print("|---|---|---:|---:|---:|---:|")
    for set_name, policy, r in rows:
        print(f"| {set_name} | {policy} | {r['steps_per_s']:,.0f} | {r['decisions_per_s']:,.0f} "
              f"| {r['sim_us_per_wall_us']:.2f} | {r['wall_s'] / base[set_name]['wall_s']:.2f}× |")

    compile_s = fastsim.warm_up()  # compile (or load numba's on-disk cache) before timing
    print(f"\nHeadless core (envs.soc.fastsim) vs env + baseline, same instances and seeds; "
          f"numba compile excluded from the timings (warm-up took {compile_s:.2f} s; it is "
          f"cached on disk after the first run).")
    print("| test set | rule | env decisions/s | fastsim decisions/s | env sim µs per wall µs "
          "| fastsim sim µs per wall µs | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for set_name, st in sets.items():
        for rule in fastsim.RULES:
            env = env_row(set_name, rule)
            fast = measure_fast(st.env_kwargs, st.instances[: args.instances], rule, seeds)
            print(f"| {set_name} | {rule} | {env['decisions_per_s']:,.0f} "
                  f"| {fast['decisions_per_s']:,.0f} | {env['sim_us_per_wall_us']:.2f} "
                  f"| {fast['sim_us_per_wall_us']:.2f} "
                  f"| {fast['decisions_per_s'] / env['decisions_per_s']:,.0f}× |")


if __name__ == "__main__":
    main()
