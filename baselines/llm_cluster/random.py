"""Random routing, Vidur's ``random`` global scheduler: the floor every router must clear."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.baselines.llm_cluster.common import Router
from schedgym.envs.llm.cluster import LLMCluster


class RandomRouter(Router):
    """A legal replica uniformly at random, from its own seeded generator.

    The shared ``random`` baseline avoids node 0, every other env's no-op; here node 0 is
    replica 0, an ordinary choice, so this router draws among all legal replicas.

    Args:
        seed: Seed of the router's generator; ``reset(env, seed)`` reseeds it.
    """

    name = "random"

    def __init__(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def choose(self, cluster: LLMCluster, legal: np.ndarray) -> int:
        return int(self._rng.choice(legal))
