"""Weighted fair queuing across devices (Demers, Keshav & Shenker, SIGCOMM 1989; Parekh &
Gallager, IEEE/ACM ToN 1993), as the dispatch order of the IoT env.

Each device is a flow. A node serves its tasks FIFO in placement order, so the order in which
the waiting tasks are placed is every node's queue order; WFQ decides that order. Task ``k`` of
device ``u``, arriving at ``a_k`` with ``L_k`` cycles, gets the start tag ``S_k = max(V(a_k),
F_u)`` (``F_u`` the finish tag of ``u``'s previous task) and the finish tag ``F_k = S_k + L_k
/ w_u``; the waiting task of the smallest finish tag is placed first, on the node where its
result comes back earliest (:func:`baselines.iot.common.earliest_response`).

Choices of this formulation (``../shared/reference/fair_queuing.md`` gives the definitions):

- The size ``L_k`` is the task's cycles, not its run time on a node: the order is decided
  before the node, and cycles are what every node must serve.
- ``V`` is the virtual time of the fluid GPS reference system: the whole network as one server
  of capacity ``C = Σ cores × frequency`` over all nodes (cycles/s), so ``dV/dt = C / Σ w_u``
  over the devices backlogged in GPS (``F_u > V``); it holds while none is.
- Only the env's window of waiting tasks (the first ``window`` in arrival order) can be placed,
  so WFQ reorders within it.
"""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np

from schedgym.baselines.iot.common import OrderedPlacement, earliest_response
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.validation import ArgumentTypeError, check_float, check_int


class WFQScheduler(OrderedPlacement):
    """Waiting tasks in order of WFQ finish tag (ties: arrival), each to the feasible node with
    the earliest result back (module docstring).

    Args:
        weights: Weight of each device, by its node index (default 1 for every device not
            named); each finite and > 0. A named node must be a device of the episode's
            topology (checked at ``reset``).

    Attributes:
        finish_tag: The finish tag of every task tagged so far (NaN before its arrival), (M,).
        virtual_time: ``V`` at the last arrival tagged, in cycles per unit weight.
    """

    name = "wfq"

    def __init__(self, weights: Mapping[int, float] | None = None) -> None:
        super().__init__()
        if weights is not None and not isinstance(weights, Mapping):
            raise ArgumentTypeError(f"weights must be a mapping of device node index to weight, "
                                    f"got {weights!r}")
        self.weights = {check_int("weights key", node, low=0):
                        check_float(f"weights[{node}]", weight, low=0.0, low_open=True)
                        for node, weight in (weights or {}).items()}

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        super().reset(env, seed)
        sim: IoTSim = env.unwrapped.sim
        topo = sim.topology
        devices = set(topo.devices.tolist())
        unknown = sorted(set(self.weights) - devices)
        if unknown:
            raise ValueError(f"weights names node {unknown[0]}, not a device of instance "
                             f"{sim.instance.name!r}; its devices are {sorted(devices)}")
        self._weight = np.ones(topo.num_nodes)
        for node, weight in self.weights.items():
            self._weight[node] = weight
        self._capacity = float((topo.cores * topo.freq_hz).sum())
        self._flow_finish = np.zeros(topo.num_nodes)  # F_u, the last finish tag of each device
        self.finish_tag = np.full(sim.instance.num_tasks, np.nan)
        self.virtual_time = 0.0
        self._virtual_at = 0.0  # the real time V was last advanced to
        self._tagged = 0

    def order(self, env: gym.Env) -> np.ndarray:
        self._tag_arrivals(env.sim)
        tasks = env.visible_tasks()
        return tasks[np.lexsort((tasks, self.finish_tag[tasks]))]

    def node_for(self, sim: IoTSim, task: int, feasible: np.ndarray) -> int:
        return earliest_response(sim, task, feasible)

    def _tag_arrivals(self, sim: IoTSim) -> None:
        """Tags the tasks arrived since the last call, in arrival order, each at its arrival."""
        inst = sim.instance
        for task in range(self._tagged, sim.state.arrived):
            self._advance_virtual(float(inst.arrival[task]))
            device = inst.device[task]
            start = max(self.virtual_time, self._flow_finish[device])
            finish = start + inst.cycles[task] / self._weight[device]
            self.finish_tag[task] = self._flow_finish[device] = finish
        self._tagged = sim.state.arrived

    def _advance_virtual(self, t: float) -> None:
        """Moves ``V`` to real time ``t``: at ``C / Σ w`` of the backlogged devices, which
        change each time ``V`` passes one's last finish tag."""
        while self._virtual_at < t:
            backlogged = self._flow_finish > self.virtual_time
            if not backlogged.any():  # GPS is idle: V holds
                self._virtual_at = t
                return
            weight = float(self._weight[backlogged].sum())
            next_finish = float(self._flow_finish[backlogged].min())
            reached = self._virtual_at + (next_finish - self.virtual_time) * weight / self._capacity
            if reached > t:
                self.virtual_time += (t - self._virtual_at) * self._capacity / weight
                self._virtual_at = t
            else:  # a device's backlog ends first: the rate changes there
                self.virtual_time, self._virtual_at = next_finish, reached
