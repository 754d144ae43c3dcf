"""CP-SAT models of VM rescheduling: the best final placement within a move budget
(:class:`PlacementModel`) and the time-indexed migration sequence (:class:`SequenceModel`).

A plan is a list of moves ``(vm, destination)`` with destinations indexed as in
:class:`envs.vm.types.VMState`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from schedgym.envs.vm.sim import destination_of
from schedgym.envs.vm.types import VMState

Move = tuple[int, int]  # (vm, destination)

# ------------------------------------------------------------------------------ CP-SAT model


@dataclass
class Solution:
    """One CP-SAT solve of a :class:`PlacementModel`.

    Attributes:
        status: ``"optimal"``, ``"feasible"``, ``"infeasible"`` (proven: no placement, e.g. at
            the residual :meth:`PlacementModel.solve_at` asked for) or ``"unknown"`` (no
            placement found in time).
        moves: The moves to the solver's placement (unordered), or None without one.
        residual_bound: Proven lower bound on Σ (free mod g) over the model's NUMA nodes.
        work: CP-SAT deterministic time the solve used (see :func:`_solve`).
        seconds: Solver wall time (reported only; no decision depends on it).
        objective_bound: Proven lower bound on the whole objective, (budget + 1)·Σ r + moves.
    """

    status: str
    moves: list[Move] | None
    residual_bound: int | None
    work: float
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

    Symmetry breaking (``symmetry``): VMs of one class (:func:`vm_classes`: same cores, memory,
    double flag and, for restricted VMs, job) are interchangeable, so among every optimal
    placement there is one where (a) the VMs of a class that start on the same place end on
    non-decreasing destinations in VM order, and (b) no place both loses and gains VMs of one
    class (cancelling such a pair keeps every node's load and every PM's job set and saves a
    move). Both cut only non-canonical solutions, so the optimum and the proven bound stay those
    of the model without them; :func:`canonical_moves` maps any placement to the admitted form.

    Args:
        state: The current simulator state (its placement is the starting point).
        pms: The PMs of the subproblem.
        budget: Most VMs that may move.
        symmetry: Whether to add the symmetry-breaking constraints (off by default: on v2's
            small-test few VMs share a class and a place, and the measured effect on the
            proofs' work was within CP-SAT's path-to-path noise).
    """

    def __init__(self, state: VMState, pms: np.ndarray, budget: int, symmetry: bool = False
                 ) -> None:
        self.state = state
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
            for dest in static_destinations(state, v, pms, self.current[v]):
                var = self.model.new_bool_var(f"x{v}_{dest}")
                self.x[v][dest] = var
                for numa, cpu, mem in footprint(state, v, dest):
                    cpu_terms[numa].append((var, cpu))
                    mem_terms[numa].append((var, mem))
            self.model.add_exactly_one(self.x[v].values())
            self.model.add_hint(self.x[v][self.current[v]], 1)
        stay = [self.x[v][self.current[v]] for v in self.x]
        self.model.add(sum(stay) >= len(stay) - budget)
        residuals = self._capacity(state, cpu_terms, mem_terms)
        self._anti_affinity(state, pms)
        if symmetry:
            self._break_symmetry(state)
        # Σ r = T − g·Σ q for the constant total T of free cores, so Σ r ≡ T (mod g). Stating it
        # with an integer Σ q gives CP-SAT the bound Σ r ≥ T mod g, which the LP relaxation
        # (fractional q) misses; on small clusters it is often what proves optimality.
        g = state.granularity
        total_free = int(state.free_cpu[pms].sum())
        self.residual = self.model.new_int_var(total_free % g, total_free, "residual")
        blocks = self.model.new_int_var(0, total_free // g, "blocks")
        self.model.add(self.residual == sum(residuals))
        self.model.add(self.residual + g * blocks == total_free)
        self.model.minimize(self.weight * self.residual + len(stay) - sum(stay))

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
                         if dest_pm(dest, inst.num_pms) == pm]
                if len(on_pm) > 1:
                    self.model.add_at_most_one(on_pm)

    def _break_symmetry(self, state: VMState) -> None:
        """Constraints (a) and (b) of the class docstring, per class of interchangeable VMs."""
        for members in vm_classes(state, self.vms).values():
            if len(members) < 2:
                continue
            by_place: dict[int, list[int]] = {}
            for v in members:
                by_place.setdefault(self.current[v], []).append(v)
            for group in by_place.values():  # (a): members share their destination lists
                for a, b in zip(group, group[1:]):
                    self.model.add(self._index(a) <= self._index(b))
            for place, group in by_place.items():  # (b): a place loses or gains, not both
                arrivals = [self.x[w][place] for w in members
                            if self.current[w] != place and place in self.x[w]]
                if not arrivals:
                    continue
                loses = self.model.new_bool_var(f"loses{place}_{group[0]}")
                for v in group:
                    self.model.add_implication(self.x[v][place].Not(), loses)
                for var in arrivals:
                    self.model.add_implication(var, loses.Not())

    def _index(self, v: int) -> cp_model.LinearExpr:
        """The index of ``v``'s destination as a linear expression of its booleans."""
        dests = list(self.x[v])
        return cp_model.LinearExpr.weighted_sum([self.x[v][d] for d in dests], dests)

    def raise_floor(self, residual: int) -> None:
        """States a proven lower bound on Σ r (e.g. after :meth:`solve_at` proved the values
        below it unreachable)."""
        self.model.add(self.residual >= int(residual))

    def forbid(self, moves: list[Move]) -> None:
        """No-good cut: the solver may no longer make all of ``moves`` together."""
        self.model.add(sum(self.x[v][d] for v, d in moves) <= len(moves) - 1)

    def solve_at(self, residual: int, work_limit: float, workers: int, seed: int) -> Solution:
        """:meth:`solve` with Σ r fixed to ``residual`` (under an assumption, so the model is left
        as it was): the fewest moves to a placement of that residual, or ``"infeasible"`` if none
        exists. Fixing it first is the fast road to a proof where the least residual is known:
        the solver then only minimises moves, several times faster than the weighted objective
        on small clusters."""
        at = self.model.new_bool_var(f"residual_at_{residual}")
        self.model.add(self.residual == int(residual)).only_enforce_if(at)
        self.model.add_assumptions([at])
        try:
            return self.solve(work_limit, workers, seed)
        finally:
            self.model.clear_assumptions()

    def solve(self, work_limit: float, workers: int, seed: int) -> Solution:
        """Solves the model as it stands (cuts included) within ``work_limit`` deterministic
        seconds."""
        solver, status = _solve(self.model, work_limit, workers, seed)
        found = status in ("optimal", "feasible")
        moves = None
        if found:
            moves = [(v, d) for v, row in self.x.items() for d, var in row.items()
                     if d != self.current[v] and solver.boolean_value(var)]
        # objective = weight·Σr + moves with moves < weight, so Σr ≥ floor(bound / weight).
        objective_bound = int(np.ceil(solver.best_objective_bound - 1e-9)) if found else None
        bound = objective_bound // self.weight if found else None
        return Solution(status, moves, bound, solver.deterministic_time, solver.wall_time, objective_bound)


def vm_classes(state: VMState, vms: np.ndarray) -> dict[tuple, list[int]]:
    """``vms`` grouped by interchangeability: the same cores, memory, double flag and
    anti-affinity flag, and for a restricted VM the same job (VM order within a class)."""
    inst = state.instance
    classes: dict[tuple, list[int]] = {}
    for v in map(int, vms):
        restricted = bool(inst.vm_anti_affinity[v])
        key = (int(inst.vm_cpu[v]), int(inst.vm_mem[v]), bool(inst.vm_double[v]), restricted,
               int(inst.vm_job[v]) if restricted else -1)
        classes.setdefault(key, []).append(v)
    return classes


def canonical_moves(state: VMState, moves: list[Move], current: dict[int, int] | None = None
                    ) -> list[Move]:
    """The moves to a placement equivalent to the one ``moves`` lead to (the same VMs of each
    class on every place), in the form :class:`PlacementModel`'s symmetry breaking admits: as
    many VMs of a class stay as the two placements share, the rest leave in VM order to the
    places that gained, and each class's VMs from one place end in destination order. Never
    more moves than ``moves``.

    Args:
        current: Each VM's place now (default: every VM's, from ``state``).
    """
    if current is None:
        current = {v: destination_of(state, v) for v in range(state.instance.num_vms)}
    final = dict(current)
    final.update(dict(moves))
    out: list[Move] = []
    for members in vm_classes(state, np.fromiter(current, np.int64)).values():
        start = {p: [v for v in members if current[v] == p] for p in {current[v] for v in members}}
        counts: dict[int, int] = {}
        for v in members:
            counts[final[v]] = counts.get(final[v], 0) + 1
        gains: list[int] = []  # one entry per VM a place gains, in place order
        for place in sorted(counts):
            gains += [place] * max(0, counts[place] - len(start.get(place, [])))
        leavers = []
        for place in sorted(start):
            group = start[place]
            leavers += group[counts.get(place, 0):] if counts.get(place, 0) < len(group) else []
        assigned = dict(zip(leavers, gains))
        for place in sorted(start):  # destination order within each starting place
            group = start[place]
            dests = sorted(assigned.get(v, place) for v in group)
            out += [(v, d) for v, d in zip(group, dests) if d != place]
    return sorted(out)


def _numa_nodes(pms: np.ndarray) -> list[int]:
    return [int(n) for pm in pms for n in (2 * pm, 2 * pm + 1)]


def dest_pm(dest: int, num_pms: int) -> int:
    return dest - 2 * num_pms if dest >= 2 * num_pms else dest // 2


def footprint(state: VMState, vm: int, dest: int) -> list[tuple[int, int, int]]:
    """(NUMA node, cores, GiB) that ``vm`` occupies at ``dest``."""
    inst, num_pms = state.instance, state.instance.num_pms
    cpu, mem = int(inst.vm_cpu[vm]), int(inst.vm_mem[vm])
    if dest >= 2 * num_pms:
        pm = dest - 2 * num_pms
        return [(2 * pm, cpu // 2, mem // 2), (2 * pm + 1, cpu // 2, mem // 2)]
    return [(dest, cpu, mem)]


def static_destinations(state: VMState, vm: int, pms: np.ndarray, current: int) -> list[int]:
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
        dests = {v: static_destinations(state, v, pms, current[v]) for v in current}
        self.movable = [v for v in current if len(dests[v]) > 1]
        self.current = {v: current[v] for v in self.movable}
        # Capacity left once the VMs that can never move are counted in.
        nodes = 2 * inst.num_pms
        base_cpu = inst.numa_cpu.reshape(-1).astype(np.int64)
        base_mem = inst.numa_mem.reshape(-1).astype(np.int64)
        for v in set(current) - set(self.movable):
            for numa, cpu, mem in footprint(state, v, current[v]):
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
                    for numa, cpu, mem in footprint(state, v, d):
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
                    for numa, _, _ in footprint(state, v, d):
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
        fixed_pm = {v: dest_pm(destination_of(self.state, v), inst.num_pms)
                    for v in range(inst.num_vms) if v not in self.x}
        restricted = np.flatnonzero(inst.vm_anti_affinity)
        for job in np.unique(inst.vm_job[restricted]):
            members = [int(v) for v in restricted[inst.vm_job[restricted] == job]]
            if len(members) < 2:
                continue
            for pm in range(inst.num_pms):
                on_pm = [var for v in members if v in self.x
                         for d, var in self.x[v][t].items() if dest_pm(d, inst.num_pms) == pm]
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
                pms_v = {dest_pm(sources[i], num_pms), dest_pm(d, num_pms)}
                pms_w = {dest_pm(sources[i + 1], num_pms), dest_pm(e, num_pms)}
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

    def reach(self, moves: list[Move], work_limit: float, workers: int, seed: int) -> "SequenceSolution":
        """The fewest-migration legal sequence to the placement that ``moves`` lead to, detours
        allowed (e.g. a temporary place that breaks a swap cycle), if one exists within the
        budget; solved under assumptions, so the model is left as it was."""
        final = dict(self.current)
        final.update(dict(moves))
        self.model.add_assumptions([self.x[v][self.steps][final[v]] for v in self.movable])
        try:
            return self.solve(work_limit, workers, seed)
        finally:
            self.model.clear_assumptions()

    def bound(self, objective_bound: int) -> None:
        """Adds a proven lower bound on the objective (e.g. from the final-placement model)."""
        self.model.add(self.objective >= int(objective_bound))

    def solve(self, work_limit: float, workers: int, seed: int) -> "SequenceSolution":
        """Solves the model within ``work_limit`` deterministic seconds."""
        solver, status = _solve(self.model, work_limit, workers, seed)
        found = status in ("optimal", "feasible")
        moves = None
        if found:
            moves = []
            for t in range(1, self.steps + 1):
                for v in self.movable:
                    if solver.boolean_value(self.moved[v][t - 1]):
                        dest = next(d for d, var in self.x[v][t].items() if solver.boolean_value(var))
                        moves.append((v, dest))
        bound = int(np.ceil(solver.best_objective_bound - 1e-9)) if found else None
        return SequenceSolution(status, moves, bound, solver.deterministic_time, solver.wall_time)


@dataclass
class SequenceSolution:
    """One solve of a :class:`SequenceModel`: ``moves`` is the ordered plan (None without one)
    and ``objective_bound`` the proven bound on (budget + 1)·Σ r + migrations; ``work`` and
    ``seconds`` as in :class:`Solution`."""

    status: str
    moves: list[Move] | None
    objective_bound: int | None
    work: float
    seconds: float


def _weighted(terms: list[tuple[cp_model.IntVar, int]]) -> cp_model.LinearExpr:
    return cp_model.LinearExpr.weighted_sum([t[0] for t in terms], [t[1] for t in terms])


def _solve(model: cp_model.CpModel, work_limit: float, workers: int, seed: int) -> tuple[cp_model.CpSolver, str]:
    """Runs CP-SAT on ``model``; returns the solver and ``"optimal"``, ``"feasible"``,
    ``"infeasible"`` (proven, under the model's assumptions if it has any) or ``"unknown"``.

    The solve stops on CP-SAT's *deterministic* time (a count of the work done, calibrated to be
    roughly seconds on a quiet machine), never on the clock, so its result is a function of the
    model, ``seed``, ``workers`` and ``work_limit`` alone, whatever the machine's load. Several
    workers search interleaved (CP-SAT's deterministic parallel mode) for the same reason.
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = max(work_limit, 1e-3)
    solver.parameters.num_workers = workers
    solver.parameters.interleave_search = workers > 1
    solver.parameters.random_seed = seed
    code = solver.solve(model)
    names = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
             cp_model.INFEASIBLE: "infeasible"}
    return solver, names.get(code, "unknown")
