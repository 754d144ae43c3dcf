"""Earliest deadline first dispatch with earliest-completion placement."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement, earliest_response
from schedgym.envs.iot.sim import IoTSim


class EDFScheduler(OrderedPlacement):
    """The waiting tasks in order of absolute deadline (arrival + deadline; ties by arrival),
    each to the feasible node with the earliest result back."""

    name = "edf"

    def order(self, env: gym.Env) -> np.ndarray:
        tasks = env.visible_tasks()
        inst = env.sim.instance
        return tasks[np.lexsort((tasks, inst.arrival[tasks] + inst.deadline_s[tasks]))]

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int:
        return earliest_response(sim, task, feasible)
