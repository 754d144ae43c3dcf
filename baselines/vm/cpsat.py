"""CP-SAT rescheduling for ``schedgym/VMReschedule-v2``: the best migration sequence of at most
MNL migrations, solved exactly (within a deterministic work budget) and replayed as pointer actions.

Two models (:mod:`baselines.vm.plan`). The final-placement model
(:class:`~baselines.vm.models.PlacementModel`) picks every VM's final NUMA node (or PM, for double
VMs) under CPU, memory and anti-affinity constraints, moves at most MNL VMs, and minimises
Σ (free cores mod g), which is the fragment rate times the constant total of free cores, with
fewer moves as the tie-break. It is solved in two stages: first the least reachable Σ (free mod
g), from the proven floor of :mod:`baselines.vm.bound` (T mod g, or tighter under the migration
limit) up in steps of g, each value fixed in turn, which proves a value unreachable or finds the
fewest moves to it (several times faster to prove than the weighted objective); then the moves
are ordered so every intermediate placement is legal; a set that cannot be ordered (a swap
deadlock) is reached through a temporary place when the budget allows, and cut off with a
no-good before re-solving. It relaxes the real problem, so
its bound is valid and a plan that meets it is optimal.

The time-indexed model (:class:`~baselines.vm.models.SequenceModel`) is the real, sequential
problem: a legal placement at every step, at most one VM changing place per step, a VM free to
move more than once. When the final-placement plan is not proven optimal and the model is small
enough, it is solved next, hinted with that plan and bounded by the relaxation, so that its
"optimal" is optimal for the env's actual problem. Large clusters use the final-placement model
alone (as POP does for each part).

Both start from the greedy baseline's plan as the incumbent, so a plan cut short by the budget
is never worse than greedy's.
"""

from __future__ import annotations

import numpy as np

from schedgym.baselines.base import SolverReport
from schedgym.baselines.vm.greedy import greedy_moves
from schedgym.baselines.vm.models import Move
from schedgym.baselines.vm.ordering import applied
from schedgym.baselines.vm.plan import (PlanReplayer, fr_report, plan_part, plan_sequence,
                                       plan_value, sequence_cells)
from schedgym.envs.vm.types import VMState

#: Largest time-indexed model used: Σ (static destinations of the VMs that can move) × (MNL + 1).
#: The small clusters (10 PMs, ~75 VMs, MNL 10) have about 16,000.
SEQUENCE_MAX_CELLS = 50_000

#: Default budget of one plan, in CP-SAT deterministic seconds.
WORK_LIMIT = 10.0

#: Share of the budget the residual probes may use (the proofs; see ``plan_part``).
PROBE_SHARE = 0.5


class CpSatRescheduler(PlanReplayer):
    """Exact (budgeted) VM rescheduling with OR-Tools CP-SAT over the whole cluster.

    ``report.status`` is ``"optimal"`` when the plan is proven optimal for the sequential
    problem (fewest Σ free mod g after at most MNL legal migrations, then fewest migrations);
    ``report.objective`` is the plan's final fragment rate and ``report.bound`` a proven lower
    bound on the fragment rate after at most MNL migrations. ``report.extra["model"]`` says
    whether the time-indexed model ran (``"sequence"``) or not (``"final"``).

    The greedy baseline's plan (:func:`baselines.vm.greedy.greedy_moves`) is the incumbent: it
    is kept unless a better plan is found (and hints the time-indexed model while it is the
    best), so ``cpsat`` is never worse than ``greedy`` whatever the budget
    (``report.extra["from_greedy"]`` says it was kept).
    ``report.extra["fr_optimal"]`` says the plan's FR meets the proven bound, so only its
    migration count (the tie-break) may be unproven.

    Args:
        work_limit: Budget of all solves of one plan, in CP-SAT deterministic seconds (see
            :class:`baselines.vm.plan.PlanReplayer`). The default proved all of v1's
            small-test (``v1-small-test``) optimal with a margin (the costliest instance took
            2.6 deterministic seconds), but only 10 of the 20 instances of v2's small-test. A
            deterministic second took 2-4 wall seconds on the 2-core reference machine
            (``python -m benchmarks.solver_budget`` measures it).
        workers: CP-SAT search workers (interleaved, so the plan does not depend on load).
        seed: CP-SAT's random seed.
        max_rounds: Most solves of the final-placement model: the first plus re-solves after
            deadlock cuts.
        sequence_max_cells: Largest time-indexed model to build (see ``SEQUENCE_MAX_CELLS``);
            0 disables it.
        sequence_share: Share of ``work_limit`` kept for the time-indexed model (only the first
            final-placement solve may eat into it).
        probe_share: Share of ``work_limit`` the residual probes may use
            (:func:`baselines.vm.plan.plan_part`).
        symmetry: Symmetry breaking among identical VMs
            (:class:`~baselines.vm.models.PlacementModel`); off by default.
    """

    name = "cpsat"

    def __init__(
        self,
        work_limit: float = WORK_LIMIT,
        workers: int = 1,
        seed: int = 0,
        max_rounds: int = 5,
        sequence_max_cells: int = SEQUENCE_MAX_CELLS,
        sequence_share: float = 0.25,
        probe_share: float = PROBE_SHARE,
        symmetry: bool = False,
    ) -> None:
        super().__init__(work_limit, workers, seed, max_rounds)
        if sequence_max_cells < 0 or not 0.0 <= sequence_share < 1.0:
            raise ValueError("sequence_max_cells must be ≥ 0 and sequence_share in [0, 1)")
        if not 0.0 < probe_share <= 1.0:
            raise ValueError(f"probe_share must be in (0, 1], got {probe_share}")
        self.probe_share = float(probe_share)
        self.symmetry = bool(symmetry)
        self.sequence_max_cells = int(sequence_max_cells)
        self.sequence_share = float(sequence_share)

    def _plan(self, state: VMState, budget: int, seed: int) -> tuple[list[Move], SolverReport]:
        cells = sequence_cells(state, budget) if budget > 0 else 0
        incumbent = greedy_moves(state, budget)
        if 0 < cells <= self.sequence_max_cells:
            part = plan_sequence(state, budget, self.work_limit, self.workers, seed,
                                 self.max_rounds, self.sequence_share, incumbent,
                                 self.probe_share, self.symmetry)
        else:
            part = plan_part(state, np.arange(state.instance.num_pms), budget, self.work_limit,
                             self.workers, seed, self.max_rounds, incumbent=incumbent,
                             probe_share=self.probe_share, symmetry=self.symmetry)
        if plan_value(state, incumbent, budget) < plan_value(state, part.moves, budget):
            # Last resort (the planners start from the incumbent, so it should not happen).
            part.moves, part.status = incumbent, "feasible"
        from_greedy = part.moves == incumbent and len(incumbent) > 0
        report = fr_report(
            state, part.moves, part.status, self.work_limit, [part], part.residual_bound,
            model=part.model, rounds=part.rounds, detours=part.detours,
            sequence_status=part.sequence_status, sequence_cells=cells,
            work_by_stage={k: round(v, 3) for k, v in part.stages.items()},
            from_greedy=from_greedy,
            fr_optimal=part.residual_bound is not None
            and applied(state, part.moves).residual() <= part.residual_bound,
        )
        return part.moves, report
