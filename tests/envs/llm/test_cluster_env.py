"""Tests of ``schedgym/LLMCluster-v0`` (:mod:`envs.llm.cluster_env`): a hand-made instance where
the routing decision has a known effect, the mask, return == metric, observation features,
determinism, the load scale and bad arguments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.envs.llm.cluster_env import NODE_FEATURES
from schedgym.envs.llm.sim import blocks_for
from schedgym.envs.validation import ArgumentError
from tests.envs.llm.helpers import A100, workload

ENV_ID = "schedgym/LLMCluster-v0"
_F = {name: i for i, name in enumerate(NODE_FEATURES)}


def _episode(env: gym.Env, instance, choose) -> tuple[float, dict]:
    """Routes every request of ``instance`` with ``choose(step)``; returns (return, final info)."""
    env.reset(seed=0, options={"instance": instance})
    total, step, done, info = 0.0, 0, False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(choose(step))
        total += reward
        step += 1
        done = terminated or truncated
    return total, info


def test_routing_two_long_prompts_apart_meets_both_slos_together_one() -> None:
    # Two 4,000-token prompts at t = 0, one output token each, TTFT SLO 0.5 s. vLLM cannot batch
    # both prefills (2 × 4,000 > 4,096 tokens), so on one replica the second waits for the
    # first's prefill (about 0.3 s each): it misses its SLO. A request meeting its TTFT earns
    # its prompt and its token: 4,001 goodput tokens.
    instance = workload([0.0, 0.0], [4000, 4000], [1, 1], ttft=0.5)
    prefill = A100.iteration_ms(4000, 4000.0**2, 0, 0, 1) / 1000
    assert prefill < 0.5 < 2 * prefill
    env = gym.make(ENV_ID, replicas=2, reward_scale=1.0)
    apart_return, apart = _episode(env, instance, lambda step: step)
    together_return, together = _episode(env, instance, lambda step: 0)
    assert apart["slo_attainment"] == 1.0 and together["slo_attainment"] == 0.5
    assert apart_return == apart["goodput_tokens"] == 2 * 4001
    assert together_return == together["goodput_tokens"] == 4001
    assert apart["ttft_p99"] == prefill and together["ttft_mean"] == pytest.approx(1.5 * prefill)
    assert apart["replica_requests"] == [1, 1] and together["replica_requests"] == [2, 0]


def test_return_equals_the_goodput_metric_over_a_sampled_episode() -> None:
    env = gym.make(ENV_ID, replicas=3, num_requests=60, reward_scale=1e-3)
    obs, info = env.reset(seed=7)
    rng = np.random.default_rng(7)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(
            int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        total += reward
        steps += 1
        done = terminated or truncated
    assert terminated and steps == 60 == info["steps"] == info["requests_done"]
    assert total == pytest.approx(info["goodput_tokens"] * 1e-3)
    for key in ("slo_attainment", "token_goodput", "load_imbalance", "outstanding_max", "tbt_p99"):
        assert np.isfinite(info[key]), key
    assert sum(info["replica_requests"]) == 60


def test_mask_observation_and_illegal_actions() -> None:
    instance = workload([0.0, 0.0, 0.0], [100, 300, 50], [4, 4, 4])
    env = gym.make(ENV_ID, replicas=3).unwrapped
    obs, _ = env.reset(seed=0, options={"instance": instance})
    assert obs["action_mask"].tolist() == [1, 1, 1, 0]  # every replica; the request node never
    assert obs["node_mask"].tolist() == [1, 1, 1, 1] and obs["edge_mask"].sum() == 6
    with pytest.raises(ValueError, match="illegal"):
        env.step(3)
    obs, *_ = env.step(env.node_of(1))  # request 0 to replica 1; request 1 arrives at the same time
    nodes, capacity = obs["nodes"], A100.kv_blocks
    queued = blocks_for(100)
    assert nodes[1, _F["queued"]] == np.float32(1 / 64)
    assert nodes[1, _F["outstanding"]] == np.float32(1 / 128)
    assert nodes[1, _F["queued_kv"]] == np.float32(queued / capacity)
    assert nodes[1, _F["freeness"]] == np.float32((capacity - queued) / capacity)
    assert nodes[0, _F["queued"]] == 0 and nodes[0, _F["freeness"]] == 1.0
    assert nodes[3, _F["prompt_tokens"]] == np.float32(0.3) and nodes[3, _F["is_request"]] == 1
    headroom = obs["edge_attr"][:3, 0]
    np.testing.assert_array_equal(headroom, np.float32(
        [(capacity - blocks_for(300)) / capacity, (capacity - queued - blocks_for(300)) / capacity,
         (capacity - blocks_for(300)) / capacity]))
    assert obs["globals"][0] == np.float32(1 / 3)  # routed fraction
    env.step(0)
    obs, _, terminated, _, info = env.step(2)
    assert terminated and obs["node_mask"][3] == 0 and obs["action_mask"][0] == 1
    assert info["replica_requests"] == [1, 1, 1]
    with pytest.raises(RuntimeError, match="ended"):
        env.step(0)
    with pytest.raises(ValueError, match="replica 3"):
        env.node_of(3)


def test_the_true_output_length_is_never_observed() -> None:
    env = gym.make(ENV_ID, replicas=2).unwrapped
    base = workload([0.0, 0.5], [100, 200], [5, 5])
    longer = workload([0.0, 0.5], [100, 200], [50, 5])  # the pending request's output differs
    longer = type(longer)(**{**longer.arrays(), "max_new_tokens": base.max_new_tokens})
    first, _ = env.reset(seed=0, options={"instance": base})
    second, _ = env.reset(seed=0, options={"instance": longer})
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_seeded_episodes_are_deterministic_and_seeds_matter() -> None:
    def run(seed: int) -> list:
        env = gym.make(ENV_ID, replicas=2, num_requests=30, local_scheduler="past_future")
        obs, _ = env.reset(seed=seed)
        out = [obs["nodes"].copy()]
        for step in range(30):
            obs, reward, terminated, _, info = env.step(step % 2)
            out.append((obs["nodes"].copy(), reward))
        out.append(info["slo_attainment"])
        return out

    a, b, c = run(3), run(3), run(4)
    assert all(np.array_equal(x[0], y[0]) if isinstance(x, tuple) else np.array_equal(x, y)
               for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_the_default_load_scales_with_the_replicas(tmp_path) -> None:
    for k in (1, 2, 5):
        source = gym.make(ENV_ID, replicas=k).unwrapped.source
        assert source.rate == 3.0 * k and source.num_requests == 400 * k
    assert gym.make(ENV_ID, rate=7.0, num_requests=11).unwrapped.source.rate == 7.0
    trace = tmp_path / "trace.csv"
    rows = ("arrived_at,num_prefill_tokens,num_decode_tokens", "0.0,10,2", "4.0,10,2", "8.0,10,2")
    trace.write_text("\n".join(rows) + "\n")
    for k, scale, span in ((2, None, 4.0), (2, 1.0, 8.0)):  # by default K times the trace's rate
        env = gym.make(ENV_ID, replicas=k, trace=str(trace), rate_scale=scale).unwrapped
        env.reset(seed=0)
        assert env.cluster.instance.arrival[-1] == span


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"replicas": 0}, "replicas"), ({"replicas": 257}, "replicas"), ({"replicas": 2.0}, "replicas"),
    ({"local_scheduler": "random"}, "local_scheduler"), ({"rate": -1.0}, "rate"),
    ({"rate_scale": 2.0}, "rate_scale"), ({"generator_config": {"tenants": 0}}, "tenants"),
])
def test_bad_arguments_fail_at_make_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises((ValueError, TypeError)) as caught:
        gym.make(ENV_ID, **kwargs)
    error = caught.value.__cause__ or caught.value
    assert isinstance(error, ArgumentError) and name in str(error)


def test_a_request_too_long_for_a_replica_is_refused_at_reset() -> None:
    env = gym.make(ENV_ID, replicas=2)
    with pytest.raises(ValueError, match="request 0 needs"):
        env.reset(seed=0, options={"instance": workload([0.0], [4000], [200])})
