"""The LLM cluster checker of the soak script: short soaks pass, planted violations are caught."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from benchmarks import soak
from schedgym.envs import ENVS

CLUSTER_CONFIGS = [c for c in soak.configurations().values() if ENVS[c.env_id].key == "llm_cluster"]


@pytest.mark.parametrize("config", CLUSTER_CONFIGS, ids=lambda c: c.name)
def test_a_short_soak_of_each_cluster_configuration_passes(config: soak.Config) -> None:
    result = soak.soak(config, steps=150, seed=0, check_every=10, noop_prob=0.0)
    assert result.steps == 150 and not result.failures, result.failures[:1]


def test_an_episode_ends_with_every_request_done() -> None:
    config = soak.Config("cluster-tiny", "schedgym/LLMCluster-v0", {"replicas": 3, "num_requests": 40})
    result = soak.soak(config, steps=120, seed=0, check_every=5, noop_prob=0.0)
    assert not result.failures and result.counts == {"episodes_done": 3, "requests_done": 120}


def _stepped():
    env = gym.make("schedgym/LLMCluster-v0", num_requests=60)
    checker = soak.LLMClusterChecker(env)
    obs, info = env.reset(seed=0)
    checker.on_reset(obs, info)
    for action in (0, 1, 2, 3, 0, 1):
        obs, reward, terminated, _, info = env.step(action)
        checker.on_step(action, obs, reward, terminated, info)
    obs, reward, terminated, _, info = env.step(2)
    return env.unwrapped, checker, obs, reward, terminated, info


def test_the_checker_catches_a_wrong_replica_a_mask_and_a_reward() -> None:
    env, checker, obs, reward, terminated, info = _stepped()
    with pytest.raises(soak.InvariantError, match="the action said 3"):
        checker.on_step(3, obs, reward, terminated, info)
    env, checker, obs, reward, terminated, info = _stepped()
    with pytest.raises(soak.InvariantError, match="return .* != goodput"):
        checker.on_step(2, obs, reward + 1.0, terminated, info)
    env, checker, obs, reward, terminated, info = _stepped()
    obs["action_mask"][:] = 0
    obs["action_mask"][0] = 1
    with pytest.raises(soak.InvariantError, match="mask differs"):
        checker.on_step(2, obs, reward, terminated, info)
    env, checker, obs, reward, terminated, info = _stepped()
    env.cluster.replicas[1].state.free_blocks += 1
    with pytest.raises(soak.InvariantError, match="capacity"):
        checker.on_step(2, obs, reward, terminated, info)
