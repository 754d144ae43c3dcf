"""Tests of the routers of ``schedgym/LLMCluster-v0`` on hand-made cluster states where each
picks a known replica, and through the env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.baselines.llm_cluster.least_outstanding import LeastOutstandingRouter
from schedgym.baselines.llm_cluster.llumnix import LlumnixRouter, freeness
from schedgym.baselines.llm_cluster.random import RandomRouter
from schedgym.baselines.llm_cluster.round_robin import RoundRobinRouter
from schedgym.envs.llm.cluster import LLMCluster
from schedgym.envs.llm.sim import blocks_for
from tests.envs.llm.helpers import A100, tiny_memory, workload

ENV_ID = "schedgym/LLMCluster-v0"
ALL = np.arange(3)


def _cluster(prompts: list[int], placement: list[int], preset=A100) -> LLMCluster:
    """A cluster at t = 0 where request i (of ``prompts``, all arriving at 0) was routed to
    ``placement[i]``; the next request (prompt 16) is pending. Nothing has run: every routed
    request waits in its replica's queue."""
    n = len(prompts) + 1
    cluster = LLMCluster(workload([0.0] * n, [*prompts, 16], [2] * n), preset, 3)
    for replica in placement:
        cluster.route(replica)
    return cluster


def test_round_robin_cycles_and_skips_replicas_that_cannot_serve() -> None:
    router = RoundRobinRouter()
    cluster = _cluster([], [])
    assert [router.choose(cluster, ALL) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    router = RoundRobinRouter()
    assert [router.choose(cluster, np.array([0, 2])) for _ in range(3)] == [0, 2, 2]  # 1 -> next, 2


def test_least_outstanding_counts_the_requests_in_flight() -> None:
    cluster = _cluster([100, 100, 100], [0, 0, 2])  # outstanding 2, 0, 1
    assert cluster.outstanding().tolist() == [2, 0, 1]
    assert LeastOutstandingRouter().choose(cluster, ALL) == 1
    assert LeastOutstandingRouter().choose(cluster, np.array([0, 2])) == 2
    tied = _cluster([100, 100], [0, 1])  # 1, 1, 0 -> 2; and ties go to the lowest index
    assert LeastOutstandingRouter().choose(tied, ALL) == 2
    assert LeastOutstandingRouter().choose(tied, np.array([0, 1])) == 0


def test_llumnix_prefers_memory_per_request_to_request_counts() -> None:
    # A 100-block cache. Replica 0 holds one queued request needing 90 blocks: freeness
    # (100 - 90) / 1 = 10. Replica 1 holds two needing 5 blocks each: (100 - 10) / 2 = 45.
    # Replica 2 holds three of 1 block: (100 - 3) / 3 = 32.3. LOR picks replica 0 (fewest
    # requests); Llumnix picks replica 1 (most free memory per request).
    cluster = _cluster([90 * 16, 80, 80, 16, 16, 16], [0, 1, 1, 2, 2, 2], preset=tiny_memory(100))
    assert cluster.replicas[0].capacity == 100 and blocks_for(90 * 16) == 90
    np.testing.assert_allclose(freeness(cluster), [10.0, 45.0, 97 / 3])
    assert LeastOutstandingRouter().choose(cluster, ALL) == 0
    assert LlumnixRouter().choose(cluster, ALL) == 1
    assert LlumnixRouter().choose(cluster, np.array([0, 2])) == 2


def test_llumnix_sends_to_an_empty_replica_first() -> None:
    cluster = _cluster([16, 16], [0, 1])  # replica 2 is empty: infinitely free
    assert freeness(cluster)[2] == np.inf
    assert LlumnixRouter().choose(cluster, ALL) == 2
    assert LlumnixRouter().choose(_cluster([], []), ALL) == 0  # all empty: the lowest index


def test_random_draws_every_legal_replica_reproducibly() -> None:
    cluster = _cluster([], [])
    draws = [RandomRouter(seed=4).choose(cluster, ALL) for _ in range(3)]
    assert len(set(draws)) == 1  # the same seed, the same first draw
    router = RandomRouter(seed=4)
    many = [router.choose(cluster, np.array([0, 2])) for _ in range(200)]
    assert set(many) == {0, 2}
    assert 60 < many.count(0) < 140


@pytest.mark.parametrize("name", ("random", "round_robin", "least_outstanding", "llumnix"))
def test_routers_run_an_episode_through_the_env(name: str) -> None:
    env = gym.make(ENV_ID, replicas=3, num_requests=45)
    env.reset(seed=1)
    router = baselines.make(ENV_ID, name)
    router.reset(env, seed=1)
    done, chosen = False, []
    while not done:
        action = router.act(env)
        assert env.unwrapped.action_masks()[action]
        chosen.append(action)
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    assert terminated and info["requests_done"] == 45
    assert np.bincount(chosen, minlength=3).tolist() == info["replica_requests"]
    if name == "round_robin":
        assert chosen == [i % 3 for i in range(45)]


def test_round_robin_restarts_its_cycle_at_each_episode() -> None:
    env = gym.make(ENV_ID, replicas=3, num_requests=4)
    router = baselines.make(ENV_ID, "round_robin")
    for _ in range(2):
        env.reset(seed=0)
        router.reset(env, seed=0)
        actions = []
        for _ in range(4):
            actions.append(router.act(env))
            env.step(actions[-1])
        assert actions == [0, 1, 2, 0]


def test_least_outstanding_balances_better_than_random() -> None:
    env = gym.make(ENV_ID, replicas=4, num_requests=200, rate=18.0)
    imbalance = {}
    for name in ("random", "least_outstanding"):
        env.reset(seed=2)
        router = baselines.make(ENV_ID, name)
        router.reset(env, seed=2)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(router.act(env))
            done = terminated or truncated
        imbalance[name] = info["load_imbalance"]
    assert 1.0 <= imbalance["least_outstanding"] < imbalance["random"]
