"""FIFO for the SoC DAG env: ready tasks in arrival order (job arrival, then readiness, then
task index), each to the PE with the earliest expected finish time."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.soc.common import DynamicListScheduler, arrival_keys


class FIFOScheduler(DynamicListScheduler):
    """First come, first served over ready tasks; earliest-finish PE."""

    name = "fifo"

    def sort_keys(self, env, slots: np.ndarray) -> tuple[np.ndarray, ...]:
        return arrival_keys(env, slots)
