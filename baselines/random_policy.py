"""Uniformly random legal actions: the floor every other scheduler must clear."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class RandomScheduler:
    """Picks a legal action uniformly at random, from its own seeded generator.

    Args:
        seed: Seed of the scheduler's generator; ``reset(env, seed)`` reseeds it.
    """

    name = "random"
    env_ids = ("*",)

    def __init__(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def act(self, env: gym.Env) -> int:
        legal = np.flatnonzero(env.unwrapped.action_masks())
        return int(self._rng.choice(legal))
