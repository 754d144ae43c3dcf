"""Energy accounting of one fixed placement in SchedGym and in LEAF, side by side.

Plays one instance of a fixed set with a rule baseline (greedy by default) twice: in SchedGym's
env, and in LEAF (``leafsim``) under :class:`envs.iot.leaf.orchestrator.SchedGymOrchestrator`
driven by the same baseline (``envs.iot.leaf.run``). Checks that LEAF made the same placements,
then prints the energy of each category: SchedGym's own accounting, LEAF's power models
integrated exactly between changes, and LEAF's ``PowerMeter`` sampling at its default 1 s and
at ``--fine`` s, with the cause of each difference. Also prints the wall time of the two runs
in this process (a ratio, not a figure to compare across machines).

Needs the ``leaf`` extra. Run: ``python -m benchmarks.leaf_crosscheck [--instances
small-tree-light] [--index 0] [--baseline greedy] [--fine 0.001]``.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

from schedgym import baselines
from schedgym.envs.iot.env import IoTPlacementEnv
from schedgym.envs.iot.leaf.network import to_leaf
from schedgym.envs.iot.leaf.orchestrator import ENV_ID, BaselineDriver
from schedgym.envs.iot.leaf.run import run_leaf
from schedgym.policies.evaluation import run_episode

LEAF_DEFAULT_INTERVAL = 1.0  # s, PowerMeter's default measurement_interval (leaf/power.py)
PARTS = (
    ("node static", "node_static_j",
     "both: Σ P_idle × horizon; LEAF's meter samples it, so a horizon that is not a multiple of "
     "the interval is cut to whole intervals"),
    ("node dynamic", "node_dynamic_j",
     "both: (P_max − P_idle) × busy cores / cores (1 CU per running task in LEAF); sampled, "
     "a run shorter than the interval is seen by a sample or missed"),
    ("link (radio)", "link_j",
     "SchedGym: tx power × bits / route bottleneck; LEAF: J/bit × bits on the device's link; "
     "equal here (the device link is every route's bottleneck on a tree)"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="small-tree-light")
    parser.add_argument("--index", type=int, default=0, help="which instance of the set")
    parser.add_argument("--baseline", default="greedy")
    parser.add_argument("--fine", type=float, default=0.001, help="a fine PowerMeter interval, s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    instance_set = IoTPlacementEnv.load_instance_set(args.instances)
    instance = instance_set.instances[args.index]
    kwargs = instance_set.env_kwargs
    env = gym.make(ENV_ID, **kwargs)
    start = time.perf_counter()
    scheduler = baselines.make(ENV_ID, args.baseline)
    result = run_episode(env, scheduler, instance, args.seed, headless=False)
    schedgym_s = time.perf_counter() - start
    expected = env.unwrapped.sim.state.node.copy()
    start = time.perf_counter()
    exact = run_leaf(instance, BaselineDriver.from_name(args.baseline), kwargs, args.seed,
                     meter_interval=LEAF_DEFAULT_INTERVAL)
    leaf_s = time.perf_counter() - start
    fine = run_leaf(instance, BaselineDriver.from_name(args.baseline), kwargs, args.seed,
                    meter_interval=args.fine)
    names = to_leaf(instance.topology).names
    same = all(exact.placements.get(task) == names[node] for task, node in enumerate(expected))
    print(f"{instance.name} ({instance.num_tasks} tasks), {args.baseline}, {kwargs}; horizon "
          f"{exact.horizon_s:.4f} s; LEAF placements identical to SchedGym's: "
          f"{'yes' if same else 'NO'}; wall time LEAF / SchedGym env = {leaf_s / schedgym_s:.1f}\n")
    print(f"| energy (J) | SchedGym | LEAF exact | LEAF meter {LEAF_DEFAULT_INTERVAL:g} s | "
          f"LEAF meter {args.fine:g} s | LEAF exact − SchedGym | why |")
    print("|---|---|---|---|---|---|---|")
    columns = (exact.schedgym_energy, exact.leaf_energy, exact.meter_energy, fine.meter_energy)
    for label, part, why in PARTS:
        values = [getattr(e, part) for e in columns]
        print(f"| {label} | " + " | ".join(f"{v:.4f}" for v in values)
              + f" | {values[1] - values[0]:+.2e} | {why} |")
    totals = [e.total_j for e in columns]
    print("| total | " + " | ".join(f"{v:.4f}" for v in totals)
          + f" | {totals[1] - totals[0]:+.2e} | SchedGym's info energy_j = "
          f"{result.metrics['energy_j']:.4f} |")


if __name__ == "__main__":
    main()
