"""Hand-made tiny IoT instances (one device, one edge server, one cloud), busy generated
windows, and brute force over windows with the simulator itself, for the window planners' tests."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401  (registers the env ids)
from schedgym.baselines.iot.greedy import GreedyScheduler
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import CLOUD, DEVICE, EDGE, IoTInstance, Topology

ENV_ID = "schedgym/IoTPlacement-v0"


def tiny_topology(device_cores: int = 1, edge_cores: int = 1, cloud_cores: int = 2,
                  memory_mb: tuple[float, float, float] = (4096.0, 16384.0, 40000.0)) -> Topology:
    """Device 0 —(2 ms, 2 Mbit/s)— edge 1 —(50 ms, 100 Mbit/s)— cloud 2."""
    return Topology(
        tier=np.array([DEVICE, EDGE, CLOUD]),
        cores=np.array([device_cores, edge_cores, cloud_cores]),
        freq_hz=np.array([1.0e9, 2.0e9, 3.0e9]), memory_mb=np.array(memory_mb, float),
        p_idle_w=np.array([2.0, 60.0, 1000.0]), p_max_w=np.array([7.0, 200.0, 1300.0]),
        tx_power_w=np.array([0.1, 0.0, 0.0]),
        link_src=np.array([0, 1]), link_dst=np.array([1, 2]),
        link_latency_s=np.array([0.002, 0.05]), link_bandwidth_bps=np.array([2e6, 1e8]))


def tiny_instance(seed: int, tasks: int = 3, background: int = 0,
                  **topology: object) -> IoTInstance:
    """``tasks`` tasks arriving together at 0.01 s after ``background`` ones at 0 (placed by
    :func:`window_env` to leave cores and links busy), sizes drawn from ``seed``: cycles
    2·10^7–2·10^8, input 10–300 kbit, deadlines 1–3 times the run time on the device."""
    rng = np.random.default_rng(seed)
    count = background + tasks
    cycles = np.exp(rng.uniform(np.log(2e7), np.log(2e8), count))
    input_bits = np.exp(rng.uniform(np.log(1e4), np.log(3e5), count))
    return IoTInstance(
        tiny_topology(**topology), arrival=np.array([0.0] * background + [0.01] * tasks),
        device=np.zeros(count, np.int64), input_bits=input_bits, cycles=cycles,
        memory_mb=rng.uniform(10.0, 50.0, count), output_bits=input_bits * 0.1,
        deadline_s=cycles / 1e9 * rng.uniform(1.0, 3.0, count), qos=np.ones(count, np.int64),
        name=f"tiny-{seed}")


def memory_short_instance() -> IoTInstance:
    """Four 45 MB tasks arriving together on three nodes of 60 MB: one must wait."""
    return replace(tiny_instance(7, tasks=4, memory_mb=(60.0, 60.0, 60.0)),
                   memory_mb=np.full(4, 45.0))


def window_env(instance: IoTInstance, background_nodes: Sequence[int] = ()) -> gym.Env:
    """The env at the window of the tasks arriving at 0.01 s (``decision_interval`` 0): the
    background tasks placed at epoch 0 on ``background_nodes``, in order."""
    env = gym.make(ENV_ID, scale="small", decision_interval=0.0)
    env.reset(seed=0, options={"instance": instance})
    iot, sim = env.unwrapped, env.unwrapped.sim
    for task, node in enumerate(background_nodes):
        env.step(iot.task_node(task))
        env.step(iot.compute_node(node))
    assert sim.state.time == pytest.approx(0.01)
    assert len(sim.waiting) == instance.num_tasks - len(background_nodes)
    return env


def busy_window_env(seed: int, waiting: int = 5) -> gym.Env:
    """A heavy small-tree episode run by greedy until an epoch where at least ``waiting`` tasks
    wait, with links still reserved from earlier epochs."""
    env = gym.make(ENV_ID, scale="small", rate=60.0, num_tasks=300, decision_interval=0.05)
    env.reset(seed=seed)
    iot, greedy = env.unwrapped, GreedyScheduler()
    greedy.reset(env)
    st = iot.sim.state
    while not (iot.phase == 0 and len(iot.sim.waiting) >= waiting
               and np.any(st.link_free > st.time)):
        _, _, terminated, _, _ = env.step(greedy.act(env))
        assert not terminated
    return env


def brute_force(sim: IoTSim,
                orders: Callable[[list[int]], list[tuple[int, ...]]] | None = None) -> float:
    """The least objective increment of placing every waiting task, over every placement order
    (or those ``orders`` gives) and every node of each task, placing on copies of ``sim``."""
    tasks = list(sim.waiting)
    candidates = [np.flatnonzero(sim.routes.runnable[sim.routes.device_row[sim.instance.device[t]]])
                  for t in tasks]
    best = np.inf
    for order in (orders(tasks) if orders else itertools.permutations(tasks)):
        for nodes in itertools.product(*(candidates[tasks.index(t)] for t in order)):
            trial = copy.deepcopy(sim)
            before = trial.objective
            try:
                for task, node in zip(order, nodes):
                    trial.place(task, int(node))
            except ValueError:  # out of memory on this node
                continue
            best = min(best, trial.objective - before)
    return best


def run_episode(env: gym.Env, scheduler) -> float:  # noqa: ANN001
    """Runs ``scheduler`` from the env's current state to the end; returns the objective charged,
    summed over the steps in order (minus the rewards: ``reward_scale`` is 1)."""
    charged, done = 0.0, False
    while not done:
        action = scheduler.act(env)
        assert env.unwrapped.action_masks()[action]
        _, reward, terminated, truncated, _ = env.step(action)
        charged += -reward
        done = terminated or truncated
    return charged
