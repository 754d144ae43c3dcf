"""POP rescheduling for ``schedgym/VMReschedule-v2``, the partitioned baseline of VMR2L.

After Narayanan et al., "Solving Large-Scale Granular Resource Allocation Problems Efficiently
with POP", SOSP 2021: split the PMs into k random parts, let each part's VMs move only within
their part, give each part a share of the migration budget in proportion to its VMs, solve every
part with the final-placement CP-SAT model (:class:`baselines.vm.models.PlacementModel`, via
:func:`baselines.vm.plan.plan_part`), and combine the plans. The parts share
no PM, so their moves never interact and the combined sequence is legal.
"""

from __future__ import annotations

import math

import numpy as np

from schedgym.baselines.base import SolverReport
from schedgym.baselines.vm.models import Move
from schedgym.baselines.vm.greedy import greedy_moves
from schedgym.baselines.vm.plan import (PartPlan, PlanReplayer, fr_report, plan_part, plan_value,
                                       residual_to_fr)
from schedgym.envs.vm.types import VMState

#: PMs per part when ``parts`` is not given.
PMS_PER_PART = 20

#: Default budget of one plan (all parts), in CP-SAT deterministic seconds.
WORK_LIMIT = 30.0


class PopRescheduler(PlanReplayer):
    """CP-SAT on random PM partitions, for clusters too large to solve whole.

    ``report.status`` is ``"optimal"`` only with one part (then POP is plain CP-SAT); with more
    parts the plan is at best ``"feasible"``, since partitioning restricts the moves, and
    ``report.bound`` is None (``extra["partition_bound"]`` bounds only the restricted problem).
    Greedy's plan is the incumbent of a single part and, with several, replaces the combined plan
    when it is better (``extra["from_greedy"]``), so POP is never worse than ``greedy``.

    Args:
        parts: Number of parts k; default ceil(P / 20).
        work_limit: Budget of the whole plan in CP-SAT deterministic seconds (see
            :class:`baselines.vm.plan.PlanReplayer`); each part gets an equal share of what the
            parts before it left.
        workers: CP-SAT search workers per part (see :class:`baselines.vm.plan.PlanReplayer`).
        seed: Seed of the partition and of CP-SAT.
        max_rounds: Most solves per part: the first plus re-solves after deadlock cuts.
    """

    name = "pop"

    def __init__(
        self,
        parts: int | None = None,
        work_limit: float = WORK_LIMIT,
        workers: int = 1,
        seed: int = 0,
        max_rounds: int = 5,
    ) -> None:
        super().__init__(work_limit, workers, seed, max_rounds)
        if parts is not None and parts < 1:
            raise ValueError(f"parts must be at least 1, got {parts}")
        self.parts = parts

    def _plan(self, state: VMState, budget: int, seed: int) -> tuple[list[Move], SolverReport]:
        num_pms = state.instance.num_pms
        k = min(self.parts or math.ceil(num_pms / PMS_PER_PART), num_pms)
        groups = partition_pms(num_pms, k, seed)
        vm_counts = [int(np.isin(state.vm_pm, pms).sum()) for pms in groups]
        budgets = split_budget(budget, vm_counts)
        incumbent = greedy_moves(state, budget)  # one part is the whole cluster: greedy's plan fits
        plans: list[PartPlan] = []
        for i, (pms, part_budget) in enumerate(zip(groups, budgets)):
            share = max(self.work_limit - sum(plan.work for plan in plans), 0.0) / (k - i)
            plans.append(plan_part(state, pms, part_budget, share, self.workers, seed,
                                   self.max_rounds, incumbent=incumbent if k == 1 else None))
        moves = [move for plan in plans for move in plan.moves]
        if k == 1:
            status = plans[0].status
        else:  # partitioning restricts the moves, so no part's optimality carries over
            status = "unknown" if all(plan.status == "unknown" for plan in plans) else "feasible"
        from_greedy = False
        if plan_value(state, incumbent, budget) < plan_value(state, moves, budget):
            moves, status, from_greedy = incumbent, "feasible", True  # never worse than greedy
        bounds = [plan.residual_bound for plan in plans]
        residual_bound = None if None in bounds else sum(bounds)
        report = fr_report(
            state, moves, status, self.work_limit, plans, residual_bound if k == 1 else None,
            parts=k,
            part_statuses=[plan.status for plan in plans],
            partition_bound=residual_to_fr(state, residual_bound),
            rounds=sum(plan.rounds for plan in plans),
            from_greedy=from_greedy or (k == 1 and bool(moves) and moves == incumbent),
        )
        return moves, report


def partition_pms(num_pms: int, parts: int, seed: int) -> list[np.ndarray]:
    """Splits PMs ``0..num_pms-1`` into ``parts`` random groups of near-equal size (sorted)."""
    order = np.random.default_rng(seed).permutation(num_pms)
    return [np.sort(group) for group in np.array_split(order, parts)]


def split_budget(budget: int, weights: list[int]) -> list[int]:
    """Splits ``budget`` in proportion to ``weights`` by largest remainders (sums to budget)."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    quotas = [budget * w / total for w in weights]
    shares = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - quotas[i], i))
    for i in by_remainder[: budget - sum(shares)]:
        shares[i] += 1
    return shares
