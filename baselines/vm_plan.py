"""Shared machinery of the VM rescheduling planners (CP-SAT and POP): the CP-SAT model of the best
final placement within a move budget, the ordering of its moves into a legal migration sequence,
the solve–order–cut loop, and the replay of a plan as pointer actions.

A plan is a list of moves ``(vm, destination)`` with destinations indexed as in
:class:`envs.vm.types.VMState`. Every VM moves at most once, straight from its current place to
its final one, so a final placement defines its set of moves; only their order is left to find.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from ortools.sat.python import cp_model

from baselines.base import SolverReport
from envs.vm.sim import destination_of, fragment_rate
from envs.vm.types import VMState

Move = tuple[int, int]  # (vm, destination)

#: Search nodes the move-ordering backtracking may expand before it gives up on a move set.
ORDER_EXPANSIONS = 5_000


# ------------------------------------------------------------------------------ CP-SAT model


@dataclass
class Solution:
    """One CP-SAT solve of a :class:`PlacementModel`.

    Attributes:
        status: ``"optimal"``, ``"feasible"`` or ``"unknown"`` (no placement found in time).
        moves: The moves to the solver's placement (unordered), or None without one.
        residual_bound: Proven lower bound on Σ (free mod g) over the model's NUMA nodes.
        seconds: Solver wall time.
        objective_bound: Proven lower bound on the whole objective, (budget + 1)·Σ r + moves.
    """

    status: str
    moves: list[Move] | None
    residual_bound: int | None
    seconds: float
    objective_bound: int | None = None


class PlacementModel:
    """CP-SAT model of the best placement of the VMs on ``pms`` reachable with ``budget`` moves.

    Only the VMs now on ``pms`` take part, and they may only move among ``pms``, so the model is
    independent of the rest of the cluster (this is what lets POP solve PM partitions apart).
    Booleans ``x[v, loc]`` pick each VM's final destination (NUMA nodes for single VMs, PMs for
    double VMs); every NUMA node respects CPU and memory capacity; a restricted job has at most
    one VM per PM; at most ``budget`` VMs leave their place. With free = g·q + r (0 ≤ r < g) per
    NUMA node, minimising Σ r minimises the fragment rate because total free CPU is constant; the
    objective is (budget + 1)·Σ r + moves, so fewer moves only break ties. The solver's proven
    bound on Σ r is floor(bound / (budget + 1)) since moves ≤ budget.

    Args:
        state: The current simulator state (its placement is the starting point).
        pms: The PMs of the subproblem.
        budget: Most VMs that may move.
    """

    def __init__(self, state: VMState, pms: np.ndarray, budget: int) -> None:
        self.weight = budget + 1
        self.model = cp_model.CpModel()
        pms = np.sort(np.asarray(pms, dtype=np.int64))
        self.vms = np.flatnonzero(np.isin(state.vm_pm, pms))
        self.current = {int(v): destination_of(state, int(v)) for v in self.vms}
        self.x: dict[int, dict[int, cp_model.IntVar]] = {}
        cpu_terms: dict[int, list[tuple[cp_model.IntVar, int]]] = {n: [] for n in _numa_nodes(pms)}
        mem_terms: dict[int, list[tuple[cp_model.IntVar, int]]] = {n: [] for n in cpu_terms}
        for v in map(int, self.vms):
            self.x[v] = {}
            for dest in _static_destinations(state, v, pms, self.current[v]):
                var = self.model.new_bool_var(f"x{v}_{dest}")
                self.x[v][dest] = var
                for numa, cpu, mem in _footprint(state, v, dest):
                    cpu_terms[numa].append((var, cpu))
                    mem_terms[numa].append((var, mem))
            self.model.add_exactly_one(self.x[v].values())
            self.model.add_hint(self.x[v][self.current[v]], 1)
        stay = [self.x[v][self.current[v]] for v in self.x]
        self.model.add(sum(stay) >= len(stay) - budget)
        residuals = self._capacity(state, cpu_terms, mem_terms)
        self._anti_affinity(state, pms)
        # Σ r = T − g·Σ q for the constant total T of free cores, so Σ r ≡ T (mod g). Stating it
        # with an integer Σ q gives CP-SAT the bound Σ r ≥ T mod g, which the LP relaxation
        # (fractional q) misses; on small clusters it is often what proves optimality.
        g = state.granularity
        total_free = int(state.free_cpu[pms].sum())
        residual = self.model.new_int_var(total_free % g, total_free, "residual")
        blocks = self.model.new_int_var(0, total_free // g, "blocks")
        self.model.add(residual == sum(residuals))
        self.model.add(residual + g * blocks == total_free)
        self.model.minimize(self.weight * residual + len(stay) - sum(stay))

    def _capacity(
        self,
        state: VMState,
        cpu_terms: dict[int, list[tuple[cp_model.IntVar, int]]],
        mem_terms: dict[int, list[tuple[cp_model.IntVar, int]]],
    ) -> list[cp_model.IntVar]:
        """Adds the capacity rows and returns the free-CPU residual r of every NUMA node."""
        inst, g = state.instance, state.granularity
        cpu_cap, mem_cap = inst.numa_cpu.reshape(-1), inst.numa_mem.reshape(-1)
        residuals = []
        for numa, terms in cpu_terms.items():
            cap = int(cpu_cap[numa])
            used = cp_model.LinearExpr.weighted_sum([t[0] for t in terms], [t[1] for t in terms])
            q = self.model.new_int_var(0, cap // g, f"q{numa}")
            r = self.model.new_int_var(0, g - 1, f"r{numa}")
            self.model.add(used + g * q + r == cap)
            mem = mem_terms[numa]
            self.model.add(
                cp_model.LinearExpr.weighted_sum([t[0] for t in mem], [t[1] for t in mem])
                <= int(mem_cap[numa])
            )
            residuals.append(r)
        return residuals

    def _anti_affinity(self, state: VMState, pms: np.ndarray) -> None:
        """At most one VM of each restricted job on each PM."""
        inst = state.instance
        restricted = self.vms[inst.vm_anti_affinity[self.vms]]
        for job in np.unique(inst.vm_job[restricted]):
            members = restricted[inst.vm_job[restricted] == job]
            if len(members) < 2:
                continue
            for pm in map(int, pms):
                on_pm = [var for v in map(int, members) for dest, var in self.x[v].items()
                         if _dest_pm(dest, inst.num_pms) == pm]
                if len(on_pm) > 1:
                    self.model.add_at_most_one(on_pm)

    def forbid(self, moves: list[Move]) -> None:
        """No-good cut: the solver may no longer make all of ``moves`` together."""
        self.model.add(sum(self.x[v][d] for v, d in moves) <= len(moves) - 1)

    def solve(self, time_limit_s: float, workers: int, seed: int) -> Solution:
        """Solves the model as it stands (cuts included)."""
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(time_limit_s, 1e-3)
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        code = solver.solve(self.model)
        found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(code, "unknown")
        moves = None
        if found:
            moves = [(v, d) for v, row in self.x.items() for d, var in row.items()
                     if d != self.current[v] and solver.boolean_value(var)]
        # objective = weight·Σr + moves with moves < weight, so Σr ≥ floor(bound / weight).
        objective_bound = int(np.ceil(solver.best_objective_bound - 1e-9)) if found else None
        bound = objective_bound // self.weight if found else None
        return Solution(status, moves, bound, solver.wall_time, objective_bound)


def _numa_nodes(pms: np.ndarray) -> list[int]:
    return [int(n) for pm in pms for n in (2 * pm, 2 * pm + 1)]


def _dest_pm(dest: int, num_pms: int) -> int:
    return dest - 2 * num_pms if dest >= 2 * num_pms else dest // 2


def _footprint(state: VMState, vm: int, dest: int) -> list[tuple[int, int, int]]:
    """(NUMA node, cores, GiB) that ``vm`` occupies at ``dest``."""
    inst, num_pms = state.instance, state.instance.num_pms
    cpu, mem = int(inst.vm_cpu[vm]), int(inst.vm_mem[vm])
    if dest >= 2 * num_pms:
        pm = dest - 2 * num_pms
        return [(2 * pm, cpu // 2, mem // 2), (2 * pm + 1, cpu // 2, mem // 2)]
    return [(dest, cpu, mem)]


def _static_destinations(state: VMState, vm: int, pms: np.ndarray, current: int) -> list[int]:
    """Destinations of ``vm``'s kind on ``pms`` that could hold it in an empty cluster."""
    inst = state.instance
    if inst.vm_double[vm]:
        cpu, mem = inst.vm_cpu[vm] // 2, inst.vm_mem[vm] // 2
        fits = (inst.numa_cpu[pms].min(1) >= cpu) & (inst.numa_mem[pms].min(1) >= mem)
        dests = 2 * inst.num_pms + pms[fits]
    else:
        nodes = np.asarray(_numa_nodes(pms))
        fits = (inst.numa_cpu.reshape(-1)[nodes] >= inst.vm_cpu[vm]) & (
            inst.numa_mem.reshape(-1)[nodes] >= inst.vm_mem[vm]
        )
        dests = nodes[fits]
    return sorted({int(d) for d in dests} | {current})


# ------------------------------------------------------------------- time-indexed CP-SAT model


class SequenceModel:
    """Time-indexed CP-SAT model of the whole migration sequence within ``budget`` migrations.

    Steps t = 0..budget; step 0 is the current placement and every later one a legal placement
    (CPU and memory per NUMA node, anti-affinity per PM, double VMs on PMs). Booleans
    ``x[v, t, loc]`` place each movable VM at every step over its statically allowed
    destinations; ``moved[v, t]`` is true exactly when v's place differs between steps t − 1 and
    t, and at most one VM moves per step. A VM may move several times (e.g. to a temporary place
    that breaks a swap cycle), so any plan the env allows within ``budget`` migrations is a
    solution, and the plan read off the steps is legal by construction.

    The objective is that of :class:`PlacementModel` on the final step, (budget + 1)·Σ r +
    migrations. Symmetry breaking: idle steps come last, and a VM never moves in two
    consecutive steps (merging the two moves keeps every placement legal and saves one).

    The final-placement model is a relaxation (its optimum moves each VM at most once, and its
    move count never exceeds the migrations of a sequence reaching the same placement), so its
    proven objective bound may be passed as ``objective_bound`` to tighten this model.

    Args:
        state: The current simulator state.
        budget: Most migrations.
        objective_bound: A proven lower bound on the objective, or None.
    """

    def __init__(self, state: VMState, budget: int, objective_bound: int | None = None) -> None:
        if budget < 1:
            raise ValueError("the sequence model needs a budget of at least one migration")
        inst, g = state.instance, state.granularity
        self.state, self.steps, self.weight = state, budget, budget + 1
        self.model = cp_model.CpModel()
        pms = np.arange(inst.num_pms)
        current = {v: destination_of(state, v) for v in range(inst.num_vms)}
        dests = {v: _static_destinations(state, v, pms, current[v]) for v in current}
        self.movable = [v for v in current if len(dests[v]) > 1]
        self.current = {v: current[v] for v in self.movable}
        self.cells = sum(len(dests[v]) for v in self.movable) * (budget + 1)
        # Capacity left once the VMs that can never move are counted in.
        nodes = 2 * inst.num_pms
        base_cpu = inst.numa_cpu.reshape(-1).astype(np.int64)
        base_mem = inst.numa_mem.reshape(-1).astype(np.int64)
        for v in set(current) - set(self.movable):
            for numa, cpu, mem in _footprint(state, v, current[v]):
                base_cpu[numa] -= cpu
                base_mem[numa] -= mem
        # x[v][t][dest]: a bool var for t ≥ 1, the constant 0/1 at t = 0.
        self.x: dict[int, list[dict[int, cp_model.IntVar | int]]] = {}
        self.moved: dict[int, list[cp_model.IntVar]] = {}  # moved[v][t - 1] for t = 1..budget
        for v in self.movable:
            rows: list[dict] = [{d: int(d == current[v]) for d in dests[v]}]
            for t in range(1, budget + 1):
                row = {d: self.model.new_bool_var(f"x{v}_{t}_{d}") for d in dests[v]}
                self.model.add_exactly_one(row.values())
                rows.append(row)
            self.x[v] = rows
            self.moved[v] = [self.model.new_bool_var(f"m{v}_{t}") for t in range(1, budget + 1)]
            for t in range(1, budget + 1):
                moved, prev, here = self.moved[v][t - 1], rows[t - 1], rows[t]
                for d in dests[v]:
                    if isinstance(prev[d], int):
                        if prev[d]:  # v was at d: it moved iff it left d
                            self.model.add_bool_or([here[d], moved])
                            self.model.add_bool_or([here[d].Not(), moved.Not()])
                        else:  # arriving at d is a move
                            self.model.add_implication(here[d], moved)
                    else:
                        # Staying keeps the place (one direction suffices: both rows sum to 1),
                        # and a move changes it.
                        self.model.add_bool_or([here[d].Not(), prev[d], moved])
                        self.model.add_bool_or([here[d].Not(), prev[d].Not(), moved.Not()])
            for t in range(1, budget):  # two moves in a row of one VM merge into one
                self.model.add_bool_or([self.moved[v][t - 1].Not(), self.moved[v][t].Not()])
        per_step = [[self.moved[v][t] for v in self.movable] for t in range(budget)]
        for t in range(budget):
            self.model.add_at_most_one(per_step[t])
            if t + 1 < budget:  # idle steps come last
                self.model.add(sum(per_step[t + 1]) <= sum(per_step[t]))
        self._order_commuting_moves(state, per_step)
        # Capacity and anti-affinity at every step; the residuals r at the last one.
        residuals = []
        for t in range(1, budget + 1):
            cpu_terms: list[list] = [[] for _ in range(nodes)]
            mem_terms: list[list] = [[] for _ in range(nodes)]
            for v in self.movable:
                for d, var in self.x[v][t].items():
                    for numa, cpu, mem in _footprint(state, v, d):
                        cpu_terms[numa].append((var, cpu))
                        mem_terms[numa].append((var, mem))
            for numa in range(nodes):
                cpu_used = _weighted(cpu_terms[numa])
                self.model.add(_weighted(mem_terms[numa]) <= int(base_mem[numa]))
                if t < budget:
                    self.model.add(cpu_used <= int(base_cpu[numa]))
                    continue
                cap = int(base_cpu[numa])
                q = self.model.new_int_var(0, max(cap, 0) // g, f"q{numa}")
                r = self.model.new_int_var(0, g - 1, f"r{numa}")
                self.model.add(cpu_used + g * q + r == cap)
                residuals.append(r)
            self._anti_affinity(t)
        # Σ r ≡ T (mod g), as in PlacementModel.
        total_free = int(state.free_cpu.sum())
        self.residual = self.model.new_int_var(total_free % g, total_free, "residual")
        blocks = self.model.new_int_var(0, total_free // g, "blocks")
        self.model.add(self.residual == sum(residuals))
        self.model.add(self.residual + g * blocks == total_free)
        self.migrations = sum(m for v in self.movable for m in self.moved[v])
        self.objective = self.weight * self.residual + self.migrations
        if objective_bound is not None:
            self.bound(objective_bound)
        self.model.minimize(self.objective)

    def _order_commuting_moves(self, state: VMState, per_step: list[list]) -> None:
        """Symmetry breaking: two consecutive moves that touch disjoint PMs commute (each
        placement of the swapped order agrees with a legal one on every PM), so they go in
        VM order. A step's touched NUMA nodes are those whose VM count changes."""
        num_pms, budget = state.instance.num_pms, self.steps
        counts = [[[] for _ in range(2 * num_pms)] for _ in range(budget + 1)]
        for v in self.movable:
            for t in range(budget + 1):
                for d, var in self.x[v][t].items():
                    for numa, _, _ in _footprint(state, v, d):
                        counts[t][numa].append(var)
        touched = []  # touched[t - 1][pm] for t = 1..budget
        for t in range(1, budget + 1):
            row = []
            for pm in range(num_pms):
                flag = self.model.new_bool_var(f"touch{pm}_{t}")
                changed = []
                for numa in (2 * pm, 2 * pm + 1):
                    node = self.model.new_bool_var(f"touch{numa}n_{t}")
                    self.model.add(sum(counts[t][numa]) != sum(counts[t - 1][numa])).only_enforce_if(node)
                    changed.append(node)
                self.model.add_bool_or(changed).only_enforce_if(flag)
                row.append(flag)
            touched.append(row)
        rank = [sum((i + 1) * m for i, m in enumerate(moves)) for moves in per_step]
        for t in range(budget - 1):
            shared = self.model.new_bool_var(f"shared{t}")
            both = []
            for pm in range(num_pms):
                flag = self.model.new_bool_var(f"both{pm}_{t}")
                self.model.add_implication(flag, touched[t][pm])
                self.model.add_implication(flag, touched[t + 1][pm])
                both.append(flag)
            self.model.add_bool_or(both).only_enforce_if(shared)
            later = self.model.new_bool_var(f"busy{t + 1}")
            self.model.add(sum(per_step[t + 1]) == 1).only_enforce_if(later)
            self.model.add(sum(per_step[t + 1]) == 0).only_enforce_if(later.Not())
            self.model.add(rank[t] < rank[t + 1]).only_enforce_if([later, shared.Not()])

    def _anti_affinity(self, t: int) -> None:
        """At most one VM of each restricted job on each PM at step ``t``."""
        inst = self.state.instance
        fixed_pm = {v: _dest_pm(destination_of(self.state, v), inst.num_pms)
                    for v in range(inst.num_vms) if v not in self.x}
        restricted = np.flatnonzero(inst.vm_anti_affinity)
        for job in np.unique(inst.vm_job[restricted]):
            members = [int(v) for v in restricted[inst.vm_job[restricted] == job]]
            if len(members) < 2:
                continue
            for pm in range(inst.num_pms):
                on_pm = [var for v in members if v in self.x
                         for d, var in self.x[v][t].items() if _dest_pm(d, inst.num_pms) == pm]
                pinned = sum(1 for v in members if fixed_pm.get(v) == pm)
                if len(on_pm) + pinned > 1:
                    self.model.add(sum(on_pm) <= 1 - pinned)

    def canonical(self, sequence: list[Move]) -> list[Move]:
        """``sequence`` in the form the symmetry breaking admits, reaching the same placement
        through legal placements: consecutive moves of one VM merged, and consecutive moves on
        disjoint PMs swapped into VM order."""
        num_pms = self.state.instance.num_pms
        steps = list(sequence)
        changed = True
        while changed:
            changed = False
            where = dict(self.current)
            sources = []
            for v, d in steps:
                sources.append(where[v])
                where[v] = d
            for i in range(len(steps) - 1):
                (v, d), (w, e) = steps[i], steps[i + 1]
                if v == w:  # merge, or drop a move there and back
                    steps[i : i + 2] = [(v, e)] if e != sources[i] else []
                    changed = True
                    break
                pms_v = {_dest_pm(sources[i], num_pms), _dest_pm(d, num_pms)}
                pms_w = {_dest_pm(sources[i + 1], num_pms), _dest_pm(e, num_pms)}
                if w < v and not pms_v & pms_w:
                    steps[i], steps[i + 1] = steps[i + 1], steps[i]
                    changed = True
                    break
        return steps

    def hint(self, sequence: list[Move]) -> None:
        """Hints the step placements of a legal move sequence (at most ``budget`` long)."""
        where = dict(self.current)
        steps = self.canonical(sequence)[: self.steps]
        for t in range(1, self.steps + 1):
            mover = None
            if t <= len(steps):
                mover, where[mover] = steps[t - 1][0], steps[t - 1][1]
            for v in self.movable:
                self.model.add_hint(self.moved[v][t - 1], v == mover)
                for d, var in self.x[v][t].items():
                    self.model.add_hint(var, d == where[v])

    def reach(self, moves: list[Move], time_limit_s: float, workers: int, seed: int) -> "SequenceSolution":
        """The fewest-migration legal sequence to the placement that ``moves`` lead to, detours
        allowed (e.g. a temporary place that breaks a swap cycle), if one exists within the
        budget; solved under assumptions, so the model is left as it was."""
        final = dict(self.current)
        final.update(dict(moves))
        self.model.add_assumptions([self.x[v][self.steps][final[v]] for v in self.movable])
        try:
            return self.solve(time_limit_s, workers, seed)
        finally:
            self.model.clear_assumptions()

    def bound(self, objective_bound: int) -> None:
        """Adds a proven lower bound on the objective (e.g. from the final-placement model)."""
        self.model.add(self.objective >= int(objective_bound))

    def solve(self, time_limit_s: float, workers: int, seed: int) -> "SequenceSolution":
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(time_limit_s, 1e-3)
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        code = solver.solve(self.model)
        found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(code, "unknown")
        moves = None
        if found:
            moves = []
            for t in range(1, self.steps + 1):
                for v in self.movable:
                    if solver.boolean_value(self.moved[v][t - 1]):
                        dest = next(d for d, var in self.x[v][t].items() if solver.boolean_value(var))
                        moves.append((v, dest))
        bound = int(np.ceil(solver.best_objective_bound - 1e-9)) if found else None
        return SequenceSolution(status, moves, bound, solver.wall_time)


@dataclass
class SequenceSolution:
    """One solve of a :class:`SequenceModel`: ``moves`` is the ordered plan (None without one)
    and ``objective_bound`` the proven bound on (budget + 1)·Σ r + migrations."""

    status: str
    moves: list[Move] | None
    objective_bound: int | None
    seconds: float


def _weighted(terms: list[tuple[cp_model.IntVar, int]]) -> cp_model.LinearExpr:
    return cp_model.LinearExpr.weighted_sum([t[0] for t in terms], [t[1] for t in terms])


# ---------------------------------------------------------------------------- move ordering


class _Ledger:
    """Free capacity and job counts under a sequence of moves, with cheap undo (for ordering)."""

    def __init__(self, state: VMState) -> None:
        self.state = state
        self.free_cpu = state.free_cpu.reshape(-1).astype(np.int64)
        self.free_mem = state.free_mem.reshape(-1).astype(np.int64)
        self.job_pm_count = state.job_pm_count.copy()
        self.where: dict[int, int] = {}  # destination of each VM moved so far

    def location(self, vm: int) -> int:
        return self.where.get(vm, destination_of(self.state, vm))

    def fits(self, vm: int, dest: int) -> bool:
        """The env's legality rule for migrating ``vm`` to ``dest`` now."""
        num_pms = self.state.instance.num_pms
        for numa, cpu, mem in _footprint(self.state, vm, dest):
            if self.free_cpu[numa] < cpu or self.free_mem[numa] < mem:
                return False
        pm, row = _dest_pm(dest, num_pms), self.state.job_row[vm]
        same_pm = _dest_pm(self.location(vm), num_pms) == pm
        # The count includes the VM itself on its own PM; unrestricted VMs read an all-zero row.
        return self.job_pm_count[row, pm] - same_pm <= 0

    def move(self, vm: int, dest: int) -> int:
        """Moves ``vm`` (unchecked) and returns where it was, so that moving back undoes it."""
        src = self.location(vm)
        for numa, cpu, mem in _footprint(self.state, vm, src):
            self.free_cpu[numa] += cpu
            self.free_mem[numa] += mem
        for numa, cpu, mem in _footprint(self.state, vm, dest):
            self.free_cpu[numa] -= cpu
            self.free_mem[numa] -= mem
        row, num_pms = self.state.job_row[vm], self.state.instance.num_pms
        if row < self.job_pm_count.shape[0] - 1:  # the last row is the unrestricted dummy
            self.job_pm_count[row, _dest_pm(src, num_pms)] -= 1
            self.job_pm_count[row, _dest_pm(dest, num_pms)] += 1
        self.where[vm] = dest
        return src

    def residual(self) -> int:
        """Σ (free mod g) over the whole cluster."""
        return int((self.free_cpu % self.state.granularity).sum())


def order_moves(
    state: VMState, moves: list[Move], max_expansions: int = ORDER_EXPANSIONS
) -> tuple[list[Move], list[Move]]:
    """Orders ``moves`` so that every intermediate placement is legal.

    Depth-first search over the set of moves done so far (the placement depends only on that
    set), trying first the moves that free room on a PM that pending moves go to. A greedy order
    can dead-end where another one succeeds (filling a node that a later move needed before the
    move out of it), hence the backtracking; failed sets are memoised.

    Returns:
        The ordered moves and the moves left over: none if the whole set was ordered, else the
        longest legal sequence found and the moves it could not add (a deadlock, e.g. a swap).
    """
    ledger, n = _Ledger(state), len(moves)
    num_pms = state.instance.num_pms
    path: list[int] = []
    deepest: list[int] = []
    failed: set[int] = set()
    expansions = 0

    def candidates(done: int) -> list[int]:
        pending = [i for i in range(n) if not done >> i & 1]
        wanted = np.bincount([_dest_pm(moves[i][1], num_pms) for i in pending], minlength=num_pms)
        legal = [i for i in pending if ledger.fits(*moves[i])]
        return sorted(legal, key=lambda i: -wanted[_dest_pm(ledger.location(moves[i][0]), num_pms)])

    def search(done: int) -> bool:
        nonlocal deepest, expansions
        if len(path) == n:
            return True
        if len(path) > len(deepest):
            deepest = list(path)
        if done in failed or expansions >= max_expansions:
            return False
        expansions += 1
        for i in candidates(done):
            back = ledger.move(*moves[i])
            path.append(i)
            if search(done | 1 << i):
                return True
            path.pop()
            ledger.move(moves[i][0], back)
        failed.add(done)
        return False

    if search(0):
        return [moves[i] for i in path], []
    taken = set(deepest)
    return [moves[i] for i in deepest], [m for i, m in enumerate(moves) if i not in taken]


def order_with_detours(
    state: VMState, moves: list[Move], spare: int, max_expansions: int = ORDER_EXPANSIONS
) -> list[Move] | None:
    """A legal sequence to the placement ``moves`` lead to, using at most ``spare`` detours.

    A detour sends a VM of ``moves`` that sits where a blocked move wants to go to a temporary
    place first (one extra migration), which breaks swap cycles that :func:`order_moves` cannot
    order. Detours are tried by iterative deepening (fewest first); within a depth, the search is
    :func:`order_moves`' backtracking with direct moves first, memoised on the VMs' places.

    Returns:
        The sequence (len(moves) + detours long), or None if none was found.
    """
    target = dict(moves)
    num_pms = state.instance.num_pms
    all_pms = np.arange(num_pms)
    places = {v: _static_destinations(state, v, all_pms, destination_of(state, v)) for v in target}
    for depth in range(spare + 1):
        ledger = _Ledger(state)
        path: list[Move] = []
        parked: set[int] = set()
        failed: set[tuple] = set()
        expansions = 0

        def search(detours_left: int) -> bool:
            nonlocal expansions
            pending = [v for v in target if ledger.location(v) != target[v]]
            if not pending:
                return True
            key = (tuple(ledger.location(v) for v in target), detours_left)
            if key in failed or expansions >= max_expansions:
                return False
            expansions += 1
            wanted = np.bincount([_dest_pm(target[v], num_pms) for v in pending], minlength=num_pms)
            direct = [v for v in pending if ledger.fits(v, target[v])]
            direct.sort(key=lambda v: -wanted[_dest_pm(ledger.location(v), num_pms)])
            tries = [(v, target[v], False) for v in direct]
            if detours_left > 0:
                blocked = {_dest_pm(target[v], num_pms) for v in pending if v not in direct}
                for v in pending:
                    if v in parked or _dest_pm(ledger.location(v), num_pms) not in blocked:
                        continue
                    spots = [d for d in places[v]
                             if d not in (ledger.location(v), target[v]) and ledger.fits(v, d)]
                    spots.sort(key=lambda d: wanted[_dest_pm(d, num_pms)])
                    tries += [(v, d, True) for d in spots]
            for v, dest, detour in tries:
                back = ledger.move(v, dest)
                path.append((v, dest))
                if detour:
                    parked.add(v)
                if search(detours_left - detour):
                    return True
                if detour:
                    parked.discard(v)
                path.pop()
                ledger.move(v, back)
            failed.add(key)
            return False

        if search(depth):
            return path
    return None


def best_prefix(state: VMState, sequence: list[Move]) -> list[Move]:
    """The prefix of a legal sequence with the lowest fragmentation (the shortest among ties)."""
    ledger = _Ledger(state)
    best_len, best_res = 0, ledger.residual()
    for k, (vm, dest) in enumerate(sequence, start=1):
        ledger.move(vm, dest)
        if ledger.residual() < best_res:
            best_len, best_res = k, ledger.residual()
    return sequence[:best_len]


def final_fragment_rate(state: VMState, sequence: list[Move]) -> float:
    """The fragment rate after applying ``sequence`` to ``state`` (which is left untouched)."""
    ledger = _applied(state, sequence)
    total = int(ledger.free_cpu.sum())
    return ledger.residual() / total if total else 0.0


def _applied(state: VMState, sequence: list[Move]) -> _Ledger:
    ledger = _Ledger(state)
    for vm, dest in sequence:
        ledger.move(vm, dest)
    return ledger


# -------------------------------------------------------------------- solve, order, cut loop


@dataclass
class PartPlan:
    """A legal migration sequence for one subproblem and how it was obtained.

    Attributes:
        moves: The ordered moves.
        status: ``"optimal"`` if the plan is proven optimal for the sequential problem (fewest
            Σ (free mod g), then fewest migrations); ``"feasible"`` for any other plan from the
            solver; ``"unknown"`` if it found none.
        residual_bound: Lower bound on Σ (free mod g) over the subproblem's NUMA nodes, from the
            first solve (later solves carry heuristic cuts, so their bounds are not valid).
        rounds: Solves of the final-placement model (1 + the deadlock cuts).
        seconds: Total solver wall time.
        objective_bound: The first solve's bound on (budget + 1)·Σ r + migrations.
        detours: Extra migrations of the plan through temporary places.
        model: ``"final"`` or ``"sequence"`` (the time-indexed model produced or proved the plan).
        sequence_status: The time-indexed model's CP-SAT status, if it ran.
    """

    moves: list[Move] = field(default_factory=list)
    status: str = "unknown"
    residual_bound: int | None = None
    rounds: int = 0
    seconds: float = 0.0
    objective_bound: int | None = None
    detours: int = 0
    model: str = "final"
    sequence_status: str | None = None


def plan_part(
    state: VMState,
    pms: np.ndarray,
    budget: int,
    time_limit_s: float,
    workers: int,
    seed: int,
    max_rounds: int,
    reserve_s: float = 0.0,
) -> PartPlan:
    """Solves the placement of the VMs on ``pms`` and turns it into a legal migration sequence.

    If the solver's moves cannot all be ordered, the placement is reached with detours (a VM
    parked on a temporary place, :func:`order_with_detours`) when the budget allows, and the
    moves left over are cut off with a no-good and the model re-solved, up to ``max_rounds``
    solves within ``time_limit_s``; the best legal plan of all rounds is kept (a legal prefix at
    worst), so a plan never raises fragmentation.

    The first solve is a relaxation of the sequential problem (a sequence reaching a placement
    makes at least as many migrations as VMs it displaces), so a plan whose objective meets its
    bound is optimal, whichever round found it.

    Args:
        reserve_s: Time kept back for the caller: only the first solve may use it.
    """
    plan = PartPlan()
    if budget <= 0 or len(pms) == 0:  # nothing may move: staying put is optimal
        plan.status = "optimal"
        plan.residual_bound = int((state.free_cpu[pms] % state.granularity).sum())
        plan.objective_bound = (budget + 1) * plan.residual_bound
        return plan
    start = time.monotonic()
    deadline, cutoff = start + time_limit_s, start + time_limit_s - reserve_s
    model = PlacementModel(state, pms, budget)
    outside = _Ledger(state).residual() - int((state.free_cpu[pms] % state.granularity).sum())
    weight = budget + 1

    def objective(moves: list[Move]) -> int:
        return weight * (_applied(state, moves).residual() - outside) + len(moves)

    best, found = objective([]), False
    while plan.rounds < max_rounds and (plan.rounds == 0 or time.monotonic() < cutoff):
        limit = (deadline if plan.rounds == 0 else cutoff) - time.monotonic()
        solution = model.solve(limit, workers, seed)
        plan.rounds += 1
        plan.seconds += solution.seconds
        if plan.rounds == 1:
            plan.residual_bound = solution.residual_bound
            plan.objective_bound = solution.objective_bound
        if solution.moves is None:
            break
        found = True
        sequence, stuck = order_moves(state, solution.moves)
        candidate = sequence
        if stuck:
            model.forbid(stuck)
            detoured = order_with_detours(state, solution.moves, budget - len(solution.moves))
            candidate = detoured if detoured is not None else best_prefix(state, sequence)
        value = objective(candidate)
        if value <= best:
            best, plan.moves = value, candidate
            plan.detours = len(candidate) - len(solution.moves) if candidate is not sequence else 0
            proven = plan.objective_bound is not None and value <= plan.objective_bound
            plan.status = "optimal" if proven else "feasible"
        placement_value = objective(solution.moves)  # the solver's placement, order aside
        if plan.status == "optimal" or not stuck or (
            solution.status == "optimal" and placement_value >= best
        ):  # later rounds (more cuts) cannot beat the plan
            break
    if plan.status == "unknown" and found:
        plan.status = "feasible"  # the solver's plans were no better than staying put
    return plan


def plan_sequence(
    state: VMState,
    budget: int,
    time_limit_s: float,
    workers: int,
    seed: int,
    max_rounds: int,
    sequence_share: float,
) -> PartPlan:
    """The whole cluster's plan: :func:`plan_part`, then the time-indexed :class:`SequenceModel`
    if that plan is not proven optimal.

    The sequence model gets at least ``sequence_share`` of the time limit (later cut rounds give
    way to it; the first solve may take all). It is hinted with the best plan so far and bounded
    by the first solve's relaxation bound, so its optimality proof, or a plan meeting that bound,
    makes the plan optimal for the sequential problem.
    """
    start = time.monotonic()
    pms = np.arange(state.instance.num_pms)
    plan = plan_part(state, pms, budget, time_limit_s, workers, seed, max_rounds,
                     reserve_s=sequence_share * time_limit_s)
    left = start + time_limit_s - time.monotonic()
    if plan.status == "optimal" or plan.objective_bound is None or left <= 0.05:
        return plan
    model = SequenceModel(state, budget, plan.objective_bound)
    model.hint(plan.moves)
    solution = model.solve(start + time_limit_s - time.monotonic(), workers, seed)
    plan.seconds += solution.seconds
    plan.sequence_status, plan.model = solution.status, "sequence"
    if solution.objective_bound is not None:
        plan.objective_bound = max(plan.objective_bound, solution.objective_bound)
        plan.residual_bound = plan.objective_bound // (budget + 1)
    if solution.moves is not None and _legal(state, solution.moves):
        weight = budget + 1
        ours = weight * _applied(state, solution.moves).residual() + len(solution.moves)
        theirs = weight * _applied(state, plan.moves).residual() + len(plan.moves)
        if ours < theirs:
            plan.moves = solution.moves
            plan.detours = len(solution.moves) - _displaced(state, solution.moves)
        if solution.status == "optimal" or min(ours, theirs) <= plan.objective_bound:
            plan.status = "optimal"
    return plan


def sequence_cells(state: VMState, budget: int) -> int:
    """Size of the :class:`SequenceModel` of ``state``: Σ over the VMs that could move of their
    static destinations, times the budget + 1 steps."""
    pms = np.arange(state.instance.num_pms)
    places = [len(_static_destinations(state, v, pms, destination_of(state, v)))
              for v in range(state.instance.num_vms)]
    return sum(n for n in places if n > 1) * (budget + 1)


def _legal(state: VMState, sequence: list[Move]) -> bool:
    """Whether every migration of ``sequence`` is legal when made in order."""
    ledger = _Ledger(state)
    for vm, dest in sequence:
        if dest == ledger.location(vm) or not ledger.fits(vm, dest):
            return False
        ledger.move(vm, dest)
    return True


def _displaced(state: VMState, sequence: list[Move]) -> int:
    """VMs that end away from where they started."""
    ledger = _applied(state, sequence)
    return sum(ledger.location(v) != destination_of(state, v) for v in ledger.where)


# ------------------------------------------------------------------------------------ replay


class PlanReplayer:
    """Base of the planners: ``reset`` plans (via ``_plan``), ``act`` replays the plan.

    Each migration is two pointer actions (the VM node, then its destination node), followed by
    the stop node 0. Every action is checked against the env's mask before it is returned; an
    illegal one is replaced by stop, and the reason recorded in ``report.extra["fallback"]``.

    Args:
        time_limit_s: Wall-clock budget of the whole plan (all solves).
        workers: CP-SAT search workers. With 1 (the default) the search is sequential and, given
            the seed, reproducible whenever it ends before the time limit (e.g. proven optimal);
            a solve cut short by the limit depends on machine speed.
        seed: CP-SAT's random seed (and POP's partition seed); ``reset(env, seed)`` overrides it.
        max_rounds: Most solves per (sub)problem: the first plus re-solves after deadlock cuts.
    """

    name: str
    env_ids = ("schedgym/VMReschedule-v0",)

    def __init__(self, time_limit_s: float, workers: int, seed: int, max_rounds: int) -> None:
        if time_limit_s <= 0 or workers < 1 or max_rounds < 1:
            raise ValueError("time_limit_s must be positive, workers and max_rounds at least 1")
        self.time_limit_s = float(time_limit_s)
        self.workers = int(workers)
        self.seed = int(seed)
        self.max_rounds = int(max_rounds)
        self.report = SolverReport(time_limit_s=self.time_limit_s)
        self._actions: list[int] = []
        self._cursor = 0

    def _plan(self, state: VMState, budget: int, seed: int) -> tuple[list[Move], SolverReport]:
        """The ordered moves for ``state`` within ``budget`` migrations, and their report."""
        raise NotImplementedError

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        """Plans from the env's current state, which must be between migrations (phase 0)."""
        inner = env.unwrapped
        state = inner.state
        budget = inner.mnl - state.migrations
        moves, self.report = self._plan(state, budget, self.seed if seed is None else int(seed))
        nodes = inner._destination_nodes()
        self._actions = [a for vm, dest in moves for a in (inner._vm0 + vm, int(nodes[dest]))]
        self._actions.append(0)
        self._cursor = 0

    def act(self, env: gym.Env) -> int:
        if self._cursor >= len(self._actions):
            return 0
        action = self._actions[self._cursor]
        if not env.unwrapped.action_masks()[action]:
            self.report.extra["fallback"] = (
                f"planned action {action} (step {self._cursor}) is illegal here; stopped instead"
            )
            self._cursor = len(self._actions)
            return 0
        self._cursor += 1
        return action


def residual_to_fr(state: VMState, residual: int | None) -> float | None:
    """Σ (free mod g) as a fragment rate of the whole cluster (None stays None)."""
    total = int(state.free_cpu.sum())
    if residual is None:
        return None
    return residual / total if total else 0.0


def fr_report(
    state: VMState, moves: list[Move], status: str, time_limit_s: float,
    residual_bound: int | None, **extra: object,
) -> SolverReport:
    """A :class:`SolverReport` with the plan's final FR as objective and the bound as an FR."""
    return SolverReport(
        status=status,
        time_limit_s=time_limit_s,
        objective=final_fragment_rate(state, moves),
        bound=residual_to_fr(state, residual_bound),
        extra={
            "moves": len(moves),
            "initial_fragment_rate": fragment_rate(state.free_cpu, state.granularity),
            **extra,
        },
    )


__all__ = [
    "Move", "PlacementModel", "Solution", "SequenceModel", "SequenceSolution", "PartPlan",
    "PlanReplayer", "plan_part", "plan_sequence", "sequence_cells", "order_moves",
    "order_with_detours", "best_prefix", "final_fragment_rate", "fr_report", "residual_to_fr",
]
