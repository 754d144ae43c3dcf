"""MET, minimum execution time (as in DS3, Arda et al. 2020; Braun et al., JPDC 2001): ready
tasks in arrival order, each to a PE of the kind that runs it fastest, ignoring load and data
transfers; among PEs of that kind, the one that can start it earliest."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.soc.common import DynamicListScheduler, arrival_keys


class METScheduler(DynamicListScheduler):
    """Fastest PE kind for each task, FIFO over ready tasks."""

    name = "met"

    def sort_keys(self, env, slots: np.ndarray) -> tuple[np.ndarray, ...]:
        return arrival_keys(env, slots)

    def pick_pe(self, env, slot: int, est: np.ndarray, eft: np.ndarray) -> int:
        cost = env.state.task_cost[slot]
        fastest = np.flatnonzero(cost <= cost.min() + 1e-9)
        return int(fastest[np.argmin(est[fastest])])
