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
    """

    status: str
    moves: list[Move] | None
    residual_bound: int | None
    seconds: float


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
        bound = int(np.floor(solver.best_objective_bound / self.weight + 1e-9)) if found else None
        return Solution(status, moves, bound, solver.wall_time)


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
        status: ``"optimal"`` only if the first solve was proven optimal and its moves ordered;
            ``"feasible"`` for any other plan from the solver; ``"unknown"`` if it found none.
        residual_bound: Lower bound on Σ (free mod g) over the subproblem's NUMA nodes, from the
            first solve (later solves carry heuristic cuts, so their bounds are not valid).
        rounds: Solves made (1 + the deadlock cuts).
        seconds: Total solver wall time.
    """

    moves: list[Move] = field(default_factory=list)
    status: str = "unknown"
    residual_bound: int | None = None
    rounds: int = 0
    seconds: float = 0.0


def plan_part(
    state: VMState,
    pms: np.ndarray,
    budget: int,
    time_limit_s: float,
    workers: int,
    seed: int,
    max_rounds: int,
) -> PartPlan:
    """Solves the placement of the VMs on ``pms`` and turns it into a legal migration sequence.

    If the solver's moves cannot all be ordered, the moves left over are cut off with a no-good
    and the model re-solved, up to ``max_rounds`` solves within ``time_limit_s``; meanwhile the
    best legal prefix of each round's sequence is kept, so a plan never raises fragmentation.
    """
    plan = PartPlan()
    if budget <= 0 or len(pms) == 0:  # nothing may move: staying put is optimal
        plan.status = "optimal"
        plan.residual_bound = int((state.free_cpu[pms] % state.granularity).sum())
        return plan
    deadline = time.monotonic() + time_limit_s
    model = PlacementModel(state, pms, budget)
    best_key, found = (_Ledger(state).residual(), 0), False
    while plan.rounds < max_rounds and (plan.rounds == 0 or time.monotonic() < deadline):
        solution = model.solve(deadline - time.monotonic(), workers, seed)
        plan.rounds += 1
        plan.seconds += solution.seconds
        if plan.rounds == 1:
            plan.residual_bound = solution.residual_bound
        if solution.moves is None:
            break
        found = True
        sequence, stuck = order_moves(state, solution.moves)
        if not stuck:
            candidate = sequence
        else:
            candidate = best_prefix(state, sequence)
            model.forbid(stuck)
        key = (_applied(state, candidate).residual(), len(candidate))
        if key <= best_key:
            best_key, plan.moves = key, candidate
            proven = solution.status == "optimal" and not stuck and plan.rounds == 1
            plan.status = "optimal" if proven else "feasible"
        if not stuck:
            break
    if plan.status == "unknown" and found:
        plan.status = "feasible"  # the solver's plans were no better than staying put
    return plan


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
    "Move", "PlacementModel", "Solution", "PartPlan", "PlanReplayer", "plan_part", "order_moves",
    "best_prefix", "final_fragment_rate", "fr_report", "residual_to_fr",
]
