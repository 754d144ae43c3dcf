"""Shared pieces of the IoT placement baselines: a rule picks (task, node) pairs; the adapter
turns each into the env's two pointer steps (task in phase 0, node in phase 1)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.envs.iot.env import HOLD_NODE
from schedgym.envs.iot.sim import IoTSim


class PlacementRule:
    """A baseline that decides one placement at a time.

    Subclasses implement :meth:`choose`; this class turns its answer into pointer actions and
    holds (node 0) when it returns ``None``. A rule reads only ``sim`` and
    ``visible_tasks()`` of ``env.unwrapped``, which is what lets the headless path
    (:mod:`envs.iot.fastsim`) run the rules it lists without the env.
    """

    name = "placement-rule"

    def __init__(self) -> None:
        self._pending: tuple[int, int] | None = None

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self._pending = None

    def choose(self, env: gym.Env) -> tuple[int, int] | None:
        """The next (task, node) to place among the visible waiting tasks, or ``None`` to hold."""
        raise NotImplementedError

    def act(self, env: gym.Env) -> int:
        iot = env.unwrapped
        if iot.phase == 1:
            if self._pending is None or self._pending[0] != iot.state.selected:
                return HOLD_NODE  # a selection this rule did not make: drop it
            node = self._pending[1]
            self._pending = None
            return iot.compute_node(node)
        self._pending = self.choose(iot)
        return HOLD_NODE if self._pending is None else iot.task_node(self._pending[0])


class OrderedPlacement(PlacementRule):
    """Tasks in an order (:meth:`order`; arrival order by default), each to the node
    :meth:`node_for` picks among those that can take it now; a task it finds no node for now
    waits, and the next one in the order is tried."""

    def order(self, env: gym.Env) -> np.ndarray:
        """The visible waiting tasks in the order to place them."""
        return env.visible_tasks()

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int | None:
        """The node for ``task`` among the ``feasible`` ones ((K,) bool, at least one set), or
        ``None`` to leave it waiting."""
        raise NotImplementedError

    def choose(self, env: gym.Env) -> tuple[int, int] | None:
        sim = env.sim
        tasks = self.order(env)
        if not len(tasks):
            return None
        feasible = sim.feasible(tasks)
        for task, row in zip(tasks, feasible):
            node = self.node_for(sim, int(task), row) if row.any() else None
            if node is not None:
                return int(task), int(node)
        return None


def earliest_response(sim: IoTSim, task: int, feasible: np.ndarray) -> int:
    """The feasible node giving ``task`` the earliest result back (then the least energy, then
    the lowest index)."""
    plan = sim.timeline(task)
    candidates = np.flatnonzero(feasible)
    order = np.lexsort((candidates, plan.energy_j[candidates], plan.response[candidates]))
    return int(candidates[order[0]])
