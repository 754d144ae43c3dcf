"""Random legal actions: the floor every other scheduler must clear."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.envs.graph import NOOP_NODE


class RandomScheduler:
    """Picks a legal action uniformly at random, from its own seeded generator.

    The no-op node (``NOOP_NODE``: every env's stop/wait node) is taken only when nothing else is
    legal, so the random scheduler really acts (VMR2L's random baseline migrates until the limit)
    instead of ending episodes by chance.

    Args:
        seed: Seed of the scheduler's generator; ``reset(env, seed)`` reseeds it.
    """

    name = "random"

    def __init__(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """A fresh generator from ``seed`` (None keeps the current one)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def act(self, env: gym.Env) -> int:
        return self.choose(np.flatnonzero(env.unwrapped.action_masks()))

    def choose(self, legal: np.ndarray) -> int:
        """The draw of :meth:`act` among the ``legal`` nodes (ascending), which headless paths
        (``envs.llm.fastsim``) share to reproduce it."""
        acting = legal[legal != NOOP_NODE]
        # The draw of rng.choice(acting), from the same stream, without its argument checks.
        return int(acting[self._rng.integers(len(acting))]) if len(acting) else NOOP_NODE
