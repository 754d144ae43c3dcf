"""The IoT placement simulation: decision epochs, reservations of links and cores, energy.

Model (our formulation, inspired by arXiv 2508.04334; equations from the simulators in
``../shared/reference/iot_edge.md``):

- **Epochs.** Tasks are placed at decision epochs. With ``decision_interval`` Δ > 0 the epochs
  are the multiples of Δ and a task arriving in ((k − 1)Δ, kΔ] waits for epoch kΔ (windowed
  batches); with Δ = 0 every distinct arrival time is an epoch. At an epoch the scheduler places
  waiting tasks one by one in any order, or holds the rest to the next epoch (:meth:`hold`):
  with Δ > 0 one Δ later, with Δ = 0 the next arrival or memory release (``idle_step`` later if
  neither comes). A waiting task whose deadline has passed at an epoch is dropped.
- **Transfer** (RayCloudSim's bandwidth reservation): the input of a task placed on node j
  travels the device's least-latency route (``envs.iot.routes``) as one flow that holds every
  link channel of the route for ``input_bits / bottleneck bandwidth``, starting when all of
  them are free (flows are served in the order they are placed), and arrives one path latency
  after that. Results travel back uncontended (small outputs): path latency + ``output_bits /
  bottleneck``. A task run on its own device transfers nothing.
- **Run**: FIFO in placement order on the node's core that frees first, from
  ``max(input arrival, core free)`` for ``cycles / freq_hz`` (RayCloudSim's execution time).
  The task holds ``memory_mb`` on the node from placement to its finish; a node without the
  memory is masked.
- **Energy** (iFogSim's linear model ``P(u) = P_idle + (P_max − P_idle)·u``, ``u`` = busy cores
  / cores, integrated over time): each task adds ``(P_max − P_idle) / cores × run time`` on its
  node, plus ``tx_power_w × input_bits / bottleneck`` on its device's radio when offloaded; the
  idle part ``Σ P_idle × horizon`` is the same under every schedule up to the horizon (the last
  result back), so it is in ``energy_j`` but not in the objective.

Because every reservation is made at placement, a task's finish, response and energy are known
the moment it is placed; so the objective is charged then (:meth:`place` returns it).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from schedgym.envs.iot.routes import Routes, compute_routes
from schedgym.envs.iot.types import (CLOUD, DEVICE, DROPPED, EDGE, FOG, PENDING, PLACED, TIER_NAMES, WAITING,
                                     IoTInstance, IoTState)


@dataclass(frozen=True)
class Weights:
    """Weights of the objective to minimise: ``response × Σ response time (s) + miss × deadline
    misses + drop × drops + energy × task energy (J)``. A dropped task counts as a miss too and
    adds its waiting time to the response term."""

    response: float = 1.0
    miss: float = 1.0
    drop: float = 1.0
    energy: float = 0.1


@dataclass(frozen=True)
class Timeline:
    """What placing a task on each of some nodes would reserve; one entry per node, (n,)."""

    nodes: np.ndarray  # (n,) int64
    transfer_start: np.ndarray  # (n,) float64 s, the input flow starts
    transfer_time: np.ndarray  # (n,) float64 s, the flow holds its links this long
    input_arrival: np.ndarray  # (n,) float64 s
    core: np.ndarray  # (n,) int64 the core it would run on
    start: np.ndarray  # (n,) float64 s
    finish: np.ndarray  # (n,) float64 s
    response: np.ndarray  # (n,) float64 s, result back at the device − arrival
    energy_j: np.ndarray  # (n,) float64 J
    feasible: np.ndarray  # (n,) bool, runnable from the task's device with the memory free now


class IoTSim:
    """The event simulation behind ``schedgym/IoTPlacement-v0`` (module docstring).

    Args:
        instance: The workload and its topology.
        decision_interval: Δ, seconds between epochs (0: every arrival).
        idle_step: Seconds a hold with no pending event advances (Δ = 0 only).
        weights: The objective's weights.
    """

    def __init__(self, instance: IoTInstance, decision_interval: float = 0.01, idle_step: float = 0.01,
                 weights: Weights = Weights()) -> None:
        instance.validate()
        self.instance = instance
        self.topology = instance.topology
        self.routes: Routes = compute_routes(self.topology)
        self.decision_interval = decision_interval
        self.idle_step = idle_step
        self.weights = weights
        self._check_servable()
        topo, m, k = self.topology, instance.num_tasks, self.topology.num_nodes
        core_free = np.full((k, int(topo.cores.max())), np.inf)
        for node, cores in enumerate(topo.cores):
            core_free[node, :cores] = 0.0
        nan = np.full(m, np.nan)
        self.state = IoTState(
            time=0.0, status=np.full(m, PENDING, np.int8), node=np.full(m, -1, np.int64),
            input_arrival=nan.copy(), start=nan.copy(), finish=nan.copy(), response=nan.copy(),
            energy_j=np.zeros(m), core_free=core_free, link_free=np.zeros(2 * topo.num_links),
            memory_used=np.zeros(k), busy_core_s=np.zeros(k), arrived=0, selected=-1)
        self.waiting: list[int] = []  # arrived tasks to place, in arrival order
        self.objective = 0.0  # Σ of the weighted costs charged so far
        self._releases: list[tuple[float, int]] = []  # (finish, task) of memory to release
        self._resolved = 0  # tasks placed or dropped
        self._dynamic_power = (topo.p_max_w - topo.p_idle_w) / topo.cores  # W per busy core
        self._local_time = instance.cycles / topo.freq_hz[instance.device]  # s on its own device
        self._pad_links = np.append(self.state.link_free, -np.inf)  # link_free with a -1 sentinel
        # Hot-path layouts: route channels hop-major, so their max runs over the short axis 0.
        self._route_channels = np.ascontiguousarray(self.routes.links.transpose(0, 2, 1))  # D, H, K
        self._nodes = np.arange(k)
        # The last full timeline (task, state version, plan), reused by ``place``; the version
        # counts every change of the state (only ``place`` and ``_advance`` make them).
        self._version = 0
        self._memo: tuple[int, int, Timeline] | None = None
        if m:
            self._advance(self.epoch_of(float(instance.arrival[0])))

    # ------------------------------------------------------------------ queries

    @property
    def done(self) -> bool:
        """Whether every task has been placed or dropped."""
        return self._resolved == self.instance.num_tasks

    def timeline(self, task: int, nodes: np.ndarray | None = None) -> Timeline:
        """What placing waiting ``task`` on each of ``nodes`` (default: every node) would
        reserve now, without changing anything (``inf`` times where a node cannot run it)."""
        inst, topo, st, routes = self.instance, self.topology, self.state, self.routes
        # Every node is indexed by a slice: views instead of gathered copies (the hot path).
        index = slice(None) if nodes is None else np.asarray(nodes, np.int64)
        row = routes.device_row[inst.device[task]]
        self._pad_links[:-1] = st.link_free
        links_free = self._pad_links[self._route_channels[row][:, index]].max(axis=0)
        bottleneck = routes.bottleneck[row, index]
        transfer_start = np.maximum(st.time, links_free)
        transfer_time = inst.input_bits[task] / bottleneck  # 0 on the device itself (inf bandwidth)
        latency = routes.latency[row, index]
        input_arrival = transfer_start + transfer_time + latency
        core = st.core_free[index].argmin(axis=1)
        start = np.maximum(input_arrival, st.core_free[self._nodes[index], core])
        finish = start + inst.cycles[task] / topo.freq_hz[index]
        back = finish + latency + inst.output_bits[task] / bottleneck
        energy = (self._dynamic_power[index] * (finish - start)
                  + topo.tx_power_w[inst.device[task]] * transfer_time)
        feasible = routes.runnable[row, index] & (st.memory_used[index] + inst.memory_mb[task]
                                                  <= topo.memory_mb[index])
        plan = Timeline(np.arange(topo.num_nodes) if nodes is None else index, transfer_start,
                        transfer_time, input_arrival, core, start, finish,
                        back - inst.arrival[task], energy, feasible)
        if nodes is None:
            self._memo = (task, self._version, plan)
        return plan

    def feasible(self, tasks: np.ndarray) -> np.ndarray:
        """Which nodes may take each of ``tasks`` now, (len(tasks), K) bool."""
        inst, topo, st = self.instance, self.topology, self.state
        rows = self.routes.device_row[inst.device[tasks]]
        fits = st.memory_used[None, :] + inst.memory_mb[tasks][:, None] <= topo.memory_mb[None, :]
        return self.routes.runnable[rows] & fits

    def cost(self, response: float, missed: bool, energy_j: float, dropped: bool = False) -> float:
        """The weighted objective increment of one resolved task."""
        w = self.weights
        return w.response * response + w.miss * missed + w.drop * dropped + w.energy * energy_j

    def next_event(self) -> float:
        """When a hold moves the clock to (the next epoch; see the module docstring)."""
        st, inst = self.state, self.instance
        if self.decision_interval > 0:  # epochs are k·Δ exactly, so round() recovers k
            return (round(st.time / self.decision_interval) + 1) * self.decision_interval
        candidates = [float(inst.arrival[st.arrived])] if st.arrived < inst.num_tasks else []
        if self._releases:
            candidates.append(self._releases[0][0])
        later = [t for t in candidates if t > st.time]
        return min(later) if later else st.time + self.idle_step

    # ------------------------------------------------------------------ operations

    def place(self, task: int, node: int) -> float:
        """Places waiting ``task`` on ``node`` and returns the objective it costs. Moves on to
        the next epoch with waiting tasks when none is left (charging any drops there too).

        Raises:
            ValueError: If the task is not waiting or the node cannot take it now.
        """
        st, inst = self.state, self.instance
        if not 0 <= task < inst.num_tasks or st.status[task] != WAITING:
            raise ValueError(f"task {task} is not waiting to be placed")
        memo = self._memo  # the plan a rule (or the encoder) just computed, if still current
        current = memo is not None and memo[:2] == (task, self._version)
        plan = memo[2] if current else self.timeline(task)
        if not 0 <= node < self.topology.num_nodes or not plan.feasible[node]:
            raise ValueError(f"node {node} cannot take task {task} now (unreachable or out of memory)")
        channels = self.routes.links[self.routes.device_row[inst.device[task]], node]
        channels = channels[channels >= 0]
        self._version += 1
        st.link_free[channels] = plan.transfer_start[node] + plan.transfer_time[node]
        st.core_free[node, plan.core[node]] = plan.finish[node]
        st.memory_used[node] += inst.memory_mb[task]
        st.busy_core_s[node] += plan.finish[node] - plan.start[node]
        heapq.heappush(self._releases, (float(plan.finish[node]), task))
        st.status[task], st.node[task] = PLACED, node
        st.input_arrival[task], st.start[task], st.finish[task] = (
            plan.input_arrival[node], plan.start[node], plan.finish[node])
        st.response[task], st.energy_j[task] = plan.response[node], plan.energy_j[node]
        st.selected = -1
        self.waiting.remove(task)
        self._resolved += 1
        response = float(plan.response[node])
        charged = self.cost(response, bool(response > inst.deadline_s[task]),
                            float(plan.energy_j[node]))
        self.objective += charged
        if not self.waiting:
            charged += self._advance(self._next_arrival_epoch())
        return charged

    def hold(self) -> float:
        """Leaves the waiting tasks to the next epoch; returns the objective of the drops there."""
        self.state.selected = -1
        return self._advance(self.next_event())

    # ------------------------------------------------------------------ time

    def epoch_of(self, t: float) -> float:
        """The first epoch at or after ``t``: ``k·Δ`` for the least integer k with ``k·Δ ≥ t``
        (checked in floating point, so the arrivals it admits are exactly those ≤ the epoch)."""
        step = self.decision_interval
        if step <= 0:
            return t
        k = math.ceil(t / step)
        while k > 0 and (k - 1) * step >= t:
            k -= 1
        while k * step < t:
            k += 1
        return k * step

    def _next_arrival_epoch(self) -> float | None:
        st, inst = self.state, self.instance
        return None if st.arrived == inst.num_tasks else self.epoch_of(float(inst.arrival[st.arrived]))

    def _advance(self, target: float | None) -> float:
        """Moves to epoch ``target`` (None: the episode is over), skipping epochs where nothing
        waits; admits arrivals, releases memory, drops expired tasks. Returns the drops' cost."""
        charged = 0.0
        st, inst = self.state, self.instance
        self._version += 1
        while target is not None:
            st.time = max(st.time, target)
            while st.arrived < inst.num_tasks and inst.arrival[st.arrived] <= st.time:
                st.status[st.arrived] = WAITING
                self.waiting.append(st.arrived)
                st.arrived += 1
            while self._releases and self._releases[0][0] <= st.time:
                _, task = heapq.heappop(self._releases)
                st.memory_used[st.node[task]] -= inst.memory_mb[task]
            charged += self._drop_expired()
            if self.waiting:
                break
            target = self._next_arrival_epoch()
        return charged

    def _drop_expired(self) -> float:
        st, inst = self.state, self.instance
        charged = 0.0
        for task in [t for t in self.waiting if inst.arrival[t] + inst.deadline_s[t] <= st.time]:
            st.status[task] = DROPPED
            st.response[task] = np.nan
            self.waiting.remove(task)
            self._resolved += 1
            charged += self.cost(st.time - float(inst.arrival[task]), True, 0.0, dropped=True)
        self.objective += charged
        return charged

    def _check_servable(self) -> None:
        """Refuses a task that no node could ever take (unreachable or too big for any memory)."""
        inst, topo = self.instance, self.topology
        rows = self.routes.device_row[inst.device]
        fits = inst.memory_mb[:, None] <= topo.memory_mb[None, :]
        bad = np.flatnonzero(~(self.routes.runnable[rows] & fits).any(axis=1))
        if len(bad):
            task = int(bad[0])
            raise ValueError(f"IoT instance {inst.name!r}: task {task} needs {inst.memory_mb[task]} MB, more than "
                             f"any node its device {int(inst.device[task])} reaches has")

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> dict[str, Any]:
        """Every metric of the episode so far (the env's ``info`` at the end)."""
        return episode_metrics(self)


def episode_metrics(sim: IoTSim) -> dict[str, Any]:
    """Response time, deadlines, energy, utilisation and fairness of the tasks resolved so far.

    ``deadline_hit_ratio`` counts every task (a dropped one misses); response times are over
    placed tasks; the horizon runs from 0 to the last result back (or the current time, if
    later); ``fairness_jain`` is Jain's index over devices of their tasks' mean slowdown
    (response / run time on the device itself, placed tasks only).
    """
    st, inst, topo = sim.state, sim.instance, sim.topology
    placed = st.status == PLACED
    response = st.response[placed]
    back = inst.arrival[placed] + response
    horizon = max(float(back.max()) if len(back) else 0.0, st.time)
    hits = int((response <= inst.deadline_s[placed]).sum())
    idle_j = float(topo.p_idle_w.sum() * horizon)
    task_j = float(st.energy_j.sum())
    busy = st.busy_core_s / (topo.cores * horizon) if horizon > 0 else np.zeros(topo.num_nodes)
    slowdown = response / sim._local_time[placed]
    devices = inst.device[placed]
    per_device = np.bincount(devices, slowdown, minlength=topo.num_nodes)
    counts = np.bincount(devices, minlength=topo.num_nodes)
    means = per_device[counts > 0] / counts[counts > 0]
    fairness = float(means.sum() ** 2 / (len(means) * (means ** 2).sum())) if len(means) else 1.0
    tier_of_placed = topo.tier[st.node[placed]]
    metrics: dict[str, Any] = {
        "objective": sim.objective,
        "response_time_mean": float(response.mean()) if len(response) else 0.0,
        "response_time_p95": float(np.percentile(response, 95)) if len(response) else 0.0,
        "deadline_hit_ratio": hits / max(inst.num_tasks, 1),
        "energy_j": idle_j + task_j,
        "energy_task_j": task_j,
        "utilization_mean": float(busy.mean()),
        "fairness_jain": fairness,
        "tasks_completed": int(placed.sum()),
        "tasks_dropped": int((st.status == DROPPED).sum()),
        "time": st.time,
    }
    for tier in (DEVICE, EDGE, FOG, CLOUD):
        metrics[f"share_{TIER_NAMES[tier]}"] = float((tier_of_placed == tier).mean()) if len(response) else 0.0
    return metrics
