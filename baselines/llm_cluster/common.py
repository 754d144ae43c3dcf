"""The machinery of the routers: a router maps the cluster, at an arrival, to the replica that
serves the arriving request (``envs.llm.cluster.LLMCluster``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.envs.llm.cluster import LLMCluster


class Router:
    """Base class: :meth:`choose` a replica among the legal ones for the pending request."""

    name = "router"

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        """Prepares for an episode (stateless routers need nothing)."""

    def act(self, env: gym.Env) -> int:
        unwrapped = env.unwrapped
        legal = np.flatnonzero(unwrapped.action_masks()[:unwrapped.replicas])
        return unwrapped.node_of(self.choose(unwrapped.cluster, legal))

    def choose(self, cluster: LLMCluster, legal: np.ndarray) -> int:
        """The replica for ``cluster.pending``, one of ``legal`` (replica indices, ascending)."""
        raise NotImplementedError


def lowest(scores: np.ndarray, legal: np.ndarray) -> int:
    """The legal replica with the lowest score; ties go to the lowest index."""
    return int(legal[np.argmin(scores[legal])])
