"""Cluster dynamics of the VM rescheduling env, vectorised with numpy.

Destinations are indexed as in :class:`envs.vm.types.VMState`: ``d = 2 * pm + numa`` for the 2P
NUMA nodes (single-NUMA VMs), then ``d = 2P + pm`` for the P PMs (double VMs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from schedgym.envs.vm.types import BOTH_NUMA, VMInstance, VMState


def fragment_rate(free_cpu: np.ndarray, granularity: int = 16) -> float:
    """VMR2L's fragment rate: the share of free CPU that cannot host a ``granularity``-core slice.

    FR = Σ_pm Σ_numa (free_cpu mod g) / Σ free_cpu, and 0 for a cluster with no free CPU.

    Args:
        free_cpu: Free cores per NUMA node, any shape.
        granularity: Cores per NUMA node of the VM size that defines a fragment (g).
    """
    total = int(free_cpu.sum())
    return float((free_cpu % granularity).sum()) / total if total else 0.0


def allocation(
    instance: VMInstance, vm_pm: np.ndarray, vm_numa: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cores and GiB allocated on every NUMA node, each of shape (P, 2), by a placement."""
    used_cpu = np.zeros((instance.num_pms, 2), np.int64)
    used_mem = np.zeros((instance.num_pms, 2), np.int64)
    single = vm_numa != BOTH_NUMA
    np.add.at(used_cpu, (vm_pm[single], vm_numa[single]), instance.vm_cpu[single])
    np.add.at(used_mem, (vm_pm[single], vm_numa[single]), instance.vm_mem[single])
    for numa in (0, 1):
        np.add.at(used_cpu[:, numa], vm_pm[~single], instance.vm_cpu[~single] // 2)
        np.add.at(used_mem[:, numa], vm_pm[~single], instance.vm_mem[~single] // 2)
    return used_cpu, used_mem


def placement_violations(
    instance: VMInstance, vm_pm: np.ndarray, vm_numa: np.ndarray
) -> list[str]:
    """Every way a placement breaks the rules (empty if it is legal), recomputed from scratch.

    Checks NUMA assignment against the VM kind, CPU and memory capacity of each NUMA node, and
    anti-affinity (two VMs of one restricted job on a PM).
    """
    problems = []
    double = instance.vm_double
    bad_kind = np.flatnonzero(((vm_numa == BOTH_NUMA) != double) | ~np.isin(vm_numa, (0, 1, BOTH_NUMA)))
    problems += [f"VM {v} has NUMA {vm_numa[v]} but double={double[v]}" for v in bad_kind]
    used_cpu, used_mem = allocation(instance, vm_pm, vm_numa)
    for pm, numa in np.argwhere(used_cpu > instance.numa_cpu):
        problems.append(f"PM {pm} NUMA {numa}: {used_cpu[pm, numa]} cores > {instance.numa_cpu[pm, numa]}")
    for pm, numa in np.argwhere(used_mem > instance.numa_mem):
        problems.append(f"PM {pm} NUMA {numa}: {used_mem[pm, numa]} GiB > {instance.numa_mem[pm, numa]}")
    restricted = instance.vm_anti_affinity
    pairs = np.stack([instance.vm_job[restricted], vm_pm[restricted].astype(np.int64)], axis=1)
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    problems += [f"job {job} has {n} VMs on PM {pm}" for (job, pm), n in zip(unique, counts) if n > 1]
    return problems


def initial_state(instance: VMInstance, granularity: int = 16) -> VMState:
    """The state of ``instance`` at its initial placement, with every destination's legality.

    Raises:
        ValueError: If the initial placement itself breaks capacity or anti-affinity.
    """
    problems = placement_violations(instance, instance.vm_pm, instance.vm_numa)
    if problems:
        raise ValueError(f"instance {instance.name!r} starts illegal: " + "; ".join(problems[:5]))
    used_cpu, used_mem = allocation(instance, instance.vm_pm, instance.vm_numa)
    restricted_jobs, job_row = np.unique(instance.vm_job[instance.vm_anti_affinity], return_inverse=True)
    rows = np.full(instance.num_vms, len(restricted_jobs), np.int32)
    rows[instance.vm_anti_affinity] = job_row
    job_pm_count = np.zeros((len(restricted_jobs) + 1, instance.num_pms), np.int32)
    np.add.at(job_pm_count, (rows[instance.vm_anti_affinity], instance.vm_pm[instance.vm_anti_affinity]), 1)
    state = VMState(
        instance=instance,
        vm_pm=instance.vm_pm.astype(np.int32),
        vm_numa=instance.vm_numa.astype(np.int8),
        free_cpu=(instance.numa_cpu - used_cpu).astype(np.int32),
        free_mem=(instance.numa_mem - used_mem).astype(np.int32),
        job_row=rows,
        job_pm_count=job_pm_count,
        # Column-major: a migration rewrites a few whole columns, which are then contiguous.
        feasible=np.zeros((instance.num_vms, 3 * instance.num_pms), bool, order="F"),
        num_destinations=np.zeros(instance.num_vms, np.int32),
        granularity=granularity,
    )
    state.feasible[:] = destination_feasibility(state, np.arange(3 * instance.num_pms))
    state.num_destinations[:] = state.feasible.sum(axis=1)
    state.initial_fragment_rate = fragment_rate(state.free_cpu, granularity)
    return state


def destination_feasibility(state: VMState, destinations: np.ndarray) -> np.ndarray:
    """Whether each VM may migrate to each of ``destinations`` now: shape (V, len(destinations)).

    A destination is legal for a VM if it is of the VM's kind (NUMA node for single VMs, PM for
    double VMs), is not where the VM is, has the CPU and memory on the NUMA node(s) the VM would
    occupy, and holds no other VM of the VM's anti-affinity job.
    """
    inst = state.instance
    num_pms = inst.num_pms
    is_pm = destinations >= 2 * num_pms
    pm = np.where(is_pm, destinations - 2 * num_pms, destinations // 2)
    numa = np.where(is_pm, 0, destinations % 2)
    # A PM destination takes half the VM on each NUMA node, so its binding capacity is the min.
    free_cpu = np.where(is_pm, state.free_cpu[pm].min(axis=1), state.free_cpu[pm, numa])
    free_mem = np.where(is_pm, state.free_mem[pm].min(axis=1), state.free_mem[pm, numa])
    need_cpu, need_mem = inst.cpu_per_numa, inst.mem_per_numa
    # Built destination-major, (len(destinations), V): numpy broadcasts far faster along the
    # long VM axis, and the transpose returned matches the column-major ``state.feasible``.
    on_pm = pm[:, None] == state.vm_pm[None, :]
    legal = (
        (is_pm[:, None] == inst.vm_double[None, :])
        & (free_cpu[:, None] >= need_cpu[None, :])
        & (free_mem[:, None] >= need_mem[None, :])
        & ~(on_pm & (is_pm[:, None] | (numa[:, None] == state.vm_numa[None, :])))  # not "here"
    )
    # Anti-affinity: other VMs of the same restricted job on the PM (the VM itself not counted).
    restricted = inst.anti_affinity_vms
    if len(restricted):
        others = state.job_pm_count[state.job_row[None, restricted], pm[:, None]] - on_pm[:, restricted]
        legal[:, restricted] &= others <= 0
    return legal.T


def destination_of(state: VMState, vm: int) -> int:
    """The destination index where ``vm`` is now."""
    pm = int(state.vm_pm[vm])
    if state.vm_numa[vm] == BOTH_NUMA:
        return 2 * state.instance.num_pms + pm
    return 2 * pm + int(state.vm_numa[vm])


def migrate(state: VMState, vm: int, destination: int) -> tuple[int, int]:
    """Moves ``vm`` to ``destination`` in place and refreshes the affected legality columns.

    The caller must have checked ``state.feasible[vm, destination]``.

    Returns:
        The source and destination PMs.
    """
    inst = state.instance
    num_pms = inst.num_pms
    src_pm = int(state.vm_pm[vm])
    _occupy(state, vm, sign=+1)
    if destination >= 2 * num_pms:
        dst_pm, dst_numa = destination - 2 * num_pms, BOTH_NUMA
    else:
        dst_pm, dst_numa = destination // 2, destination % 2
    state.vm_pm[vm], state.vm_numa[vm] = dst_pm, dst_numa
    _occupy(state, vm, sign=-1)
    row = state.job_row[vm]
    if row < state.job_pm_count.shape[0] - 1:
        state.job_pm_count[row, src_pm] -= 1
        state.job_pm_count[row, dst_pm] += 1
    # Only the columns of the two PMs involved can change: their capacity and their job counts.
    _refresh_feasibility(state.feasible, state.num_destinations,
                         pm_destinations(np.unique([src_pm, dst_pm]), num_pms), state.vm_pm,
                         state.vm_numa, inst.vm_double, inst.cpu_per_numa, inst.mem_per_numa,
                         state.free_cpu, state.free_mem, state.job_row, state.job_pm_count)
    state.migrations += 1
    state.history.append((vm, destination))
    return src_pm, dst_pm


def _occupy(state: VMState, vm: int, sign: int) -> None:
    """Adds ``sign`` times the VM's resources to the free capacity where it sits."""
    inst = state.instance
    pm, numa = int(state.vm_pm[vm]), int(state.vm_numa[vm])
    if numa == BOTH_NUMA:
        state.free_cpu[pm] += sign * (inst.vm_cpu[vm] // 2)
        state.free_mem[pm] += sign * (inst.vm_mem[vm] // 2)
    else:
        state.free_cpu[pm, numa] += sign * inst.vm_cpu[vm]
        state.free_mem[pm, numa] += sign * inst.vm_mem[vm]


def leave_fragment_change(state: VMState, vms: np.ndarray | None = None) -> np.ndarray:
    """Change of Σ (free mod g) if each VM left its place (its cores freed).

    Args:
        state: The cluster.
        vms: The VMs to score (default all).

    Returns:
        Shape (len(vms),), or (V,) for all VMs.
    """
    g = state.granularity
    pm, numa, demand = state.vm_pm, state.vm_numa, state.instance.cpu_per_numa
    if vms is not None:
        pm, numa, demand = pm[vms], numa[vms], demand[vms]
    free = state.free_cpu[pm]  # (k, 2) free cores of their PMs
    change = _mod(free + demand[:, None], g) - _mod(free, g)
    own = np.where(numa == 1, change[:, 1], change[:, 0])
    return np.where(numa == BOTH_NUMA, change[:, 0] + change[:, 1], own)


def _mod(x: np.ndarray, g: int) -> np.ndarray:
    """``x mod g`` (non-negative); a bit mask when g is a power of two, several times faster."""
    return x & (g - 1) if g & (g - 1) == 0 else x % g


def pm_destinations(pms: np.ndarray, num_pms: int) -> np.ndarray:
    """Destination indices of the given PMs, in the row order of :func:`arrival_fragment_change`:
    both NUMA nodes of each PM, then the PMs themselves (3 * len(pms),)."""
    numa = (2 * pms[:, None] + np.arange(2)[None, :]).reshape(-1)
    return np.concatenate([numa, 2 * num_pms + pms])


def arrival_fragment_change(state: VMState, pms: np.ndarray) -> np.ndarray:
    """Change of Σ (free mod g) on each destination of ``pms`` if each VM arrived there.

    Destination-major, shape (3 * len(pms), V), rows as in :func:`pm_destinations`. A NUMA
    destination takes the VM's cores on one node, a PM destination half of them on each, so its
    change is the sum of its two NUMA nodes'. Legality is not checked (see ``state.feasible``).
    """
    g = state.granularity
    free = state.free_cpu[pms].reshape(-1, 1)  # (2k, 1) int32
    demand = state.instance.cpu_per_numa[None, :]  # (1, V)
    numa = _mod(free - demand, g) - _mod(free, g)  # (2k, V)
    return np.concatenate([numa, numa[0::2] + numa[1::2]])


def fragment_change(state: VMState) -> np.ndarray:
    """Change of Σ (free mod g) for every migration, shape (V, 3P); +inf where illegal.

    A migration leaves total free CPU unchanged, so the fragment rate changes by this divided by
    ``state.free_cpu.sum()``: negative entries are the migrations that reduce fragmentation.
    """
    # Rows of all PMs in pm_destinations order are exactly the destination indices 0..3P-1.
    arrival = arrival_fragment_change(state, np.arange(state.instance.num_pms))
    change = arrival.T.astype(np.float64) + leave_fragment_change(state)[:, None]
    change[~state.feasible] = np.inf
    return change


class BestMoves:
    """Every VM's leave change and best single migration, kept current across migrations (the
    incremental form of ``leave_fragment_change(state)`` and ``fragment_change(state).min(1)``).

    The arrival part of every legal migration is stored destination-major, shape (3P, V). A
    migration changes only the destinations of its two PMs and the leave change of the VMs on
    them, so :meth:`refresh` rewrites those, and rescans a VM's whole column only when every
    destination that attained its minimum was among them and got worse (each VM keeps how many
    destinations attain its minimum; changes are integers, so equality is exact).
    """

    def __init__(self, state: VMState) -> None:
        self.state = state
        # For all PMs the rows of arrival_fragment_change are the destinations 0..3P-1 in order.
        change = arrival_fragment_change(state, np.arange(state.instance.num_pms)).astype(np.float32)
        self._arrival = np.where(state.feasible.T, change, np.float32(np.inf))  # (3P, V)
        self._best, self._ties = self._minimum(self._arrival)  # (V,), (V,)
        self.leave = leave_fragment_change(state).astype(np.float32)  # (V,)

    @staticmethod
    def _minimum(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best = rows.min(axis=0)
        return best, (rows == best[None, :]).sum(axis=0)

    def refresh(self, src_pm: int, dst_pm: int) -> None:
        """Updates after a migration from ``src_pm`` to ``dst_pm`` (the same PM for a move
        between its NUMA nodes)."""
        state = self.state
        pms = np.unique([src_pm, dst_pm])
        _refresh_destinations(self._arrival, self._best, self._ties, state.feasible,
                              pm_destinations(pms, state.instance.num_pms), state.free_cpu,
                              state.instance.cpu_per_numa, state.granularity)
        vm_pm = state.vm_pm
        on_pms = np.flatnonzero((vm_pm == pms[0]) | (vm_pm == pms[-1]))
        self.leave[on_pms] = leave_fragment_change(state, on_pms)

    def best_change(self) -> np.ndarray:
        """Each VM's lowest Σ (free mod g) change over its legal migrations, (V,); +inf if none."""
        return self._best + self.leave

    def changes_of(self, vm: int) -> np.ndarray:
        """Σ (free mod g) change of each migration of ``vm``, (3P,); +inf where illegal."""
        return self._arrival[:, vm] + self.leave[vm]


@njit(cache=True)
def _refresh_destinations(arrival: np.ndarray, best: np.ndarray, ties: np.ndarray,
                          feasible: np.ndarray, rows: np.ndarray, free_cpu: np.ndarray,
                          demand: np.ndarray, g: int) -> None:  # pragma: no cover - compiled
    """:meth:`BestMoves.refresh` for the destinations ``rows``, in one pass over the VMs. Its
    arithmetic is :func:`arrival_fragment_change`'s; ``tests/envs/vm/test_sim.py`` keeps the two
    equal (``test_best_moves_stay_equal_to_a_full_recomputation``).

    The numpy form (rewrite the rows, count ties before and after, rescan where needed) took a
    dozen passes over small (6, V) arrays, about 150 µs per migration at medium size.
    """
    num_numa = 2 * free_cpu.shape[0]
    inf = np.float32(np.inf)
    for v in range(arrival.shape[1]):
        b, t = best[v], ties[v]
        fresh_best, fresh_ties = inf, 0
        c = demand[v]
        for d in rows:
            new = inf
            if feasible[v, d]:
                if d < num_numa:
                    f = free_cpu[d // 2, d % 2]
                    new = np.float32((f - c) % g - f % g)
                else:
                    f0, f1 = free_cpu[d - num_numa, 0], free_cpu[d - num_numa, 1]
                    new = np.float32((f0 - c) % g - f0 % g + (f1 - c) % g - f1 % g)
            t += int(new == b) - int(arrival[d, v] == b)
            arrival[d, v] = new
            if new < fresh_best:
                fresh_best, fresh_ties = new, 1
            elif new == fresh_best:
                fresh_ties += 1
        if fresh_best < b:
            b, t = fresh_best, fresh_ties
        elif t == 0:  # every destination that attained the minimum got worse: rescan
            b = inf
            for d in range(arrival.shape[0]):
                if arrival[d, v] < b:
                    b, t = arrival[d, v], 1
                elif arrival[d, v] == b:
                    t += 1
        best[v], ties[v] = b, t


@njit(cache=True)
def _refresh_feasibility(feasible: np.ndarray, num_destinations: np.ndarray, columns: np.ndarray,
                         vm_pm: np.ndarray, vm_numa: np.ndarray, vm_double: np.ndarray,
                         need_cpu: np.ndarray, need_mem: np.ndarray, free_cpu: np.ndarray,
                         free_mem: np.ndarray, job_row: np.ndarray,
                         job_pm_count: np.ndarray) -> None:  # pragma: no cover - compiled
    """:func:`destination_feasibility` for a few ``columns``, written into ``feasible`` with the
    row sums kept in ``num_destinations``: one pass instead of a dozen (k, V) numpy temporaries.
    The anti-affinity test needs no branch: unrestricted VMs point at an all-zero job row. Its
    rules are :func:`destination_feasibility`'s; ``test_incremental_legality_equals_recomputation``
    keeps the two equal."""
    num_numa = 2 * free_cpu.shape[0]
    for d in columns:
        is_pm = d >= num_numa
        pm = d - num_numa if is_pm else d // 2
        numa = 0 if is_pm else d % 2
        cpu = min(free_cpu[pm, 0], free_cpu[pm, 1]) if is_pm else free_cpu[pm, numa]
        mem = min(free_mem[pm, 0], free_mem[pm, 1]) if is_pm else free_mem[pm, numa]
        for v in range(feasible.shape[0]):
            on_pm = vm_pm[v] == pm
            legal = (
                is_pm == vm_double[v]
                and cpu >= need_cpu[v]
                and mem >= need_mem[v]
                and not (on_pm and (is_pm or numa == vm_numa[v]))
                and job_pm_count[job_row[v], pm] - int(on_pm) <= 0
            )
            if legal != feasible[v, d]:
                num_destinations[v] += 1 if legal else -1
                feasible[v, d] = legal
