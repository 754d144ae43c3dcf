"""Every task on its own device (no offloading): no radio energy, no network wait."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement
from schedgym.envs.iot.sim import IoTSim


class LocalScheduler(OrderedPlacement):
    """Arrival order; each task runs on the device that generated it, waiting while the device
    lacks the memory."""

    name = "local"

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int | None:
        device = int(sim.instance.device[task])
        return device if feasible[device] else None
