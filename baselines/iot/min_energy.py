"""Least energy that still meets the deadline, else earliest completion."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement, earliest_response
from schedgym.envs.iot.sim import IoTSim


class MinEnergyScheduler(OrderedPlacement):
    """Arrival order; each task to the feasible node of least task energy (CPU dynamic energy
    plus its device's radio energy) among those whose result comes back by its deadline (ties:
    earlier result, then the lower index); if none meets it, the earliest result."""

    name = "min_energy"

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int:
        plan = sim.timeline(task)
        meets = np.flatnonzero(feasible & (plan.response <= sim.instance.deadline_s[task]))
        if not len(meets):
            return earliest_response(sim, task, feasible)
        order = np.lexsort((meets, plan.response[meets], plan.energy_j[meets]))
        return int(meets[order[0]])
