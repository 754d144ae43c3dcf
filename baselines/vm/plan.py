"""The planners' loop (solve, order, cut, fall back to the sequence model) and the replay of a
plan as pointer actions; shared by the CP-SAT and POP baselines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from schedgym.baselines.base import SolverReport
from schedgym.baselines.vm.bound import residual_bound
from schedgym.baselines.vm.models import (Move, PlacementModel, SequenceModel, Solution,
                                         static_destinations)
from schedgym.baselines.vm.ordering import (
    Ledger,
    applied,
    best_prefix,
    final_fragment_rate,
    order_moves,
    order_with_detours,
)
from schedgym.envs.vm.sim import destination_of, fragment_rate
from schedgym.envs.vm.types import VMState

#: The unit of the planners' budgets (:attr:`SolverReport.budget_unit`).
WORK_UNIT = "CP-SAT deterministic s"

# -------------------------------------------------------------------- solve, order, cut loop


@dataclass
class PartPlan:
    """A legal migration sequence for one subproblem and how it was obtained.

    Attributes:
        moves: The ordered moves.
        status: ``"optimal"`` if the plan is proven optimal for the sequential problem (fewest
            Σ (free mod g), then fewest migrations); ``"feasible"`` for any other plan from the
            solver; ``"unknown"`` if it found none.
        residual_bound: Lower bound on Σ (free mod g) over the subproblem's NUMA nodes: the
            floor of :func:`baselines.vm.bound.residual_bound`, raised by the probes and the first
            placement solve (later solves carry heuristic cuts, so their bounds are not valid).
        rounds: Solves of the final-placement model (1 + the deadlock cuts).
        work: Total CP-SAT deterministic time of all solves (the budget's unit).
        seconds: Total solver wall time (reported only).
        objective_bound: The bound on (budget + 1)·Σ r + migrations of the same solves.
        detours: Extra migrations of the plan through temporary places.
        model: ``"final"`` or ``"sequence"`` (the time-indexed model produced or proved the plan).
        sequence_status: The time-indexed model's CP-SAT status, if it ran.
        stages: Deterministic time per stage: ``"probes"`` (residuals from the floor up),
            ``"rounds"`` (placement solves and re-solves after cuts), ``"sequence"``.
    """

    moves: list[Move] = field(default_factory=list)
    status: str = "unknown"
    residual_bound: int | None = None
    rounds: int = 0
    work: float = 0.0
    seconds: float = 0.0
    objective_bound: int | None = None
    detours: int = 0
    model: str = "final"
    sequence_status: str | None = None
    stages: dict[str, float] = field(default_factory=dict)

    def spend(self, stage: str, work: float, seconds: float) -> None:
        """Counts a solve's deterministic time (and wall time) against ``stage``."""
        self.work += work
        self.seconds += seconds
        self.stages[stage] = self.stages.get(stage, 0.0) + work


def plan_part(
    state: VMState,
    pms: np.ndarray,
    budget: int,
    work_limit: float,
    workers: int,
    seed: int,
    max_rounds: int,
    reserve: float = 0.0,
    probe_share: float = 0.5,
    incumbent: list[Move] | None = None,
    symmetry: bool = False,
) -> PartPlan:
    """Solves the placement of the VMs on ``pms`` and turns it into a legal migration sequence.

    Two stages. First the least reachable residual: from the proven floor of
    :func:`baselines.vm.bound.residual_bound` up in steps of g (Σ r ≡ T mod g), each value is
    tried with the residual fixed (:meth:`PlacementModel.solve_at`), which either proves it
    unreachable (the floor rises) or finds the fewest moves to it. These probes run only when
    ``budget`` can change every NUMA node (one migration per PM), where the floor is T mod g,
    and may use ``probe_share`` of ``work_limit``; after them (or if a probe ran out of budget)
    the solver minimises the weighted objective instead. Elsewhere the floor only bounds.
    Then the moves are ordered: if they cannot all be, the placement is reached with detours (a
    VM parked on a temporary place, :func:`order_with_detours`) when the budget allows, and the
    moves left over are cut off with a no-good and the model re-solved (at the same residual
    while one is fixed), up to ``max_rounds`` placement solves within ``work_limit``
    deterministic seconds in all; the best legal plan of all rounds is kept (a legal prefix at
    worst), so a plan never raises fragmentation.

    The first placement solve is a relaxation of the sequential problem (a sequence reaching a
    placement makes at least as many migrations as VMs it displaces), and the probes below its
    residual proved that no lower one exists, so a plan whose objective meets that solve's bound
    is optimal, whichever round found it.

    Args:
        reserve: Deterministic time kept back for the caller: only the first solve may use it.
        probe_share: Share of ``work_limit`` the probes of the first stage may use.
        incumbent: A legal move sequence of at most ``budget`` moves among ``pms`` (e.g.
            greedy's, :func:`baselines.vm.greedy.greedy_moves`): the plan to beat; the plan
            returned is never worse than it (nor than staying put). It is not the placement
            solves' hint: a hint at another residual than a probe's slowed the probes down.
        symmetry: Symmetry breaking among identical VMs (:class:`PlacementModel`).
    """
    plan = PartPlan()
    g, weight = state.granularity, budget + 1
    start = int((state.free_cpu[pms] % g).sum())
    if budget <= 0 or len(pms) == 0:  # nothing may move: staying put is optimal
        plan.status = "optimal"
        plan.residual_bound, plan.objective_bound = start, weight * start
        return plan
    cutoff = work_limit - reserve
    floor = residual_bound(state, budget, pms)  # T mod g where the probes run (the model's own)
    model = PlacementModel(state, pms, budget, symmetry)
    outside = Ledger(state).residual() - start

    def objective(moves: list[Move]) -> int:
        return weight * (applied(state, moves).residual() - outside) + len(moves)

    def run(solve: Callable[[float], Solution], limit: float, stage: str = "rounds") -> Solution:
        solution = solve(limit)
        plan.spend(stage, solution.work, solution.seconds)
        return solution

    def weighted(limit: float) -> Solution:
        return model.solve(limit, workers, seed)

    # Stage 1: probes from the floor up; `at` is the residual the placement solves then keep.
    # Only where the budget can change every NUMA node (a displaced VM changes two): such plans
    # often reach the floor T mod g (all of small-test does), while a plan that can change a few
    # nodes of many rarely reaches its floor, and proving that can take the whole budget (POP's
    # parts).
    at, first, first_floor = None, None, floor
    reaches_all = budget >= len(pms)
    probe_limit = min(probe_share * work_limit, cutoff) if reaches_all else 0.0
    while floor < start and plan.work < probe_limit:
        probe = run(lambda limit: model.solve_at(floor, limit, workers, seed),
                    probe_limit - plan.work, "probes")
        if probe.status != "infeasible":
            if probe.moves is not None:
                at, first = floor, probe
            break
        floor += g
    plan.residual_bound, plan.objective_bound = floor, weight * floor
    if floor >= start:  # no lower residual is reachable: staying put is optimal
        plan.status = "optimal"
        return plan
    if floor > first_floor:  # the probes proved the values below it unreachable
        model.raise_floor(floor)

    best, found = objective([]), False
    if incumbent and objective(incumbent) < best:
        best, plan.moves = objective(incumbent), list(incumbent)
        plan.detours = len(incumbent) - _displaced(state, incumbent)
        plan.status = "optimal" if best <= plan.objective_bound else "feasible"
    while plan.rounds < max_rounds and (plan.rounds == 0 or plan.work < cutoff):
        limit = (work_limit if plan.rounds == 0 else cutoff) - plan.work
        if first is not None:  # the probe that reached `at` is the first placement solve
            solution, first = first, None
        elif at is not None:
            solution = run(lambda limit: model.solve_at(at, limit, workers, seed), limit)
            if solution.status == "infeasible":  # the cuts left no placement at `at`
                at = None
                solution = run(weighted, limit - solution.work)
        else:
            solution = run(weighted, limit)
        plan.rounds += 1
        if plan.rounds == 1 and solution.objective_bound is not None:
            plan.objective_bound = max(plan.objective_bound, solution.objective_bound)
            plan.residual_bound = plan.objective_bound // weight
            if best <= plan.objective_bound:  # the incumbent meets the bound
                plan.status = "optimal"
        if solution.moves is None:
            break
        found = True
        sequence, stuck = order_moves(state, solution.moves)
        candidate, detours = sequence, 0
        if stuck:
            model.forbid(stuck)
            detoured = order_with_detours(state, solution.moves, budget - len(solution.moves))
            if detoured is not None:
                candidate, detours = detoured, len(detoured) - len(solution.moves)
            else:
                candidate = best_prefix(state, sequence)
        value = objective(candidate)
        if value <= best:
            best, plan.moves, plan.detours = value, candidate, detours
            plan.status = "optimal" if value <= plan.objective_bound else "feasible"
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
    work_limit: float,
    workers: int,
    seed: int,
    max_rounds: int,
    sequence_share: float,
    incumbent: list[Move] | None = None,
    probe_share: float = 0.5,
    symmetry: bool = False,
) -> PartPlan:
    """The whole cluster's plan: :func:`plan_part`, then the time-indexed :class:`SequenceModel`
    if that plan is not proven optimal.

    The sequence model gets at least ``sequence_share`` of ``work_limit`` (later cut rounds give
    way to it; the first solve may take all). It is hinted with the best plan so far and bounded
    by the first solve's relaxation bound, so its optimality proof, or a plan meeting that bound,
    makes the plan optimal for the sequential problem. ``incumbent``, ``probe_share`` and
    ``symmetry`` as in :func:`plan_part`.
    """
    pms = np.arange(state.instance.num_pms)
    plan = plan_part(state, pms, budget, work_limit, workers, seed, max_rounds,
                     reserve=sequence_share * work_limit, probe_share=probe_share,
                     incumbent=incumbent, symmetry=symmetry)
    left = work_limit - plan.work
    if plan.status == "optimal" or plan.objective_bound is None or left <= 0.05:
        return plan
    model = SequenceModel(state, budget, plan.objective_bound)
    model.hint(plan.moves)
    solution = model.solve(left, workers, seed)
    plan.spend("sequence", solution.work, solution.seconds)
    plan.sequence_status, plan.model = solution.status, "sequence"
    if solution.objective_bound is not None:
        plan.objective_bound = max(plan.objective_bound, solution.objective_bound)
        plan.residual_bound = plan.objective_bound // (budget + 1)
    if solution.moves is not None and _legal(state, solution.moves):
        weight = budget + 1
        ours = weight * applied(state, solution.moves).residual() + len(solution.moves)
        theirs = weight * applied(state, plan.moves).residual() + len(plan.moves)
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
    places = [len(static_destinations(state, v, pms, destination_of(state, v)))
              for v in range(state.instance.num_vms)]
    return sum(n for n in places if n > 1) * (budget + 1)


def _legal(state: VMState, sequence: list[Move]) -> bool:
    """Whether every migration of ``sequence`` is legal when made in order."""
    ledger = Ledger(state)
    for vm, dest in sequence:
        if dest == ledger.location(vm) or not ledger.fits(vm, dest):
            return False
        ledger.move(vm, dest)
    return True


def _displaced(state: VMState, sequence: list[Move]) -> int:
    """VMs that end away from where they started."""
    ledger = applied(state, sequence)
    return sum(ledger.location(v) != destination_of(state, v) for v in ledger.where)


# ------------------------------------------------------------------------------------ replay


class PlanReplayer:
    """Base of the planners: ``reset`` plans (via ``_plan``), ``act`` replays the plan.

    Each migration is two pointer actions (the VM node, then its destination node), followed by
    the stop node 0. Every action is checked against the env's mask before it is returned; an
    illegal one is replaced by stop, and the reason recorded in ``report.extra["fallback"]``.

    The budget is CP-SAT's deterministic time, summed over all solves of a plan, so a plan is a
    function of the state, ``work_limit``, ``workers`` and the seed alone, not of machine load;
    wall time is reported beside it (``report.wall_seconds``).

    Args:
        work_limit: Budget of the whole plan (all solves), in CP-SAT deterministic seconds.
        workers: CP-SAT search workers (interleaved, so any number is reproducible; 1 is
            sequential).
        seed: CP-SAT's random seed (and POP's partition seed); ``reset(env, seed)`` overrides it.
        max_rounds: Most solves per (sub)problem: the first plus re-solves after deadlock cuts.
    """

    name: str

    def __init__(self, work_limit: float, workers: int, seed: int, max_rounds: int) -> None:
        if not work_limit > 0 or workers < 1 or max_rounds < 1:
            raise ValueError(
                f"work_limit must be positive, workers and max_rounds at least 1; got "
                f"work_limit={work_limit}, workers={workers}, max_rounds={max_rounds}"
            )
        self.work_limit = float(work_limit)
        self.workers = int(workers)
        self.seed = int(seed)
        self.max_rounds = int(max_rounds)
        self.report = SolverReport(budget=self.work_limit, budget_unit=WORK_UNIT)
        self._actions: list[int] = []
        self._cursor = 0

    def _plan(self, state: VMState, budget: int, seed: int) -> tuple[list[Move], SolverReport]:
        """The ordered moves for ``state`` within ``budget`` migrations, and their report."""
        raise NotImplementedError

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        """Plans from the env's current state, which must be between migrations (phase 0)."""
        inner = env.unwrapped
        state = inner.state
        if state.selected_vm >= 0:
            raise ValueError("plan from a state between migrations: a VM is already selected")
        budget = inner.mnl - state.migrations
        moves, self.report = self._plan(state, budget, self.seed if seed is None else int(seed))
        self._actions = [a for vm, dest in moves for a in (inner.vm_node(vm), inner.destination_node(dest))]
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
    state: VMState, moves: list[Move], status: str, work_limit: float, plans: list[PartPlan],
    residual_bound: int | None, **extra: object,
) -> SolverReport:
    """A :class:`SolverReport` with the plan's final FR as objective and the bound as an FR;
    the work and wall time are the sums over ``plans``."""
    return SolverReport(
        status=status,
        budget=work_limit,
        budget_unit=WORK_UNIT,
        budget_used=sum(plan.work for plan in plans),
        wall_seconds=sum(plan.seconds for plan in plans),
        objective=final_fragment_rate(state, moves),
        bound=residual_to_fr(state, residual_bound),
        extra={
            "moves": len(moves),
            "initial_fragment_rate": fragment_rate(state.free_cpu, state.granularity),
            **extra,
        },
    )


def plan_value(state: VMState, moves: list[Move], budget: int) -> int:
    """The planners' objective of a legal sequence: (budget + 1)·Σ (free mod g) + migrations."""
    return (budget + 1) * applied(state, moves).residual() + len(moves)


__all__ = ["WORK_UNIT", "PartPlan", "PlanReplayer", "plan_part", "plan_sequence", "plan_value",
           "sequence_cells", "fr_report", "residual_to_fr"]
