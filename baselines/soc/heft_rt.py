"""HEFT_RT, the run-time HEFT that DeepSoCS compares against (Sung et al., Electronics 2020):
at every decision, the ready tasks are ordered by HEFT's upward rank (mean costs, computed per
job) and the highest goes to the PE with the earliest finish time; no look-ahead, no insertion."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.soc.common import DynamicListScheduler


class HEFTRTScheduler(DynamicListScheduler):
    """Ready tasks by decreasing upward rank, each to its earliest-finish PE."""

    name = "heft_rt"

    def sort_keys(self, env, slots: np.ndarray) -> tuple[np.ndarray, ...]:
        # Highest rank first; ties to the earlier job, then the lower task index.
        s = env.state
        return s.task_index[slots], s.task_arrival[slots], -s.task_rank[slots]
