"""Every task to the cloud (the classic offload-everything baseline)."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement, earliest_response
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import CLOUD


class CloudScheduler(OrderedPlacement):
    """Arrival order; each task to the cloud node its device reaches with the least latency
    (then the lowest index), waiting while that node lacks the memory; a task whose device
    reaches no cloud goes where its result comes back earliest."""

    name = "cloud"

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int | None:
        row = sim.routes.device_row[sim.instance.device[task]]
        clouds = np.flatnonzero((sim.topology.tier == CLOUD) & sim.routes.runnable[row])
        if not len(clouds):
            return earliest_response(sim, task, feasible)
        nearest = int(clouds[np.lexsort((clouds, sim.routes.latency[row, clouds]))[0]])
        return nearest if feasible[nearest] else None
