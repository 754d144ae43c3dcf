"""Greedy earliest completion: each task, in arrival order, to the node where its result comes
back soonest (minimum expected completion time over all nodes, the MCT rule of Maheswaran et al.,
1999, as used by offloading heuristics)."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement, earliest_response
from schedgym.envs.iot.sim import IoTSim


class GreedyScheduler(OrderedPlacement):
    """Arrival order; each task to the feasible node with the earliest result back at its
    device, given every reservation made so far (ties: less energy, then the lower index)."""

    name = "greedy"

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int:
        return earliest_response(sim, task, feasible)
