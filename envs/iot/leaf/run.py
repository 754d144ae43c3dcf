"""One SchedGym IoT workload played in LEAF under :class:`SchedGymOrchestrator`, with LEAF's
energy accounting beside SchedGym's.

Each task becomes a LEAF application ``SourceTask(device) → ProcessingTask → SinkTask(device)``
(the result returns to its device), placed by the orchestrator at the task's decision epoch,
so the driver decides in the state SchedGym would decide in. LEAF applications are
steady-state (tasks hold CU and flows hold bandwidth for as long as they are placed) and LEAF
has no execution or transfer times, so the application itself holds nothing (0 CU, 0 bit/s: it
records where LEAF placed the task and which links its flows take) and the resources are held,
as LEAF's ``examples/1_single_node.py`` does, with ``Task.allocate`` / ``DataFlow.allocate`` at
the times SchedGym reserved: the input flow at the route's bottleneck rate while it transfers,
one CU on the node while the task runs. Results are not allocated: SchedGym sends them
uncontended (they may overlap, which LEAF's bandwidth check would refuse) and neither model
charges energy for them (``network``: only a sending device's radio costs energy).

Energy is read from LEAF's power models (``measure_power``) in two ways: integrated exactly
between consecutive changes (:attr:`LeafRun.leaf_energy`), and sampled by LEAF's own
``PowerMeter`` every ``meter_interval`` s (:attr:`LeafRun.meter_energy`; LEAF's default is
1 s), both over SchedGym's horizon (0 to the last result back).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import simpy
from leaf.application import Application, DataFlow, ProcessingTask, SinkTask, SourceTask, Task
from leaf.power import PowerAware, PowerMeasurement, PowerMeter

from schedgym.envs.iot.leaf.network import LeafNetwork, to_leaf
from schedgym.envs.iot.leaf.orchestrator import (ENV_ID, Decision, PlacementDriver,
                                                  SchedGymOrchestrator)
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import DROPPED, PLACED, IoTInstance
from schedgym.envs.validation import check_float

# Order of simultaneous events: releases before decisions before acquisitions, so a core or
# link freed at t can be taken at t (SchedGym's reservations touch end to start).
_RELEASE, _DECIDE, _ACQUIRE = range(3)


@dataclass(frozen=True)
class Energy:
    """Energy in J by LEAF's categories."""

    node_static_j: float
    node_dynamic_j: float
    link_j: float

    @property
    def total_j(self) -> float:
        return self.node_static_j + self.node_dynamic_j + self.link_j


@dataclass
class LeafRun:
    """What one LEAF run produced.

    Attributes:
        decisions: Every placement, in the order LEAF asked for them.
        placements: Task id → the LEAF node name its processing task was allocated on.
        dropped: Tasks the mirror dropped before their epoch's placement (Δ > deadline).
        horizon_s: SchedGym's horizon, 0 to the last result back.
        leaf_energy: LEAF's power models integrated exactly over the horizon.
        meter_energy: LEAF's ``PowerMeter`` samples × interval (None without ``meter_interval``).
        schedgym_energy: The mirror's own accounting (``envs.iot.sim``), split the same way.
        metrics: The mirror's final ``info`` (every metric of ``episode_metrics``).
    """

    decisions: list[Decision]
    placements: dict[int, str]
    dropped: list[int]
    horizon_s: float
    leaf_energy: Energy
    meter_energy: Energy | None
    schedgym_energy: Energy
    metrics: dict[str, Any]


def run_leaf(instance: IoTInstance, driver: PlacementDriver,
             env_kwargs: dict[str, Any] | None = None, seed: int = 0,
             meter_interval: float | None = None) -> LeafRun:
    """Plays ``instance`` in LEAF with ``driver`` placing every task (module docstring).

    Args:
        instance: The workload and topology.
        driver: A :class:`~.orchestrator.BaselineDriver` or :class:`~.orchestrator.PolicyDriver`.
        env_kwargs: ``gym.make`` arguments of the mirror (a policy's: its export's
            ``env_kwargs``, the default for a :class:`PolicyDriver`); ``decision_interval``
            sets the epochs.
        seed: The mirror's reset seed (and the driver's).
        meter_interval: Seconds between LEAF ``PowerMeter`` samples (None: no meter).
    """
    if meter_interval is not None:
        meter_interval = check_float("meter_interval", meter_interval, low=0.0, low_open=True)
    if env_kwargs is None:
        env_kwargs = getattr(getattr(driver, "policy", None), "metadata", {}).get("env_kwargs", {})
    env = gym.make(ENV_ID, **env_kwargs)
    env.reset(seed=seed, options={"instance": instance})
    driver.reset(env, seed)
    network = to_leaf(instance.topology)
    orchestrator = SchedGymOrchestrator(network, env, driver)
    player = _Player(instance, network, orchestrator)
    clock = simpy.Environment()
    meters = _meters(network, meter_interval, clock)
    clock.run(until=clock.process(player.play(clock)))
    sim = env.unwrapped.sim
    horizon = _horizon(instance, sim)
    player.integrator.advance(horizon)
    if horizon > clock.now:
        clock.run(until=horizon)
    return LeafRun(
        decisions=orchestrator.decisions,
        placements={task: app.tasks(ProcessingTask)[0].node.name
                    for task, app in player.applications.items()},
        dropped=player.dropped,
        horizon_s=horizon,
        leaf_energy=player.integrator.energy(),
        meter_energy=None if meters is None else _metered(meters, meter_interval),
        schedgym_energy=schedgym_energy(instance, sim, horizon),
        metrics=sim.metrics(),
    )


class _Player:
    """The simpy process that submits the applications and holds their resources."""

    def __init__(self, instance: IoTInstance, network: LeafNetwork,
                 orchestrator: SchedGymOrchestrator) -> None:
        self.instance, self.network, self.orchestrator = instance, network, orchestrator
        self.sim = orchestrator.env.unwrapped.sim
        self.applications: dict[int, Application] = {}
        self.dropped: list[int] = []
        infrastructure = network.infrastructure
        self.integrator = _Integrator(infrastructure.nodes(), infrastructure.links())
        self._events: list[tuple[float, int, int, Callable[[], None]]] = []
        self._seq = itertools.count()  # ties in time and order keep their push order
        for task in range(instance.num_tasks):
            epoch = self.sim.epoch_of(float(instance.arrival[task]))
            self._push(epoch, _DECIDE, lambda task=task: self._decide(task))

    def play(self, clock: simpy.Environment):  # noqa: ANN201 (a simpy generator)
        while self._events:
            time, _, _, action = heapq.heappop(self._events)
            yield clock.timeout(max(time - clock.now, 0.0))
            self.integrator.advance(clock.now)
            action()

    def _push(self, time: float, order: int, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (time, order, next(self._seq), action))

    def _decide(self, task: int) -> None:
        if self.sim.state.status[task] == DROPPED:
            self.dropped.append(task)
            return
        inst = self.instance
        device = self.network.node(int(inst.device[task]))
        source = SourceTask(cu=0, bound_node=device)
        processing = ProcessingTask(cu=0)
        application = Application()
        application.add_task(source)
        application.add_task(processing, incoming_data_flows=[(source, 0.0)])
        application.add_task(SinkTask(cu=0, bound_node=device),
                             incoming_data_flows=[(processing, 0.0)])
        self.orchestrator.register(application, task)
        self.orchestrator.place(application)  # LEAF calls _processing_task_placement here
        self.applications[task] = application
        decision = self.orchestrator.decisions[-1]
        links = application.graph.edges[source.id, processing.id]["data"].links
        if decision.transfer_time > 0 and links:
            routes = self.sim.routes
            row = routes.device_row[inst.device[task]]
            flow = DataFlow(float(routes.bottleneck[row, decision.node]))
            self._hold(decision.transfer_start, decision.transfer_start + decision.transfer_time,
                       lambda: flow.allocate(links), flow.deallocate)
        cpu = Task(cu=1)
        node = processing.node
        self._hold(decision.start, decision.finish, lambda: cpu.allocate(node), cpu.deallocate)

    def _hold(self, start: float, end: float, acquire: Callable[[], None],
              release: Callable[[], None]) -> None:
        self._push(start, _ACQUIRE, acquire)
        self._push(end, _RELEASE, release)


class _Integrator:
    """Integrates LEAF's ``measure_power`` of nodes and links, piecewise constant between the
    changes the player makes (call :meth:`advance` before each change)."""

    def __init__(self, nodes: Iterable[PowerAware], links: Iterable[PowerAware]) -> None:
        self.nodes, self.links = list(nodes), list(links)
        self.time = 0.0
        self.static = self.dynamic = self.link = 0.0

    def advance(self, now: float) -> None:
        dt = now - self.time
        if dt > 0:
            nodes = PowerMeasurement.sum(node.measure_power() for node in self.nodes)
            links = PowerMeasurement.sum(link.measure_power() for link in self.links)
            self.static += nodes.static * dt
            self.dynamic += nodes.dynamic * dt
            self.link += links.total() * dt
            self.time = now

    def energy(self) -> Energy:
        return Energy(self.static, self.dynamic, self.link)


def _meters(network: LeafNetwork, interval: float | None,
            clock: simpy.Environment) -> tuple[PowerMeter, PowerMeter] | None:
    """LEAF power meters of all nodes and all links, sampling mid-interval."""
    if interval is None:
        return None
    infrastructure = network.infrastructure
    meters = (PowerMeter(infrastructure.nodes(), "nodes", interval),
              PowerMeter(infrastructure.links(), "links", interval))
    for meter in meters:
        clock.process(meter.run(clock, delay=interval / 2))
    return meters


def _metered(meters: tuple[PowerMeter, PowerMeter], interval: float) -> Energy:
    nodes, links = (PowerMeasurement.sum(meter.measurements) for meter in meters)
    return Energy(nodes.static * interval, nodes.dynamic * interval, links.total() * interval)


def _horizon(instance: IoTInstance, sim: IoTSim) -> float:
    """SchedGym's horizon (``envs.iot.sim.episode_metrics``): the last result back, or the
    mirror's time if later."""
    placed = sim.state.status == PLACED
    back = instance.arrival[placed] + sim.state.response[placed]
    return max(float(back.max()) if len(back) else 0.0, float(sim.state.time))


def schedgym_energy(instance: IoTInstance, sim: IoTSim, horizon: float) -> Energy:
    """The mirror's energy by LEAF's categories: idle power over the horizon, each task's
    dynamic CPU energy, and the radio energy (the rest of its task energy)."""
    st, topo = sim.state, instance.topology
    placed = st.status == PLACED
    nodes = st.node[placed]
    dynamic = float(np.sum((topo.p_max_w[nodes] - topo.p_idle_w[nodes]) / topo.cores[nodes]
                           * (st.finish[placed] - st.start[placed])))
    return Energy(float(topo.p_idle_w.sum() * horizon), dynamic, float(st.energy_j.sum()) - dynamic)


__all__ = ["Energy", "LeafRun", "run_leaf", "schedgym_energy"]
