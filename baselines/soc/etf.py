"""ETF for the SoC DAG env. DS3 (Arda et al. 2020) uses the earliest-finish-time variant: over
all (ready task, PE) pairs, commit the pair that finishes first, then repeat.
``criterion="start"`` gives Hwang et al.'s original Earliest Task First (SIAM J. Comput. 1989):
the pair that *starts* first, ties broken by the larger static level (upward rank here)."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.soc.common import SoCScheduler


class ETFScheduler(SoCScheduler):
    """Global earliest finish (or start) over all ready task-PE pairs.

    Args:
        criterion: ``"finish"`` (DS3's ETF, default) or ``"start"`` (Hwang's ETF).
    """

    name = "etf"

    def __init__(self, criterion: str = "finish") -> None:
        super().__init__()
        if criterion not in ("finish", "start"):
            raise ValueError(f"criterion must be 'finish' or 'start', got {criterion!r}")
        self.criterion = criterion

    def choose(self, env) -> tuple[int, int] | None:
        slots = env.ready_slots()
        if len(slots) == 0:
            return None
        est, eft = env.eft_matrix(slots)
        rows, pes = np.nonzero(np.isfinite(eft))
        e, f = est[rows, pes], eft[rows, pes]
        if self.criterion == "finish":
            keys = (pes, rows, e, f)  # earliest finish, then earliest start, then lower index
        else:
            rank = env.state.task_rank[slots][rows]
            keys = (pes, rows, f, -rank, e)  # earliest start, then larger static level
        k = int(np.lexsort(keys)[0])
        return int(slots[rows[k]]), int(pes[k])
