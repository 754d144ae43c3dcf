"""Lower bounds on the fragment rate ``schedgym/VMReschedule-v1`` can reach, for certified gaps.

The env's fragment rate is FR = Σ_i (free_i mod g) / T over the NUMA nodes i, with T = Σ_i free_i
the cluster's free cores (VMR2L's definition, ``envs.vm.sim.fragment_rate``). A migration moves
cores between NUMA nodes and never creates or destroys any, so T is invariant, and so is
Σ_i (free_i mod g) ≡ T (mod g). Hence every reachable placement has Σ_i (free_i mod g) ≥ T mod g,
the **invariant bound** FR ≥ (T mod g) / T.

A migration limit makes it tighter (the **MNL bound**). A NUMA node that no migration touches
keeps its residual r_i = free_i mod g; the nodes of a touched set S only trade cores among
themselves, so their free total F_S is invariant and their residuals sum to at least F_S mod g.
One migration touches at most two NUMA nodes (its source and its destination), or two PMs when it
moves a double VM, so at most 2 MNL nodes, or 2 MNL PMs if any double VM can move. Minimising
Σ_{i ∉ S} r_i + (F_S mod g) over all such S, exactly, by dynamic programming over (|S|, F_S mod g),
bounds every plan of at most MNL migrations from below. With 2 MNL ≥ the number of nodes (small
clusters, MNL 10) it is the invariant bound; at medium size (560 NUMA nodes, MNL 50) it is the
binding one. (Touching both NUMA nodes of a PM is never worse than touching one, since adding a
node to S lowers the sum by its r_i and raises F_S mod g by at most r_i: the PM form needs no
per-node choice.)

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


def touched_set_bound(untouched: np.ndarray, free: np.ndarray, limit: int, granularity: int) -> int:
    """The least Σ_{i ∉ S} untouched_i + (Σ_{i ∈ S} free_i mod g) over sets S of ≤ ``limit`` items.

    Exact, by dynamic programming over (|S|, Σ_{i ∈ S} free_i mod g): O(items × limit × g).

    Args:
        untouched: Residual each item (a NUMA node or a PM) keeps if no migration touches it.
        free: Free cores of each item.
        limit: Most items a plan can touch.
        granularity: g.
    """
    g, items = granularity, len(free)
    limit = min(int(limit), items)
    inf = np.iinfo(np.int64).max // 4
    # cost[c, s]: least Σ untouched of the items seen so far, with c of them touched and their
    # free total ≡ s (mod g).
    cost = np.full((limit + 1, g), inf, np.int64)
    cost[0, 0] = 0
    for keep, cores in zip(np.asarray(untouched, np.int64), np.asarray(free, np.int64)):
        touched = np.full_like(cost, inf)
        touched[1:] = np.roll(cost[:-1], int(cores % g), axis=1)
        cost = np.minimum(cost + keep, touched)
    return int((cost + np.arange(g)[None, :]).min())


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
    total = int(free.sum())
    if budget is None or 2 * budget >= free.size:  # a plan may touch every NUMA node
        return total % g
    if budget <= 0:
        return int((free % g).sum())
    if _double_can_move(state, pms):
        return touched_set_bound((free % g).sum(axis=1), free.sum(axis=1), 2 * budget, g)
    return touched_set_bound((free % g).reshape(-1), free.reshape(-1), 2 * budget, g)


def _double_can_move(state: VMState, pms: np.ndarray) -> bool:
    """Whether a double VM on ``pms`` has a place of its kind on ``pms`` besides its own."""
    doubles = np.flatnonzero(state.instance.vm_double & np.isin(state.vm_pm, pms))
    return any(len(static_destinations(state, int(v), pms, destination_of(state, int(v)))) > 1
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
    from schedgym.data.instance_sets import load_named

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", required=True, help="comma-separated fixed VM instance sets")
    parser.add_argument("--work-limit", type=float, default=0.0,
                        help="also plan with cpsat at this budget (CP-SAT deterministic s) and "
                             "report its plan and bound (default 0: bounds only)")
    args = parser.parse_args(argv)
    if args.work_limit < 0:
        parser.error(f"--work-limit must be ≥ 0, got {args.work_limit}")
    solve = args.work_limit > 0
    header = "| set | instance | initial FR | invariant bound | MNL bound |"
    print(header + (" cpsat FR | cpsat bound | status | gap |" if solve else ""))
    print("|---|---|---:|---:|---:|" + ("---:|---:|---|---:|" if solve else ""))
    for name in args.instances.split(","):
        instance_set = load_named("vm", name)
        env = gym.make("schedgym/VMReschedule-v1", **instance_set.env_kwargs)
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
