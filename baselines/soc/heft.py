"""HEFT for the SoC DAG env (Topcuoglu, Hariri, Wu, IEEE TPDS 2002): upward rank on mean
costs, insertion-based earliest finish time. Plans each job (or the static batch) when it enters
the env's window, against the PEs' committed and planned work, and replays the plan."""

from __future__ import annotations

from schedgym.baselines.soc.common import PlanReplayScheduler, heft


class HEFTScheduler(PlanReplayScheduler):
    """HEFT planner replayed as pointer actions (see :class:`PlanReplayScheduler`)."""

    name = "heft"
    planner = staticmethod(heft)
