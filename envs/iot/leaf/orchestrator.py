"""A LEAF orchestrator whose placements come from a SchedGym IoT baseline or ONNX policy.

LEAF calls ``Orchestrator._processing_task_placement(processing_task, application)`` once per
processing task when an application is placed (``leaf/orchestrator.py``). Here that call is
answered from a *mirror*: a SchedGym :class:`~schedgym.envs.iot.env.IoTPlacementEnv` reset on
the same workload and topology, in which every placement LEAF asks for is made too. The mirror
is needed, not only convenient: LEAF's state is CU and bandwidth in use, while a SchedGym policy
observes queues, link backlogs and per-node response and energy estimates
(``envs.iot.encoding.Encoder``), which only a SchedGym simulation of the same placements holds.
The observation a policy sees is then exactly the env's, built by the env's public encoder.

LEAF decides the order (one call per application, in the order the applications are placed),
so the orchestrator makes phase 0 of the env's two-step action itself (the task LEAF asks for)
and the driver makes phase 1 (its node). LEAF cannot defer a placement, so HOLD is masked out
of the policy's observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import networkx as nx
import numpy as np
from leaf.application import Application, ProcessingTask
from leaf.infrastructure import Node
from leaf.orchestrator import Orchestrator

from schedgym.baselines.iot.common import OrderedPlacement
from schedgym.envs.iot.env import HOLD_NODE
from schedgym.envs.iot.leaf.network import LeafNetwork
from schedgym.envs.iot.types import DEVICE
from schedgym.policies.runtime import OnnxPolicy

ENV_ID = "schedgym/IoTPlacement-v0"


class PlacementDriver(Protocol):
    """What picks the node of the task selected in the mirror (phase 1 of the env's action)."""

    name: str

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        """Prepares for an episode of the mirror ``env`` (after its reset)."""

    def node(self, env: gym.Env, obs: dict[str, np.ndarray]) -> int:
        """The topology node for ``env.unwrapped.state.selected``, legal in ``obs``."""


class BaselineDriver:
    """A SchedGym IoT rule baseline (an :class:`OrderedPlacement`: ``greedy``, ``local``,
    ``cloud``, ``min_energy``, ``round_robin``, ``edf``, ``wfq``) asked for the node of one
    task (its ``node_for``). LEAF orders the placements, so a rule's own order is not used:
    ``edf`` and ``wfq``, which differ from ``greedy`` only in their order, place as ``greedy``.

    Raises:
        ValueError: If ``scheduler`` is not such a rule (``aco`` and ``cpsat`` plan whole
            windows, order and holds included, which LEAF's one call per task cannot express).
    """

    def __init__(self, scheduler: Any) -> None:
        if not isinstance(scheduler, OrderedPlacement):
            name = getattr(scheduler, "name", scheduler)
            raise ValueError(f"scheduler={name!r} is not a per-task IoT rule; allowed: an "
                             "OrderedPlacement baseline: 'greedy', 'local', 'cloud', "
                             "'min_energy', 'round_robin', 'edf' or 'wfq'")
        self.scheduler = scheduler
        self.name = scheduler.name

    @classmethod
    def from_name(cls, name: str, **kwargs: Any) -> "BaselineDriver":
        """The driver of the registered IoT baseline ``name``."""
        from schedgym import baselines

        return cls(baselines.make(ENV_ID, name, **kwargs))

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self.scheduler.reset(env, seed)

    def node(self, env: gym.Env, obs: dict[str, np.ndarray]) -> int:
        sim = env.unwrapped.sim
        task = int(sim.state.selected)
        feasible = sim.feasible(np.array([task]))[0]
        node = self.scheduler.node_for(sim, task, feasible) if feasible.any() else None
        if node is None:
            raise RuntimeError(f"{self.name} leaves task {task} waiting at t={sim.state.time}; "
                               "LEAF places every application when it is submitted")
        return int(node)


class PolicyDriver:
    """An exported SchedGym IoT policy (:mod:`policies.runtime`): its argmax, or with
    ``deterministic=False`` a sample of its masked softmax drawn from the reset's seed.

    Attributes:
        observations: Every observation it acted on (HOLD masked out), in order.
        actions: Its pointer action on each.
    """

    def __init__(self, policy: OnnxPolicy, deterministic: bool = True) -> None:
        self.policy = policy
        self.name = f"onnx:{policy.path.name}"
        self.deterministic = deterministic
        self.rng = np.random.default_rng(0)
        self.observations: list[dict[str, np.ndarray]] = []
        self.actions: list[int] = []

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self.policy.check_env(env)
        self.rng = np.random.default_rng(seed)
        self.observations, self.actions = [], []

    def node(self, env: gym.Env, obs: dict[str, np.ndarray]) -> int:
        obs = {key: np.array(value, copy=True) for key, value in obs.items()}
        obs["action_mask"][HOLD_NODE] = 0  # LEAF needs a node now
        if not obs["action_mask"].any():
            task = env.unwrapped.state.selected
            raise RuntimeError(f"no node can take task {task} now (out of memory everywhere); "
                               "LEAF cannot hold it")
        action = int(self.policy.act(obs, self.deterministic, self.rng))
        self.observations.append(obs)
        self.actions.append(action)
        return action - env.unwrapped.encoder.node0


@dataclass(frozen=True)
class Decision:
    """One placement as the mirror reserved it (times in s of simulated time)."""

    task: int
    node: int
    transfer_start: float
    transfer_time: float  # the input flow holds its route this long (0 on the device itself)
    start: float
    finish: float
    response: float


class SchedGymOrchestrator(Orchestrator):
    """LEAF orchestrator driven by a SchedGym baseline or policy (module docstring).

    Args:
        network: The LEAF infrastructure of the mirror's topology (``network.to_leaf``).
        env: The mirror: an ``IoTPlacementEnv`` already reset on the workload LEAF plays.
        driver: Picks each node.

    Register each application with :meth:`register` before LEAF places it. Data flows follow
    SchedGym's routes (``envs.iot.routes``: least latency, devices never relay), so both
    simulators send every flow over the same links.
    """

    def __init__(self, network: LeafNetwork, env: gym.Env, driver: PlacementDriver) -> None:
        super().__init__(network.infrastructure)
        # leafsim 0.4.2 ignores a ``shortest_path`` argument (it only assigns the default), so
        # the routing function is set on the instance.
        self.shortest_path = self._route
        self.network = network
        self.env = env
        self.driver = driver
        self.decisions: list[Decision] = []
        self._task_of: dict[Application, int] = {}

    def register(self, application: Application, task: int) -> None:
        """Declares that ``application`` is the mirror's task ``task``."""
        self._task_of[application] = task

    def _processing_task_placement(self, processing_task: ProcessingTask,
                                   application: Application) -> Node:
        if application not in self._task_of:
            raise ValueError(f"{application} was not registered with a SchedGym task")
        return self.network.node(self.decide(self._task_of[application]))

    def decide(self, task: int) -> int:
        """Places waiting ``task`` in the mirror with the driver's node, and returns the node."""
        iot = self.env.unwrapped
        sim = iot.sim
        if task not in sim.waiting:
            raise RuntimeError(f"task {task} is not waiting in the SchedGym mirror at "
                               f"t={sim.state.time} (LEAF must place applications at their "
                               "tasks' decision epochs)")
        obs, *_ = self.env.step(iot.task_node(task))
        node = self.driver.node(self.env, obs)
        plan = sim.timeline(task, np.array([node]))
        self.env.step(iot.compute_node(node))
        times = (plan.transfer_start, plan.transfer_time, plan.start, plan.finish, plan.response)
        self.decisions.append(Decision(task, node, *(float(t[0]) for t in times)))
        return node

    def _route(self, graph: nx.MultiDiGraph, src: str, dst: str) -> list[str]:
        """SchedGym's route between a device and a node (reversed for results)."""
        network, tier = self.network, self.env.unwrapped.sim.topology.tier
        a, b = network.index(src), network.index(dst)
        routes = self.env.unwrapped.sim.routes
        if tier[a] == DEVICE:
            return network.route(routes, a, b)
        if tier[b] == DEVICE:
            return network.route(routes, b, a)[::-1]
        return nx.shortest_path(graph, src, dst, weight="latency")
