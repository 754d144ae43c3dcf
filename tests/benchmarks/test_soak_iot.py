"""The IoT checker of the soak script (``benchmarks/soak.py``): short soaks of every IoT
configuration pass it, and it catches violations planted in a sound state."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest

from benchmarks import soak
from schedgym.envs import ENVS
from schedgym.envs.iot.types import PLACED

IOT = "schedgym/IoTPlacement-v0"
IOT_CONFIGS = [c for c in soak.configurations().values() if ENVS[c.env_id].key == "iot"]


@pytest.mark.parametrize("config", IOT_CONFIGS, ids=lambda c: c.name)
def test_a_short_soak_of_each_iot_configuration_passes(config: soak.Config) -> None:
    result = soak.soak(config, steps=400, seed=0, check_every=10, noop_prob=0.05)
    assert result.steps == 400 and not result.failures, result.failures[:1]


def test_short_episodes_end_checked_with_drops_counted() -> None:
    # Holding often with tight deadlines makes tasks expire in the queue.
    config = soak.Config("iot-tiny", IOT, {"num_tasks": 30, "rate": 60.0})
    result = soak.soak(config, steps=2000, seed=1, check_every=3, noop_prob=0.6)
    assert not result.failures, result.failures[:1]
    assert result.counts["episodes_done"] >= 3
    assert result.counts["tasks_placed"] + result.counts["tasks_dropped"] >= 90
    assert result.counts["tasks_dropped"] > 0


def _memory(env, obs) -> None:
    env.sim.state.memory_used[0] += 1.0


def _waiting_list(env, obs) -> None:
    env.sim.waiting.pop()


def _mask(env, obs) -> None:
    obs["action_mask"][env.encoder.task0 + len(env.visible_tasks())] = 1


def _run_time(env, obs) -> None:
    st = env.sim.state
    st.finish[np.flatnonzero(st.status == PLACED)[0]] += 1e-3


def _time_back(env, obs) -> None:
    env.sim.state.time -= 1.0


def _objective(env, obs) -> None:
    env.sim.objective += 1.0


PLANTED: list[tuple[Callable, str]] = [
    (_memory, "memory_used"),
    (_waiting_list, "waiting list"),
    (_mask, "mask differs"),
    (_run_time, "run time differs"),
    (_time_back, "time"),
    (_objective, "return .* != -objective"),
]


def _sound_state():
    """An env and its checker with tasks placed and others waiting."""
    env = gym.make(IOT, rate=60.0, decision_interval=0.05)
    checker = soak.IoTChecker(env)
    obs, info = env.reset(seed=0)
    checker.on_reset(obs, info)
    rng = np.random.default_rng(0)
    iot = env.unwrapped
    while not ((iot.state.status == PLACED).sum() >= 3 and len(iot.visible_tasks()) >= 2 and iot.phase == 0):
        obs, reward, terminated, _, info = env.step(soak.random_action(rng, obs["action_mask"], 0.0))
        checker.on_step(0, obs, reward, terminated, info)
    return env, checker, obs, info


@pytest.mark.parametrize(("plant", "message"), PLANTED, ids=[p.__name__ for p, _ in PLANTED])
def test_the_checker_catches_a_planted_violation(plant: Callable, message: str) -> None:
    env, checker, obs, info = _sound_state()
    plant(env.unwrapped, obs)
    with pytest.raises(soak.InvariantError, match=message):
        checker.on_step(0, obs, 0.0, False, info)


def test_the_full_check_catches_two_runs_on_one_core() -> None:
    env, checker, obs, info = _sound_state()
    st, sim = env.unwrapped.state, env.unwrapped.sim
    placed = np.flatnonzero(st.status == PLACED)
    first, second = placed[:2]
    device = int(sim.instance.device[first])
    sim.topology.cores[device] = 1  # pretend the device had one core, then overlap two runs on it
    st.node[[first, second]] = device
    st.start[second], st.finish[second] = st.start[first], st.finish[first]
    with pytest.raises(soak.InvariantError, match="runs 2 tasks at once on 1 cores"):
        checker.full_check()
