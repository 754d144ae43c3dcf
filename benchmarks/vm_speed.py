"""Speed of ``schedgym/VMReschedule-v1``: cost of an env step, observation included.

Absolute times depend on the (shared, noisy) machine, so the figure that matters is a ratio
measured side by side in this run: the step against one full fragment-rate recomputation
(``fragment_rate`` over every NUMA node) and against a plain copy of the observation buffers.
Blocks of steps and of references alternate, and medians are reported.

    python benchmarks/vm_speed.py --size medium
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from schedgym.envs.vm.env import VMRescheduleEnv
from schedgym.envs.vm.sim import fragment_rate


def _time_steps(env: VMRescheduleEnv, rng: np.random.Generator, count: int, instance) -> float:
    """Mean seconds per env.step over ``count`` random legal non-stop steps (choice excluded)."""
    spent, done = 0.0, False
    for _ in range(count):
        if done:
            env.reset(options={"instance": instance})
        legal = np.flatnonzero(env.action_masks())
        action = int(rng.choice(legal[legal != 0])) if len(legal) > 1 else 0
        start = time.perf_counter()
        _, _, done, _, _ = env.step(action)
        spent += time.perf_counter() - start
    return spent / count


def _time_call(function, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--steps", type=int, default=500, help="steps per block")
    args = parser.parse_args()

    env = VMRescheduleEnv(size=args.size)
    env.reset(seed=0)
    instance = env.state.instance
    rng = np.random.default_rng(0)
    step, fr, copy = [], [], []
    for _ in range(args.blocks):
        env.reset(options={"instance": instance})
        step.append(_time_steps(env, rng, args.steps, instance))
        fr.append(_time_call(lambda: fragment_rate(env.state.free_cpu, env.granularity), args.steps))
        copy.append(_time_call(env.observation, args.steps))
    reset = _time_call(lambda: env.reset(options={"instance": instance}), 5)
    generate = _time_call(lambda: env.reset(seed=1), 5)
    step_s, fr_s, copy_s = (statistics.median(x) for x in (step, fr, copy))
    spec = env.spec_graph
    print(f"VMReschedule-v1 size={args.size}: {instance.num_pms} PMs, {instance.num_vms} VMs, "
          f"N_MAX={spec.n_max}, E_MAX={spec.e_max}")
    print(f"step (observation copy included): {step_s * 1e6:8.1f} us  = {1 / step_s:8.0f} steps/s")
    print(f"  / one full FR recomputation:    {step_s / fr_s:8.1f} x  ({fr_s * 1e6:.1f} us)")
    print(f"  / one observation copy:         {step_s / copy_s:8.1f} x  ({copy_s * 1e6:.1f} us)")
    print(f"reset on a given instance:        {reset * 1e3:8.1f} ms  = {reset / step_s:.0f} steps")
    print(f"reset with a generated instance:  {generate * 1e3:8.1f} ms  = {generate / step_s:.0f} steps")


if __name__ == "__main__":
    main()
