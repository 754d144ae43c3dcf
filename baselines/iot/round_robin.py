"""Round robin over the compute nodes: the load-spreading floor."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement
from schedgym.envs.iot.sim import IoTSim


class RoundRobinScheduler(OrderedPlacement):
    """Arrival order; a cursor cycles over the topology's nodes in index order and each task
    goes to the next node, from the cursor on, that can take it (its own device among the
    devices), after which the cursor moves past that node."""

    name = "round_robin"

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._cursor = 0

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int:
        k = len(feasible)
        order = (self._cursor + np.arange(k)) % k
        node = int(order[np.argmax(feasible[order])])
        self._cursor = (node + 1) % k
        return node
