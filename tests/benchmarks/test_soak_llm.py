"""The LLM checker of the soak script (``benchmarks/soak.py``): short soaks of every LLM
configuration pass it, and it catches violations planted in a sound state."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest

from benchmarks import soak
from schedgym.envs import ENVS
from schedgym.envs.llm.env import NODE_FEATURES, RUN_NODE
from schedgym.envs.llm.types import RUNNING, WAITING

LLM = "schedgym/LLMServe-v0"
LLM_CONFIGS = [c for c in soak.configurations().values() if ENVS[c.env_id].key == "llm"]


def test_every_llm_extra_configuration_is_soaked() -> None:
    names = {c.name for c in LLM_CONFIGS}
    assert {"llm-tenants-flood", "llm-code-bursty", "llm-scarce-kv"} <= names
    assert soak.CHECKERS["llm"] is soak.LLMChecker


@pytest.mark.parametrize("config", LLM_CONFIGS, ids=lambda c: c.name)
def test_a_short_soak_of_each_llm_configuration_passes(config: soak.Config) -> None:
    result = soak.soak(config, steps=300, seed=0, check_every=10, noop_prob=0.01)
    assert result.steps == 300 and not result.failures, result.failures[:1]
    assert result.counts["requests_done"] > 0


def test_short_episodes_end_with_every_request_done_and_checked_metrics() -> None:
    config = soak.Config("llm-tiny", LLM, {"num_requests": 12, "workload": "code"})
    result = soak.soak(config, steps=600, seed=1, check_every=5, noop_prob=0.01)
    assert not result.failures, result.failures[:1]
    assert result.counts["episodes_done"] >= 2
    assert result.counts["requests_done"] >= 12 * result.counts["episodes_done"]


def test_truncated_episodes_pass_with_their_undefined_metrics() -> None:
    config = soak.Config("llm-truncated", LLM, {"num_requests": 30, "max_steps": 3})
    result = soak.soak(config, steps=60, seed=0, check_every=1, noop_prob=0.01)
    assert result.episodes == 20 and not result.failures, result.failures[:1]


def test_the_scarce_kv_configuration_forces_preemptions() -> None:
    config = soak.configurations()["llm-scarce-kv"]
    assert gym.make(config.env_id, **config.kwargs).unwrapped.preset.kv_blocks == 965
    result = soak.soak(config, steps=1000, seed=0, check_every=100, noop_prob=0.01)
    assert not result.failures and result.counts["forced_preemptions"] > 0


# --------------------------------------------------------------------------- planted violations


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _kv_conservation(env, obs) -> None:
    env.sim.state.free_blocks += 1


def _kv_of_a_waiting_request(env, obs) -> None:
    st = env.sim.state  # conserved, but held by a request that holds no KV
    st.kv_blocks[_first(st.status == WAITING)] += 1
    st.free_blocks -= 1


def _status_against_lists(env, obs) -> None:
    env.sim.state.status[env.sim.running[0]] = WAITING


def _generated_past_output(env, obs) -> None:
    st, r = env.sim.state, env.sim.running[0]
    st.generated[r] = env.sim.instance.output_tokens[r] + 1


def _first_token_moved(env, obs) -> None:
    env.sim.state.first_token[env.sim.running[0]] -= 1e-3


def _time_back(env, obs) -> None:
    env.sim.state.time -= 1.0


def _mask_beyond_the_queue(env, obs) -> None:
    obs["action_mask"][env._queue0 + len(env.sim.visible_queue())] = 1


def _wrong_status_shown(env, obs) -> None:
    obs["nodes"][env._run0, NODE_FEATURES.index("running")] = 0.0


PLANTED: list[tuple[Callable, str]] = [
    (_kv_conservation, r"free \d+ \+ held \d+ != capacity"),
    (_kv_of_a_waiting_request, "hold .* blocks, their tokens need"),
    (_status_against_lists, "queue .* is not the|running list"),
    (_generated_past_output, "generated exceeds the output length"),
    (_first_token_moved, "first_token changed once set"),
    (_time_back, "time"),
    (_mask_beyond_the_queue, "action mask differs from the legality"),
    (_wrong_status_shown, "status columns"),
]


def _sound_state(seed: int = 0):
    """An env and its checker after RUN steps that leave requests running and waiting."""
    env = gym.make(LLM, max_batch_size=6, rate=20.0, num_requests=60)
    checker = soak.LLMChecker(env)
    obs, info = env.reset(seed=seed)
    checker.on_reset(obs, info)
    rng = np.random.default_rng(seed)
    sim = env.unwrapped.sim
    while not (len(sim.running) >= 2 and (sim.state.status == WAITING).any()
               and (sim.state.status[sim.running] == RUNNING).all()):
        action = checker.draw_action(rng, obs["action_mask"], 0.3)
        obs, reward, terminated, _, info = env.step(action)
        checker.on_step(action, obs, reward, terminated, info)
    return env, checker, obs


@pytest.mark.parametrize("corrupt,match", PLANTED, ids=[f.__name__[1:] for f, _ in PLANTED])
def test_the_checker_catches_a_planted_violation(corrupt: Callable, match: str) -> None:
    env, checker, obs = _sound_state()
    obs, reward, terminated, _, info = env.step(RUN_NODE)
    corrupt(env.unwrapped, obs)
    with pytest.raises(soak.InvariantError, match=match):
        checker.on_step(RUN_NODE, obs, reward, terminated, info)


def test_the_checker_catches_a_wrong_reward_and_a_wrong_service() -> None:
    env, checker, obs = _sound_state()
    obs, reward, terminated, _, info = env.step(RUN_NODE)
    with pytest.raises(soak.InvariantError, match="reward"):
        checker.on_step(RUN_NODE, obs, reward + 1e-3, terminated, info)
    env, checker, obs = _sound_state()
    checker.full_check()  # sound
    env.unwrapped.sim.state.tenant_service[0] += 50.0
    with pytest.raises(soak.InvariantError, match="tenant service"):
        checker.full_check()
