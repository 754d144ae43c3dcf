"""The relaxation lower bound of the IoT objective: exact on a lone task, below every policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.baselines.iot.bound import episode_bound, task_bounds
from schedgym.envs.iot.sim import Weights
from schedgym.policies.evaluation import run_episode
from tests.envs.iot.helpers import tasks, toy_sim, toy_topology

ENV_ID = "schedgym/IoTPlacement-v0"


def test_a_lone_task_is_bounded_by_its_cheapest_node_exactly() -> None:
    instance = tasks(toy_topology(), [0.0])
    weights = Weights()
    # Device 0.1 s and 0.1 J, edge 0.17 s and 1.05 J, cloud 0.345 s and 5.05 J (helpers.py).
    assert episode_bound(instance, 0.0, weights) == pytest.approx(0.1 + 0.1 * 0.1)
    sim = toy_sim(instance, weights=weights)
    assert sim.place(0, 0) == pytest.approx(episode_bound(instance, 0.0, weights))


def test_the_task_waits_for_its_epoch_and_may_be_cheaper_dropped() -> None:
    instance = tasks(toy_topology(), [0.01], deadline=0.05)
    # Epoch 0.05: waiting 0.04 s, then 0.1 s on the device: late, so it misses.
    placed = 0.14 + 1.0 + 0.1 * 0.1
    assert task_bounds(instance, 0.05)[0] == pytest.approx(placed)
    cheap_drop = Weights(response=1.0, miss=1.0, drop=0.0, energy=0.1)
    assert task_bounds(instance, 0.05, cheap_drop)[0] == pytest.approx(0.05 + 1.0)


@pytest.mark.parametrize("name", ["small-tree-heavy", "small-mesh-bursty"])
def test_no_policy_beats_the_bound_on_a_fixed_instance(name: str) -> None:
    instance_set = gym.make(ENV_ID).unwrapped.load_instance_set(name)
    env = gym.make(ENV_ID, **instance_set.env_kwargs)
    instance = instance_set.instances[0]
    bound = episode_bound(instance, env.unwrapped.decision_interval, env.unwrapped.weights)
    objectives = [run_episode(env, baselines.make(ENV_ID, policy), instance, seed=0).metrics["objective"]
                  for policy in ("greedy", "local", "min_energy", "edf", "random")]
    assert all(bound <= objective * (1 + 1e-12) for objective in objectives)
    assert bound > 0.5 * min(objectives)  # and it is not trivially loose
