"""The IoT env's contract: two-step pointer actions, masks, window, reward = −objective."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym.envs.iot.encoding import NODE_FEATURES
from schedgym.envs.iot.env import HOLD_NODE
from tests.envs.iot.helpers import tasks, toy_topology

ENV_ID = "schedgym/IoTPlacement-v0"
F = {name: i for i, name in enumerate(NODE_FEATURES)}


def _toy_env(instance, **kwargs):
    env = gym.make(ENV_ID, decision_interval=0.0, **kwargs)
    obs, info = env.reset(seed=0, options={"instance": instance})
    return env, obs, info


def test_placing_takes_a_task_then_a_node_and_reward_is_minus_the_cost() -> None:
    env, obs, _ = _toy_env(tasks(toy_topology(), [0.0]), energy_weight=0.0, reward_scale=2.0)
    iot = env.unwrapped
    task_pointer = iot.task_node(0)
    assert obs["action_mask"].nonzero()[0].tolist() == [HOLD_NODE, task_pointer]
    assert iot.phase == 0
    obs, reward, terminated, _, _ = env.step(task_pointer)
    assert iot.phase == 1 and reward == 0.0 and not terminated
    assert obs["globals"][0] == 1.0 and obs["nodes"][task_pointer, F["selected"]] == 1.0
    nodes = [iot.compute_node(j) for j in range(3)]
    assert obs["action_mask"].nonzero()[0].tolist() == [HOLD_NODE, *nodes]
    # Phase-1 features: the response each node would give, over the deadline (1 s).
    np.testing.assert_allclose(obs["nodes"][nodes, F["response_if_placed"]], [0.1, 0.17, 0.345], rtol=1e-6)
    obs, reward, terminated, _, info = env.step(iot.compute_node(1))
    assert terminated and reward == pytest.approx(-2.0 * 0.17)
    assert info["objective"] == pytest.approx(0.17) and info["share_edge"] == 1.0


def test_hold_in_phase_one_unselects_without_time_passing_and_in_phase_zero_waits() -> None:
    env, obs, _ = _toy_env(tasks(toy_topology(), [0.0, 0.5]))
    iot = env.unwrapped
    env.step(iot.task_node(0))
    env.step(HOLD_NODE)
    assert iot.phase == 0 and iot.state.time == 0.0
    env.step(HOLD_NODE)  # nothing else is pending: the next event is task 1's arrival
    assert iot.state.time == 0.5 and iot.visible_tasks().tolist() == [0, 1]


def test_the_window_shows_the_oldest_waiting_tasks_and_counts_the_rest() -> None:
    env, obs, _ = _toy_env(tasks(toy_topology(), [0.0] * 7, deadline=100.0), window=4)
    iot = env.unwrapped
    assert iot.visible_tasks().tolist() == [0, 1, 2, 3]
    assert obs["globals"][1] == pytest.approx(7 / 4) and obs["globals"][2] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="task 5 is not in the window"):
        iot.task_node(5)
    env.step(iot.task_node(2))
    env.step(iot.compute_node(0))
    assert iot.visible_tasks().tolist() == [0, 1, 3, 4]


def test_a_full_node_is_masked_and_illegal_actions_raise() -> None:
    env, obs, _ = _toy_env(tasks(toy_topology(memory=(15.0, 1000.0, 1000.0)), [0.0, 0.0], input_bits=0.0))
    iot = env.unwrapped
    env.step(iot.task_node(0))
    env.step(iot.compute_node(0))
    obs, *_ = env.step(iot.task_node(1))
    assert not obs["action_mask"][iot.compute_node(0)]
    with pytest.raises(ValueError, match="illegal"):
        env.step(iot.compute_node(0))


def test_return_equals_minus_the_objective_on_a_sampled_episode() -> None:
    env = gym.make(ENV_ID, num_tasks=120, reward_scale=0.5)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(3)
    total, done = 0.0, False
    while not done:
        legal = np.flatnonzero(obs["action_mask"])
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(legal)))
        total += reward
        done = terminated or truncated
    assert terminated
    assert total == pytest.approx(-0.5 * info["objective"])
    assert info["tasks_completed"] + info["tasks_dropped"] == 120


def test_an_instance_larger_than_the_slots_is_refused() -> None:
    from schedgym.envs.iot.generator import sample_instance

    instance = sample_instance(np.random.default_rng(0), scale="medium", num_tasks=10)
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="47 nodes .* slots for 12"):
        env.reset(options={"instance": instance})
