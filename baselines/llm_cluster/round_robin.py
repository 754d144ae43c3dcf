"""Round robin, Vidur's ``round_robin`` global scheduler."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.baselines.llm_cluster.common import Router
from schedgym.envs.llm.cluster import LLMCluster


class RoundRobinRouter(Router):
    """Request ``i`` of the episode goes to replica ``i mod K`` (Vidur,
    ``vidur/scheduler/global_scheduler/round_robin_global_scheduler.py``: a counter over the
    requests, modulo the replicas); if that replica cannot take it, the next one that can, in
    cyclic order."""

    name = "round_robin"

    def __init__(self) -> None:
        self._counter = 0  # requests routed this episode

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self._counter = 0

    def choose(self, cluster: LLMCluster, legal: np.ndarray) -> int:
        k = cluster.num_replicas
        target = self._counter % k
        self._counter += 1
        return int(legal[np.argmin((legal - target) % k)])
