"""rl_aco: the policy prior leaves the env untouched and is a distribution over legal nodes; with
no prior it is MMAS itself; a decisive prior with one candidate places where the policy says."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from schedgym.baselines.iot.aco import ACOScheduler
from schedgym.policies.evaluation import build_schedulers
from schedgym.policies.rl_aco import RLACOScheduler, is_hybrid, node_probabilities, policy_source
from tests.baselines.iot.helpers import busy_window_env, run_episode, tiny_instance, window_env


class FixedPolicy:
    """A stand-in learned policy: fixed logits per topology node, whatever the observation."""

    source = "fixed"

    def __init__(self, node_logits: np.ndarray, node0: int = 1) -> None:
        self.node_logits, self.node0, self.calls = np.asarray(node_logits, float), node0, 0

    def check(self, env) -> None:  # noqa: ANN001
        pass

    def logits_fn(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        self.calls += 1
        batch = obs["action_mask"].shape[0]
        logits = np.zeros(obs["action_mask"].shape)
        logits[:, self.node0:self.node0 + len(self.node_logits)] = self.node_logits
        return logits[:batch]


def test_node_probabilities_are_a_distribution_over_legal_nodes_and_change_nothing():
    env = busy_window_env(seed=3, waiting=5)
    iot = env.unwrapped
    before_state, before_obs = copy.deepcopy(iot.sim.state), copy.deepcopy(iot.observation())
    tasks = iot.visible_tasks()
    policy = FixedPolicy(np.arange(iot.sim.topology.num_nodes, dtype=float))
    probs = node_probabilities(policy, env, tasks)
    assert policy.calls == 1 and probs.shape == (len(tasks), iot.sim.topology.num_nodes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    feasible = iot.sim.feasible(tasks)
    assert np.all(probs[~feasible] == 0.0)
    for row, ok in zip(probs, feasible):  # softmax of 0, 1, 2, ... over the legal nodes
        legal = np.flatnonzero(ok)
        expected = np.exp(legal - legal.max())
        np.testing.assert_allclose(row[legal], expected / expected.sum())
    assert iot.phase == 0
    for key, value in before_obs.items():
        np.testing.assert_array_equal(iot.observation()[key], value)
    np.testing.assert_array_equal(iot.sim.state.core_free, before_state.core_free)


def test_without_a_prior_it_is_mmas():
    instance = tiny_instance(2, tasks=4)
    plain, hybrid = ACOScheduler(ants=6, iterations=5, seed=4), RLACOScheduler(
        FixedPolicy(np.array([5.0, 0.0, -5.0])), gamma=0.0, top_k=None, ants=6, iterations=5, seed=4)
    costs = []
    for scheduler in (plain, hybrid):
        env = window_env(instance)
        scheduler.reset(env)
        costs.append(run_episode(env, scheduler))
    assert costs[0] == costs[1]
    assert hybrid.forward_passes >= 1


@pytest.mark.parametrize("favourite", [0, 1, 2])
def test_one_candidate_with_a_decisive_prior_places_on_the_policys_node(favourite):
    instance = tiny_instance(5, tasks=3, memory_mb=(1e6, 1e6, 1e6))  # memory never binds
    logits = np.full(3, -10.0)
    logits[favourite] = 10.0
    hybrid = RLACOScheduler(FixedPolicy(logits), gamma=1.0, top_k=1, ants=4, iterations=3)
    env = window_env(instance)
    hybrid.reset(env)
    run_episode(env, hybrid)
    assert set(env.unwrapped.sim.state.node.tolist()) == {favourite}


def test_hybrid_names_and_bad_arguments():
    assert is_hybrid("rl_aco") and is_hybrid("rl_aco:runs/x.onnx") and not is_hybrid("aco")
    assert policy_source("rl_aco") == "pretrained:iot"
    assert policy_source("rl_aco:runs/x.onnx") == "runs/x.onnx"
    with pytest.raises(ValueError, match="top_k"):
        RLACOScheduler(FixedPolicy(np.zeros(3)), top_k=0)
    with pytest.raises(ValueError, match="gamma"):
        RLACOScheduler(FixedPolicy(np.zeros(3)), gamma=-1.0)
    with pytest.raises(ValueError, match="hybrid of schedgym/IoTPlacement-v0"):
        build_schedulers("schedgym/VMReschedule-v1", ["rl_aco"])
    with pytest.raises(ValueError, match="no policy file"):
        build_schedulers("schedgym/IoTPlacement-v0", ["rl_aco:/nonexistent/policy.onnx"])
