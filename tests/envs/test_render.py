"""``render_mode`` over every registered env id: the Gymnasium convention (``rgb_array``
pictures, ``None`` warns, anything else refused) and pictures that change no episode."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from schedgym import envs

ENV_IDS = envs.ENV_IDS
#: Small configurations, so that a random episode ends quickly.
SMALL_KWARGS: dict[str, dict] = {
    "schedgym/VMReschedule-v2": {"size": "small"},
    "schedgym/VMReschedule-v1": {"size": "small"},
    "schedgym/SoCDAG-v0": {"n_jobs": 4},
    "schedgym/LLMServe-v0": {"num_requests": 15},
    "schedgym/IoTPlacement-v0": {"num_tasks": 40},
    "schedgym/LLMCluster-v0": {"num_requests": 30},
}


def _random_episode(env: gym.Env, seed: int, steps: int = 3000) -> dict:
    """Seeded random masked actions until the episode ends (or ``steps``); the last info."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    for _ in range(steps):
        legal = np.flatnonzero(env.unwrapped.action_masks())
        # Prefer anything but the no-op, so the episode does work rather than stop at once.
        action = int(rng.choice(legal[1:] if len(legal) > 1 and rng.random() < 0.9 else legal))
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return info


def test_every_env_has_small_kwargs() -> None:
    assert set(SMALL_KWARGS) == set(ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_is_a_picture_of_the_episode(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array", **SMALL_KWARGS[env_id])
    assert "rgb_array" in env.metadata["render_modes"] and env.render_mode == "rgb_array"
    env.reset(seed=1)
    start = env.render()  # nothing done yet: still a picture
    assert start.dtype == np.uint8 and start.ndim == 3 and start.shape[2] == 3
    _random_episode(env, seed=1)
    image = env.render()
    assert not np.array_equal(image, start)
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 200
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 10  # not blank: bars, lines and text in several colours


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rendering_changes_no_episode(env_id: str) -> None:
    plain = _random_episode(gym.make(env_id, **SMALL_KWARGS[env_id]), seed=2)
    rendered = _random_episode(
        gym.make(env_id, render_mode="rgb_array", **SMALL_KWARGS[env_id]), seed=2)
    assert plain.keys() == rendered.keys()
    for key in plain:
        np.testing.assert_array_equal(plain[key], rendered[key], err_msg=key)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_without_a_render_mode_render_warns_and_returns_none(env_id: str) -> None:
    env = gym.make(env_id, **SMALL_KWARGS[env_id])
    assert env.render_mode is None
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("mode", ["ansi", "RGB_ARRAY", "rgb_array_list_x"])
def test_an_unknown_render_mode_is_refused_at_make(env_id: str, mode: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gym.make warns about a mode not in the metadata
        with pytest.raises(ValueError, match=r"render_mode.*'rgb_array'"):
            gym.make(env_id, render_mode=mode, **SMALL_KWARGS[env_id])


@pytest.mark.parametrize("mode", [1, True, ("rgb_array",)])
def test_a_render_mode_of_another_type_is_refused(mode) -> None:
    for env_id in ENV_IDS:
        with pytest.raises(ValueError, match="render_mode"):
            envs.env_class(env_id)(render_mode=mode, **SMALL_KWARGS[env_id])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_before_reset_is_refused(env_id: str) -> None:
    env = envs.env_class(env_id)(render_mode="rgb_array", **SMALL_KWARGS[env_id])
    with pytest.raises(RuntimeError, match="reset"):
        env.render()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_render_check_passes(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array", **SMALL_KWARGS[env_id]).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)  # runs Gymnasium's passive render checks on env.render()
    assert not [w for w in caught if "render" in str(w.message).lower()]
