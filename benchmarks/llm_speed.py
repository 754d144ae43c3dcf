"""Speed of ``schedgym/LLMServe-v0``'s headless path (:func:`envs.llm.fastsim.run_headless`):
simulated requests per wall second for vLLM's FCFS and Sarathi-Serve near saturation, next to
the simulator's numpy reference (``compiled=False``, what the kernel replaced, bit-identical),
and the env step (observation encoding included) per decision next to a headless operation.

Workloads: the test set conv-rate3.5 (8 × 400 requests at 3.5 req/s) and, when the file exists,
a window of the Azure LLM 2023 conversation trace (``--trace``) scaled to about 3.5 req/s.

Run: ``python -m benchmarks.llm_speed [--trace-duration 900] [--repeats 3]``. The machine may be
shared: CPU seconds are printed beside wall seconds, and ratios compare rows measured side by side
in this run; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import gymnasium as gym

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.data.azure_llm import load_trace
from schedgym.data.instance_sets import load_named
from schedgym.envs.llm.fastsim import run_headless
from schedgym.envs.llm.generator import instance_from_trace
from schedgym.envs.llm.types import LLMInstance

ENV_ID = "schedgym/LLMServe-v0"
SCHEDULERS = ("fcfs", "sarathi")
CONV_TRACE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "azure_llm_2023" / "conv.csv"
TRACE_RATE_SCALE = 0.63  # the trace's 5.5 req/s × 0.63 ≈ 3.5 req/s, near vLLM's saturation here
ENV_STEPS = 2000  # env steps timed per scheduler (the first instance's episode, cut there)


def time_headless(instances: list[LLMInstance], name: str, repeats: int, compiled: bool = True) -> dict[str, float]:
    """Best of ``repeats`` passes of every instance through :func:`run_headless`."""
    best_wall = best_cpu = float("inf")
    ops = 0
    for _ in range(repeats):
        wall, cpu, ops = time.perf_counter(), time.process_time(), 0
        for instance in instances:
            _, steps = run_headless(instance, baselines.make(ENV_ID, name), compiled=compiled)
            ops += steps
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    requests = sum(instance.num_requests for instance in instances)
    return {"requests": requests, "ops": ops, "wall_s": best_wall, "cpu_s": best_cpu,
            "rps_wall": requests / best_wall, "rps_cpu": requests / best_cpu}


def time_env_step(instance: LLMInstance, name: str) -> float:
    """Seconds per env step (scheduler's choice included) over the first ``ENV_STEPS`` steps."""
    env = gym.make(ENV_ID)
    scheduler = baselines.make(ENV_ID, name)
    env.reset(seed=0, options={"instance": instance})
    scheduler.reset(env, seed=0)
    start, steps = time.perf_counter(), 0
    while steps < ENV_STEPS:
        _, _, terminated, truncated, _ = env.step(scheduler.act(env))
        steps += 1
        if terminated or truncated:
            break
    return (time.perf_counter() - start) / steps


def time_headless_op(instance: LLMInstance, name: str) -> float:
    """Seconds per headless operation over the same steps as :func:`time_env_step`."""
    start = time.perf_counter()
    _, steps = run_headless(instance, baselines.make(ENV_ID, name), max_steps=ENV_STEPS)
    return (time.perf_counter() - start) / steps


def trace_instance(path: Path, duration: float | None) -> LLMInstance:
    """The first ``duration`` trace seconds of the file, at about 3.5 req/s."""
    trace = load_trace(path, duration=duration, rate_scale=TRACE_RATE_SCALE)
    with warnings.catch_warnings():  # the few requests beyond the context are clipped, as Vidur does
        warnings.simplefilter("ignore")
        return instance_from_trace(trace, max_model_len=4096, name=f"{path.name}[:{duration}s]×{TRACE_RATE_SCALE}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=CONV_TRACE, help="Azure LLM 2023 conversation trace")
    parser.add_argument("--trace-duration", type=float, default=900.0,
                        help="trace seconds replayed (before rate scaling)")
    parser.add_argument("--repeats", type=int, default=3, help="passes of the compiled path (best is kept)")
    args = parser.parse_args(argv)
    workloads = {"conv-rate3.5 (8 instances)": list(load_named("llm", "conv-rate3.5").instances)}
    if args.trace.exists():
        instance = trace_instance(args.trace, args.trace_duration)
        workloads[f"Azure conv trace, first {args.trace_duration:g} s × {TRACE_RATE_SCALE}"] = [instance]
    else:
        print(f"({args.trace} not found: the trace rows are skipped)\n")

    start = time.perf_counter()  # load (or compile) the kernel before timing
    run_headless(workloads["conv-rate3.5 (8 instances)"][0], baselines.make(ENV_ID, "fcfs"), max_steps=50)
    print(f"Kernel load/compile before timing: {time.perf_counter() - start:.2f} s (numba caches it on disk).\n")

    print("| workload | scheduler | requests | operations | wall s | CPU s | requests / wall s "
          "| requests / CPU s | numpy reference requests / wall s | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workload, instances in workloads.items():
        for name in SCHEDULERS:
            fast = time_headless(instances, name, args.repeats)
            reference = time_headless(instances, name, 1, compiled=False)
            print(f"| {workload} | {name} | {fast['requests']:,} | {fast['ops']:,} | {fast['wall_s']:.3f} "
                  f"| {fast['cpu_s']:.3f} | {fast['rps_wall']:,.0f} | {fast['rps_cpu']:,.0f} "
                  f"| {reference['rps_wall']:,.0f} | {fast['rps_wall'] / reference['rps_wall']:.1f}× |")

    instance = workloads["conv-rate3.5 (8 instances)"][0]
    print(f"\nEnv step (observation encoded, scheduler's choice included) vs headless operation, "
          f"first {ENV_STEPS} steps of {instance.name}:")
    print("| scheduler | env µs / step | headless µs / operation | env / headless |")
    print("|---|---:|---:|---:|")
    for name in SCHEDULERS:
        env_step, op = time_env_step(instance, name), time_headless_op(instance, name)
        print(f"| {name} | {env_step * 1e6:,.1f} | {op * 1e6:,.1f} | {env_step / op:.1f}× |")


if __name__ == "__main__":
    main()
