"""Lower bounds on the fragment rate ``schedgym/VMReschedule-v2`` can reach, for certified gaps.

The env's fragment rate is FR = Σ_i (free_i mod g) / T over the NUMA nodes i, with T = Σ_i free_i
the cluster's free cores (VMR2L's definition, ``envs.vm.sim.fragment_rate``). A migration moves
cores between NUMA nodes and never creates or destroys any, so T is invariant, and so is
Σ_i (free_i mod g) ≡ T (mod g). Hence every reachable placement has Σ_i (free_i mod g) ≥ T mod g,
the **invariant bound** FR ≥ (T mod g) / T.

A migration limit makes it tighter (the **MNL bound**). Compare the final placement with the
initial one: a NUMA node that holds the same VMs keeps its residual r_i = free_i mod g, and the
nodes S whose VMs changed only traded cores among themselves, so their free total F_S is
invariant and their residuals sum to at least F_S mod g. A plan of at most MNL migrations
displaces at most MNL VMs; a displaced single VM changes two NUMA nodes (where it was and where
it is), a displaced double VM both nodes of two PMs, and at most D of them are double, D the
double VMs with anywhere else to go. So S is at most 2d whole PMs plus 2(MNL − d) further nodes
for some d ≤ min(D, MNL), and the least Σ_{i ∉ S} r_i + (F_S mod g) over all such S, found
exactly by dynamic programming over the PMs, bounds every plan from below. With 2 MNL ≥ the
number of nodes (small clusters, MNL 10) it is the invariant bound; at medium size (560 NUMA
nodes, MNL 50) it is the binding one.

The invariant is the observation of issue #14 §1; the FR definition is VMR2L's (Ding et al.,
EuroSys 2025). CP-SAT's own bound (``baselines.vm.cpsat``, which also starts from this one) can
only be higher; ``--work-limit`` adds it.

Run: ``python -m schedgym.baselines.vm.bound --instances small-test,medium-test [--work-limit 10]``
prints every instance's bounds (and, with a budget, CP-SAT's plan and bound) and their means.
"""

from __future__ import annotations

import argparse

import numpy as np

from schedgym.baselines.vm.models import static_destinations
from schedgym.envs.vm.sim import destination_of, initial_state
from schedgym.envs.vm.types import VMInstance, VMState


def touched_set_bound(free: np.ndarray, budget: int, doubles: int, granularity: int) -> int:
    """The least Σ_{i ∉ S} (free_i mod g) + (Σ_{i ∈ S} free_i mod g) over the sets S of NUMA
    nodes that ``budget`` displaced VMs, at most ``doubles`` of them double, can change (module
    docstring): 2d whole PMs and 2(budget − d) more nodes, d ≤ min(doubles, budget).

    Exact, by dynamic programming over the PMs with the state (whole PMs, further nodes,
    Σ_{i ∈ S} free_i mod g): O(P × doubles × budget × g).

    Args:
        free: Free cores of each NUMA node, shape (P, 2).
        budget: Most VMs displaced.
        doubles: Most double VMs among them.
        granularity: g.
    """
    g = granularity
    free = np.asarray(free, np.int64)
    whole_max, nodes_max = 2 * min(doubles, budget), 2 * budget
    inf = np.iinfo(np.int64).max // 4
    # cost[w, n, s]: least Σ r of the untouched nodes so far, with w whole PMs and n further
    # nodes touched whose free total ≡ s (mod g).
    cost = np.full((whole_max + 1, nodes_max + 1, g), inf, np.int64)
    cost[0, 0, 0] = 0

    def touch(table: np.ndarray, cores: int, axis: int, count: int) -> np.ndarray:
        """``table`` with ``count`` more items on ``axis`` (0 whole PMs, 1 further nodes) and
        ``cores`` more in the touched free total."""
        moved = np.full_like(table, inf)
        source = [slice(None)] * 2
        target = [slice(None)] * 2
        source[axis], target[axis] = slice(None, -count), slice(count, None)
        moved[tuple(target)] = np.roll(table[tuple(source)], cores % g, axis=2)
        return moved

    for (f0, f1) in free:
        r0, r1 = int(f0 % g), int(f1 % g)
        options = [cost + r0 + r1, touch(cost + r1, f0, 1, 1), touch(cost + r0, f1, 1, 1),
                   touch(cost, f0 + f1, 1, 2)]
        if whole_max:
            options.append(touch(cost, f0 + f1, 0, 1))
        cost = np.minimum.reduce(options)
    whole = np.arange(whole_max + 1)
    nodes_allowed = 2 * (budget - (whole + 1) // 2)  # d = ceil(w / 2) displaced doubles
    allowed = np.arange(nodes_max + 1)[None, :] <= nodes_allowed[:, None]
    total = np.where(allowed[:, :, None], cost + np.arange(g)[None, None, :], inf)
    return int(total.min())


def residual_bound(state: VMState, budget: int | None = None, pms: np.ndarray | None = None) -> int:
    """A lower bound on Σ (free mod g) over the NUMA nodes of ``pms`` after at most ``budget``
    migrations among them (module docstring); ``budget`` None means any number.

    Args:
        state: The current placement.
        budget: Most migrations, or None for no limit.
        pms: The PMs whose VMs may move, only among themselves (default all).
    """
    g = state.granularity
    pms = np.arange(state.instance.num_pms) if pms is None else np.sort(np.asarray(pms, np.int64))
    free = state.free_cpu[pms].astype(np.int64)  # (k, 2)
    if budget is None or 2 * budget >= free.size:  # a plan may change every NUMA node
        return int(free.sum()) % g
    if budget <= 0:
        return int((free % g).sum())
    return touched_set_bound(free, budget, _movable_doubles(state, pms), g)


def _movable_doubles(state: VMState, pms: np.ndarray) -> int:
    """Double VMs on ``pms`` with a place of their kind on ``pms`` besides their own."""
    doubles = np.flatnonzero(state.instance.vm_double & np.isin(state.vm_pm, pms))
    return sum(len(static_destinations(state, int(v), pms, destination_of(state, int(v)))) > 1
               for v in doubles)


def fr_lower_bound(instance: VMInstance, granularity: int = 16, mnl: int | None = None) -> float:
    """The MNL bound on the fragment rate of ``instance`` after at most ``mnl`` migrations from
    its initial placement (the invariant bound (T mod g) / T when ``mnl`` is None)."""
    state = initial_state(instance, granularity)
    total = int(state.free_cpu.sum())
    return residual_bound(state, mnl) / total if total else 0.0


def main(argv: list[str] | None = None) -> int:
    import gymnasium as gym

    from schedgym.baselines.vm.cpsat import CpSatRescheduler
    from schedgym.data.instance_sets import load_named, set_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", required=True, help="comma-separated fixed VM instance sets")
    parser.add_argument("--work-limit", type=float, default=0.0,
                        help="also plan with cpsat at this budget (CP-SAT deterministic s) and "
                             "report its plan and bound (default 0: bounds only)")
    args = parser.parse_args(argv)
    if args.work_limit < 0:
        parser.error(f"--work-limit must be ≥ 0, got {args.work_limit}")
    unknown = [name for name in args.instances.split(",") if name not in set_names("vm")]
    if unknown:
        parser.error(f"no VM instance set {', '.join(unknown)}; available: "
                     f"{', '.join(set_names('vm'))}")
    solve = args.work_limit > 0
    header = "| set | instance | initial FR | invariant bound | MNL bound |"
    print(header + (" cpsat FR | cpsat bound | status | gap |" if solve else ""))
    print("|---|---|---:|---:|---:|" + ("---:|---:|---|---:|" if solve else ""))
    for name in args.instances.split(","):
        instance_set = load_named("vm", name)
        env = gym.make("schedgym/VMReschedule-v2", **instance_set.env_kwargs)
        mnl, g = env.unwrapped.mnl, env.unwrapped.granularity
        rows = []
        for index, instance in enumerate(instance_set.instances):
            env.reset(seed=0, options={"instance": instance})
            state = env.unwrapped.state
            row = [state.initial_fragment_rate, fr_lower_bound(instance, g),
                   fr_lower_bound(instance, g, mnl)]
            if solve:
                row += _solve(env, CpSatRescheduler(work_limit=args.work_limit))
            rows.append(row)
            cells = " | ".join(_cell(x) for x in row)
            print(f"| {name} | {instance.name or index} | {cells} |", flush=True)
        means = np.mean([[x for x in row if not isinstance(x, str)] for row in rows], axis=0)
        proven = sum(row[5] == "optimal" for row in rows) if solve else 0
        cells = [_cell(x) for x in means[:3]]
        if solve:
            cells += [_cell(means[3]), _cell(means[4]), f"{proven}/{len(rows)} optimal",
                      _cell(means[5])]
        print(f"| {name} | mean of {len(rows)} | " + " | ".join(cells) + " |", flush=True)
    return 0


def _solve(env, scheduler) -> list:
    """Plays ``scheduler`` on the env (reset already) and returns its FR, bound, status, gap."""
    scheduler.reset(env)
    done, info = False, {}
    while not done:
        _, _, done, _, info = env.step(scheduler.act(env))
    report = scheduler.report
    final = info["fragment_rate"]
    return [final, report.bound, report.status, final - report.bound]


def _cell(value) -> str:
    return value if isinstance(value, str) else f"{value:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
