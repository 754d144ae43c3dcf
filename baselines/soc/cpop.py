"""CPOP for the SoC DAG env (Topcuoglu, Hariri, Wu, IEEE TPDS 2002): priority rank_u + rank_d,
critical-path tasks on the one processor that minimises the path's execution time, the rest on
their earliest-finish processor, with insertion. Planned per job and replayed like HEFT."""

from __future__ import annotations

from schedgym.baselines.soc.common import PlanReplayScheduler, cpop


class CPOPScheduler(PlanReplayScheduler):
    """CPOP planner replayed as pointer actions (see :class:`PlanReplayScheduler`)."""

    name = "cpop"
    planner = staticmethod(cpop)
