"""The rule baselines of the IoT env on hand-made instances with known answers (the toy network of
tests/envs/iot/helpers.py), and on every fixed set."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.policies.evaluation import run_episode
from tests.envs.iot.helpers import tasks, toy_topology

ENV_ID = "schedgym/IoTPlacement-v0"


def _placements(name: str, instance, **env_kwargs) -> tuple[list[int], list[int], dict]:
    """Runs baseline ``name`` on ``instance``; returns the node of each task, the order in which
    tasks were placed, and the final info."""
    env = gym.make(ENV_ID, decision_interval=0.0, **env_kwargs)
    scheduler = baselines.make(ENV_ID, name)
    obs, info = env.reset(seed=0, options={"instance": instance})
    scheduler.reset(env, seed=0)
    order, done = [], False
    while not done:
        selected = env.unwrapped.state.selected
        obs, _, terminated, truncated, info = env.step(scheduler.act(env))
        if selected >= 0 and env.unwrapped.state.node[selected] >= 0 and selected not in order:
            order.append(selected)
        done = terminated or truncated
    return env.unwrapped.state.node.tolist(), order, info


@pytest.mark.parametrize(("cycles", "expected"), [(1e8, 0), (1e9, 2)])
def test_greedy_takes_the_earliest_result(cycles: float, expected: int) -> None:
    # 1e8 cycles: device 0.1 s < edge 0.17 < cloud 0.345; 1e9: cloud 0.57 < edge 0.62 < device 1.0.
    nodes, _, _ = _placements("greedy", tasks(toy_topology(), [0.0], cycles=cycles))
    assert nodes == [expected]


@pytest.mark.parametrize(("deadline", "expected"), [(2.0, 0), (0.8, 1), (0.5, 2)])
def test_min_energy_takes_the_cheapest_node_meeting_the_deadline(deadline: float, expected: int) -> None:
    # 1e9 cycles: device 1.0 s / 1 J, edge 0.62 s / 10.05 J, cloud 0.57 s / 50.05 J; with a 0.5 s
    # deadline no node meets it and the earliest result (the cloud) wins.
    nodes, _, _ = _placements("min_energy", tasks(toy_topology(), [0.0], cycles=1e9, deadline=deadline))
    assert nodes == [expected]


def test_edf_places_the_tightest_deadline_first() -> None:
    instance = tasks(toy_topology(), [0.0, 0.0, 0.0], deadline=1.0)
    instance.deadline_s[:] = [1.0, 0.3, 0.6]
    _, order, _ = _placements("edf", instance)
    assert order == [1, 2, 0]
    _, order, _ = _placements("greedy", instance)
    assert order == [0, 1, 2]


def test_local_cloud_and_round_robin_place_where_they_say() -> None:
    instance = tasks(toy_topology(), [0.0] * 4, deadline=10.0)
    assert _placements("local", instance)[0] == [0, 0, 0, 0]
    assert _placements("cloud", instance)[0] == [2, 2, 2, 2]
    assert _placements("round_robin", instance)[0] == [0, 1, 2, 0]


def test_local_waits_for_memory_instead_of_offloading() -> None:
    instance = tasks(toy_topology(memory=(15.0, 1000.0, 1000.0)), [0.0, 0.0], input_bits=0.0, deadline=10.0)
    nodes, _, info = _placements("local", instance)
    assert nodes == [0, 0] and info["response_time_mean"] == pytest.approx((0.1 + 0.2) / 2)


@pytest.mark.parametrize("name", baselines.names(ENV_ID))
def test_every_baseline_finishes_a_fixed_instance(name: str) -> None:
    instance_set = gym.make(ENV_ID).unwrapped.load_instance_set("small-mesh-bursty")
    env = gym.make(ENV_ID, **instance_set.env_kwargs)
    result = run_episode(env, baselines.make(ENV_ID, name), instance_set.instances[0], seed=0)
    assert env.unwrapped.sim.done  # every task placed or dropped, no truncation
    assert np.isfinite(result.metrics["objective"]) and result.metrics["objective"] > 0
