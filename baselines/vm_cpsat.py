"""CP-SAT rescheduling for ``schedgym/VMReschedule-v0``: the best final placement reachable with
at most MNL migrations, solved exactly (within a time limit) and replayed as a legal sequence.

The model (:class:`baselines.vm_plan.PlacementModel`) picks every VM's final NUMA node (or PM, for
double VMs) under CPU, memory and anti-affinity constraints, moves at most MNL VMs, and minimises
Σ (free cores mod g), which is the fragment rate times the constant total of free cores, with
fewer moves as the tie-break. Each VM moves at most once; the moves are then ordered so every
intermediate placement is legal, and a set that cannot be ordered (a swap deadlock) is cut off
with a no-good before re-solving.
"""

from __future__ import annotations

import numpy as np

from baselines.base import SolverReport
from baselines.vm_plan import Move, PlanReplayer, fr_report, plan_part
from envs.vm.types import VMState


class CpSatRescheduler(PlanReplayer):
    """Exact (time-limited) VM rescheduling with OR-Tools CP-SAT over the whole cluster.

    ``report.status`` is ``"optimal"`` when CP-SAT proved the placement optimal and its moves
    were ordered without cuts; ``report.objective`` is the plan's final fragment rate and
    ``report.bound`` a proven lower bound on the fragment rate after at most MNL migrations.

    Args:
        time_limit_s: Wall-clock budget of all solves of one plan.
        workers: CP-SAT search workers; 1 keeps the search sequential and reproducible (see
            :class:`baselines.vm_plan.PlanReplayer`).
        seed: CP-SAT's random seed.
        max_rounds: Most solves: the first plus re-solves after deadlock cuts.
    """

    name = "cpsat"

    def __init__(
        self, time_limit_s: float = 10.0, workers: int = 1, seed: int = 0, max_rounds: int = 5
    ) -> None:
        super().__init__(time_limit_s, workers, seed, max_rounds)

    def _plan(self, state: VMState, budget: int, seed: int) -> tuple[list[Move], SolverReport]:
        part = plan_part(
            state, np.arange(state.instance.num_pms), budget, self.time_limit_s, self.workers,
            seed, self.max_rounds,
        )
        report = fr_report(
            state, part.moves, part.status, self.time_limit_s, part.residual_bound,
            rounds=part.rounds, solve_seconds=part.seconds,
        )
        return part.moves, report
