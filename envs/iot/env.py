"""``schedgym/IoTPlacement-v0``: place IoT tasks on the device, an edge server, a fog node or the
cloud.

This module is the Gymnasium facade: arguments, spaces, the two-step pointer actions, rewards
and ``info``. The dynamics live in :mod:`envs.iot.sim`, the observation encoder (a public
function of a topology, the node states and the tasks) in :mod:`envs.iot.encoding`, the
workloads in :mod:`envs.iot.generator`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from schedgym.envs.graph import NOOP_NODE, GraphEnv
from schedgym.envs.iot import generator
from schedgym.envs.iot.encoding import Encoder
from schedgym.envs.iot.sim import IoTSim, Weights
from schedgym.envs.iot.topology import SCALES, TOPOLOGIES, make_topology
from schedgym.envs.iot.types import IoTInstance, IoTState, Topology
from schedgym.envs.validation import (ArgumentError, check_choice, check_directory, check_file,
                                      check_float, check_int)

HOLD_NODE = NOOP_NODE  # phase 0: hold the waiting tasks to the next epoch; phase 1: unselect
DEFAULT_NUM_TASKS = 400  # tasks of a sampled episode


class IoTPlacementEnv(GraphEnv):
    """Place IoT tasks on a device / edge / fog / cloud network, trading response time,
    deadlines and energy.

    Our formulation, inspired by "Data Scheduling Algorithm for Scalable and Efficient IoT
    Sensing in Cloud Computing" (arXiv 2508.04334, of which only the abstract is public); the
    model's equations and presets come from iFogSim, EdgeSimPy and RayCloudSim
    (``envs.iot.sim``, ``envs.iot.topology``, ``envs.iot.generator`` cite them).

    ## Description
    Devices (Raspberry Pi 4 class) generate tasks; each has an input size, CPU cycles, memory,
    an output size, a deadline and a QoS class. A task runs on its own device, or its input
    travels the device's least-latency route to an edge server, a fog node or the cloud,
    holding the route's links for ``input bits / bottleneck bandwidth`` (flows in placement
    order), runs FIFO on the node's first free core for ``cycles / frequency``, and its result
    returns. Nodes draw ``P_idle + (P_max − P_idle) × busy cores / cores`` watts; devices spend
    radio energy sending. Everything a placement reserves is fixed when it is made, so its
    finish, response and energy are known then (``envs.iot.sim``).

    Tasks are placed at decision epochs: every ``decision_interval`` seconds (windowed batches,
    the same decisions for per-task policies and batch optimisers such as ACO), or at every
    arrival with ``decision_interval=0``. A task still waiting when its deadline passes is
    dropped.

    ## Action Space
    ``Discrete(N_MAX)`` pointers. Node 0 is HOLD; nodes ``1 .. max_nodes`` the compute nodes
    (node ``j`` of the topology is pointer ``1 + j``); then ``window`` task slots, the first
    ``window`` waiting tasks in arrival order. A placement takes two steps: phase 0 picks a task
    (or HOLD: leave the waiting tasks to the next epoch), phase 1 a node for it (or HOLD: drop
    the selection, no time passes). Legal nodes are the task's own device and the edge, fog and
    cloud nodes its device reaches with the task's memory free; a task is legal in phase 0 if
    some node is. HOLD is legal in every state. Illegal actions raise ``ValueError``.

    ## Observation Space
    The padded graph of ``envs.graph`` (features listed in ``envs.iot.encoding``): compute
    nodes (tier one-hot, cores, frequency, free memory, queue wait, utilisation, idle and
    per-core dynamic power; in phase 1 whether it can take the selected task and the response
    and energy it would give it there), task nodes (input, cycles, memory, output, deadline,
    slack, waiting time, QoS one-hot, run time on its device, selected); edges: every link in
    both directions (latency, bandwidth, backlog) and each shown task to its device. Globals:
    phase, waiting tasks, those beyond the window, time to the next arrival, share of tasks
    resolved, the decision interval. Times are divided by ``time_scale``.

    ## Rewards
    Minus the objective charged by each step times ``reward_scale``: a placement costs
    ``response_weight × response (s) + miss_weight × [response > deadline] + energy_weight ×
    task energy (J)`` (dynamic CPU energy on its node plus its device's radio energy), a drop
    ``response_weight × waited + miss_weight + drop_weight``. The return is ``−objective ×
    reward_scale``. Idle power is the same under every schedule (up to the horizon), so it is
    reported in ``energy_j`` but not charged.

    ## Starting State
    The first task's epoch; the workload is ``options["instance"]`` (an :class:`IoTInstance`,
    e.g. from :meth:`load_instance_set`), else built from the arguments: the ``topology_file``'s
    topology or a generated one (``scale``, ``topology``; drawn at every reset), carrying the
    tasks of ``tasks_csv`` or ``google_trace_dir`` (the same tasks every reset; devices and
    deadlines per ``data.iot_tasks``) or tasks sampled with ``rate``, ``num_tasks``, ``arrival``
    and ``cv``.

    ## Episode End
    Terminated when every task has been placed or dropped; truncated after ``max_steps``
    steps (default ``4 × tasks + 1000``).

    ``info`` carries ``time``, ``tasks_resolved`` and ``objective`` at every step and, at the
    end, every metric of :func:`envs.iot.sim.episode_metrics`: ``objective``,
    ``response_time_mean``, ``response_time_p95``, ``deadline_hit_ratio``, ``energy_j`` (idle +
    task, over the horizon to the last result), ``energy_task_j``, ``utilization_mean`` (busy
    core time / (cores × horizon), mean over nodes), ``fairness_jain`` (Jain's index over
    devices of mean slowdown), ``tasks_completed``, ``tasks_dropped`` and the share of tasks
    placed on each tier (``share_device`` ... ``share_cloud``).

    ## Arguments
    Each validated here (a bad one fails at ``gym.make`` naming it, its value and what is
    allowed).

    - ``scale``: ``"small"`` (8 devices, 2 edge, 1 fog, 1 cloud), ``"medium"`` (40, 4, 2, 1) or
      ``"large"`` (200, 10, 4, 2); sets the sampled topology and the default ``max_nodes`` /
      ``max_links``.
    - ``topology``: ``"tree"`` or ``"mesh"`` (``envs.iot.topology``).
    - ``rate``: tasks/s per device, in (0, 10^4] (default 30, the medium load).
    - ``num_tasks``: tasks per episode, in [1, 10^6]: default 400 sampled tasks, or every task
      of a task file's window; with a task file, its first ``num_tasks`` (the window must hold
      them).
    - ``arrival``: ``"poisson"`` or ``"bursty"`` (gamma renewal with coefficient of variation
      ``cv``, in (0, 100], default 3).
    - ``decision_interval``: seconds between epochs, in [0, 3600] (default 0.01; 0 = every
      arrival).
    - ``window``: task slots, in [1, 4096] (default 32).
    - ``max_nodes`` / ``max_links``: compute-node and link slots, at least the scale's and at
      most 10^5 (a given instance must fit).
    - ``response_weight``, ``miss_weight``, ``drop_weight``, ``energy_weight``: the objective's
      weights, in [0, 10^6] (defaults 1 per s, 1, 1, 0.1 per J).
    - ``reward_scale``: in (0, 10^6] (default 1). ``time_scale``: feature time unit, s, in
      [10^-6, 10^6] (default 0.1). ``idle_step``: seconds a hold with nothing pending advances
      (``decision_interval=0`` only), in (0, 3600] (default 0.01). ``max_steps``: ≥ 1.
    - ``topology_file``: a YAML or JSON topology (format: ``data.iot_topology``; example
      ``data/iot/example_topology.yaml``), read at make. It replaces ``scale`` and ``topology``
      (so those keep their defaults) and sets the default ``max_nodes`` / ``max_links``.
    - ``tasks_csv``: a RayCloudSim task CSV (``data.raycloudsim``), or ``google_trace_dir``: a
      Google cluster-data 2011 directory whose task events give the tasks (``data.iot_google``);
      read at make, one of the two. They replace ``rate``, ``arrival`` and ``cv``.
    - ``trace_start``, ``trace_duration``, ``rate_scale``: the window of the task file (seconds of
      its time, from ``trace_start`` ≥ 0 for ``trace_duration`` > 0 or to the end) and the
      arrival speed-up (in (0, 10^4], 2 doubles the rate); only with a task file.
    - ``render_mode``: ``None`` (default) or ``"rgb_array"``: ``render()`` then returns the
      Gantt picture of the episode so far (``envs.iot.gantt``, drawn from the sim's state).

    ## What baselines may read
    Through ``env.unwrapped`` (learned policies only the observation):

    - ``sim`` (:class:`envs.iot.sim.IoTSim`): ``state`` (:class:`envs.iot.types.IoTState`),
      ``instance``, ``topology``, ``routes``, ``waiting`` (task ids in arrival order),
      ``timeline(task, nodes)`` (what a placement would reserve, without making it),
      ``feasible(tasks)``, ``cost(...)``, ``weights``, ``decision_interval``. Read it; act only
      through pointer actions.
    - ``visible_tasks() -> np.ndarray``: the waiting tasks shown in the window, in slot order.
    - ``task_node(task) -> int`` and ``compute_node(node) -> int``: their pointer actions.
    - ``phase`` (0 or 1) and ``state.selected`` (the task picked in phase 0, -1 in phase 0).
    - ``action_masks() -> np.ndarray``: the legal actions, (N_MAX,) bool.

    ## Version History
    - v0: initial release; later ``render_mode="rgb_array"`` (a Gantt picture), which changes
      no episode.
    """

    leaderboard_metrics = ("objective", "response_time_mean", "response_time_p95", "deadline_hit_ratio",
                           "energy_j", "energy_task_j", "utilization_mean", "fairness_jain", "tasks_dropped")
    known_dynamics = True

    def __init__(
        self,
        scale: str = "small",
        topology: str = "tree",
        rate: float = 30.0,
        num_tasks: int | None = None,
        arrival: str = "poisson",
        cv: float = 3.0,
        decision_interval: float = 0.01,
        window: int = 32,
        max_nodes: int | None = None,
        max_links: int | None = None,
        response_weight: float = 1.0,
        miss_weight: float = 1.0,
        drop_weight: float = 1.0,
        energy_weight: float = 0.1,
        reward_scale: float = 1.0,
        time_scale: float = 0.1,
        idle_step: float = 0.01,
        max_steps: int | None = None,
        topology_file: str | Path | None = None,
        tasks_csv: str | Path | None = None,
        google_trace_dir: str | Path | None = None,
        trace_start: float = 0.0,
        trace_duration: float | None = None,
        rate_scale: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        self._init_render(render_mode)
        self.scale = check_choice("scale", scale, tuple(SCALES))
        self.topology_kind = check_choice("topology", topology, TOPOLOGIES)
        self.rate = check_float("rate", rate, low=0.0, low_open=True, high=1e4)
        self.num_tasks = None if num_tasks is None else check_int("num_tasks", num_tasks, low=1,
                                                                  high=generator.MAX_TASKS)
        self.arrival = check_choice("arrival", arrival, generator.ARRIVALS)
        self.cv = check_float("cv", cv, low=0.0, low_open=True, high=100.0)
        self.decision_interval = check_float("decision_interval", decision_interval, low=0.0, high=3600.0)
        self.window = check_int("window", window, low=1, high=4096)
        self._topology = self._load_topology(topology_file)
        self._stream = self._load_tasks(tasks_csv, google_trace_dir, trace_start, trace_duration,
                                        rate_scale)
        if self._topology is None:
            sizes = SCALES[self.scale]
            nodes, links = sizes.nodes, sizes.max_links()
            node_why = f"scale {scale!r} has {nodes} nodes"
            link_why = f"a {scale!r} mesh has up to {links} links"
        else:
            nodes, links = self._topology.num_nodes, self._topology.num_links
            node_why = link_why = f"the topology_file has {nodes} nodes and {links} links"
        self.max_nodes = nodes if max_nodes is None else check_int(
            "max_nodes", max_nodes, low=nodes, high=100_000, why=node_why)
        self.max_links = links if max_links is None else check_int(
            "max_links", max_links, low=links, high=100_000, why=link_why)
        self.weights = Weights(*(check_float(name, value, low=0.0, high=1e6) for name, value in (
            ("response_weight", response_weight), ("miss_weight", miss_weight), ("drop_weight", drop_weight),
            ("energy_weight", energy_weight))))
        self.reward_scale = check_float("reward_scale", reward_scale, low=0.0, low_open=True, high=1e6)
        self.time_scale = check_float("time_scale", time_scale, low=1e-6, high=1e6)
        self.idle_step = check_float("idle_step", idle_step, low=0.0, low_open=True, high=3600.0)
        self.max_steps = None if max_steps is None else check_int("max_steps", max_steps, low=1)
        self.encoder = Encoder(self.max_nodes, self.max_links, self.window, self.time_scale)
        self._init_spaces(self.encoder.spec, sized_by={"max_nodes": self.max_nodes, "max_links": self.max_links,
                                                      "window": self.window})
        self.sim: IoTSim | None = None
        self._steps = 0
        self._limit = 0

    # ------------------------------------------------------------------ Gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # noqa: ANN201
        super().reset(seed=seed)
        instance = (options or {}).get("instance")
        if instance is None:
            instance = self._new_instance()
        elif not isinstance(instance, IoTInstance):
            raise ValueError(f"options['instance'] must be an IoTInstance, got {type(instance).__name__}")
        self._check_fits(instance)
        self.sim = IoTSim(instance, self.decision_interval, self.idle_step, self.weights)
        self.encoder.start(self._obs, instance.topology)
        self._steps = 0
        self._limit = self.max_steps or 4 * instance.num_tasks + 1000
        self._encode()
        return self.observation(), self._info(final=self.sim.done)

    def step(self, action: Any):  # noqa: ANN201
        if self.sim is None:
            raise RuntimeError("call reset() before step()")
        node = self._check_action(action)
        sim = self.sim
        cost = 0.0
        if sim.state.selected < 0:
            if node == HOLD_NODE:
                cost = sim.hold()
            else:
                sim.state.selected = int(self._shown[node - self.encoder.task0])
        elif node == HOLD_NODE:
            sim.state.selected = -1
        else:
            cost = sim.place(sim.state.selected, node - self.encoder.node0)
        self._steps += 1
        terminated = sim.done
        truncated = not terminated and self._steps >= self._limit
        self._encode()
        return (self.observation(), -cost * self.reward_scale, terminated, truncated,
                self._info(terminated or truncated))

    # ------------------------------------------------------------------ what baselines read

    @property
    def state(self) -> IoTState | None:
        """The simulator state (``None`` before the first reset)."""
        return None if self.sim is None else self.sim.state

    @property
    def phase(self) -> int:
        """0 while a task is to be picked, 1 while its node is."""
        return int(self.sim is not None and self.sim.state.selected >= 0)

    def visible_tasks(self) -> np.ndarray:
        """The waiting tasks shown in the window, in slot order, (≤ window,) int64."""
        return np.asarray(self.sim.waiting[:self.window], np.int64)

    def task_node(self, task: int) -> int:
        """The pointer action of waiting ``task``.

        Raises:
            ValueError: If the task is not shown in the window.
        """
        slots = np.flatnonzero(self._shown == task)
        if not len(slots):
            raise ValueError(f"task {task} is not in the window of waiting tasks")
        return self.encoder.task0 + int(slots[0])

    def compute_node(self, node: int) -> int:
        """The pointer action of topology node ``node``."""
        return self.encoder.node0 + int(node)

    def finish_headless(self, scheduler: Any) -> tuple[dict[str, Any], list[int]] | None:
        """Plays the episode begun by ``reset`` (and ``scheduler.reset``) to its end with a rule
        baseline of :mod:`envs.iot.fastsim`, calling the simulator directly instead of encoding
        an observation every step; bit-identical to stepping the env with the scheduler's
        actions, and the env is left as those steps would leave it (the last observation
        encoded). ``policies.evaluation.run_episode`` calls it.

        Returns:
            The final ``info`` and the actions taken, or ``None`` (nothing done) if
            ``scheduler`` is not one of its rules or a placement is half made.
        """
        from schedgym.envs.iot import fastsim  # imports the baselines, which import this module

        if self.sim is None or self.phase == 1 or not fastsim.supports(scheduler):
            return None
        actions = fastsim.play(self, scheduler, self._limit - self._steps)
        self._steps += len(actions)
        self._encode()
        return self._info(final=True), actions

    def _render_frame(self) -> np.ndarray:
        """The Gantt picture of the episode so far (:func:`envs.iot.gantt.render_gantt`)."""
        if self.sim is None:
            raise RuntimeError("call reset() before render()")
        from schedgym.envs.iot.gantt import render_gantt

        return render_gantt(self.sim)

    # ------------------------------------------------------------------ workloads

    def _load_topology(self, topology_file: Any) -> Topology | None:
        """The topology_file's topology (read here, so a bad file fails at make), or None."""
        if topology_file is None:
            return None
        path = check_file("topology_file", topology_file)
        _refuse_unused({"scale": self.scale, "topology": self.topology_kind},
                       "topology_file=PATH gives the topology")
        from schedgym.data.iot_topology import load_topology

        return load_topology(path)

    def _load_tasks(self, tasks_csv: Any, google_trace_dir: Any, start: Any, duration: Any,
                    rate_scale: Any) -> Any:
        """The task file's stream (``data.iot_tasks.TaskStream``, read here), or None."""
        start = check_float("trace_start", start, low=0.0)
        if duration is not None:
            duration = check_float("trace_duration", duration, low=0.0, low_open=True)
        rate_scale = check_float("rate_scale", rate_scale, low=0.0, low_open=True, high=1e4)
        if tasks_csv is None and google_trace_dir is None:
            _refuse_unused(
                {"trace_start": start, "trace_duration": duration, "rate_scale": rate_scale},
                "it applies only with tasks_csv=PATH or google_trace_dir=PATH")
            return None
        if tasks_csv is not None and google_trace_dir is not None:
            raise ArgumentError(f"tasks_csv={tasks_csv!r} and google_trace_dir="
                                f"{google_trace_dir!r} are two task sources; give one")
        _refuse_unused({"rate": self.rate, "arrival": self.arrival, "cv": self.cv},
                       "the task file gives the arrivals")
        if tasks_csv is not None:
            from schedgym.data.raycloudsim import load_tasks_csv

            stream = load_tasks_csv(check_file("tasks_csv", tasks_csv), start, duration, rate_scale)
        else:
            from schedgym.data.iot_google import load_google_tasks

            trace_dir = check_directory("google_trace_dir", google_trace_dir)
            stream = load_google_tasks(trace_dir, start, duration, rate_scale)
        if self.num_tasks is None:
            return stream
        try:
            return stream.head(self.num_tasks)
        except ValueError as exc:
            raise ArgumentError(str(exc)) from None

    def _new_instance(self) -> IoTInstance:
        """A workload from the arguments (the docstring's Starting State)."""
        rng, num_tasks = self.np_random, self.num_tasks or DEFAULT_NUM_TASKS
        if self._topology is None and self._stream is None:
            return generator.sample_instance(rng, scale=self.scale, topology=self.topology_kind,
                                             rate=self.rate, num_tasks=num_tasks,
                                             arrival=self.arrival, cv=self.cv)
        topology = self._topology
        if topology is None:
            topology = make_topology(rng, SCALES[self.scale], self.topology_kind)
        if self._stream is None:
            return generator.sample_tasks(rng, topology, self.rate, num_tasks, self.arrival,
                                          self.cv)
        return self._stream.on(topology, name=Path(self._stream.source).name)

    # ------------------------------------------------------------------ internals

    def _check_fits(self, instance: IoTInstance) -> None:
        topology = instance.topology
        if topology.num_nodes > self.max_nodes or topology.num_links > self.max_links:
            raise ArgumentError(
                f"IoT instance {instance.name!r} has {topology.num_nodes} nodes and {topology.num_links} links; "
                f"this env has slots for {self.max_nodes} and {self.max_links} (raise max_nodes / max_links)")

    def _encode(self) -> None:
        self._shown = self.visible_tasks()
        self.encoder.encode(self._obs, self.sim, self._shown)

    def _info(self, final: bool) -> dict[str, Any]:
        sim = self.sim
        if final:
            return {**sim.metrics(), "steps": self._steps}
        return {"time": sim.state.time, "tasks_resolved": sim._resolved, "objective": sim.objective,
                "steps": self._steps}


def _refuse_unused(given: dict[str, Any], why: str) -> None:
    """Refuses arguments (name: value) set away from their defaults where they have no effect."""
    defaults = inspect.signature(IoTPlacementEnv.__init__).parameters
    changed = {name: value for name, value in given.items() if value != defaults[name].default}
    if changed:
        raise ArgumentError(", ".join(f"{name}={value!r}" for name, value in changed.items())
                            + f" has no effect: {why}")


__all__ = ["IoTPlacementEnv", "HOLD_NODE"]
