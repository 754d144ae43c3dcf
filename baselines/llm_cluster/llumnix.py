"""Llumnix's dispatching (Sun et al., "Llumnix: Dynamic Scheduling for Large Language Model
Serving", OSDI 2024): to the replica with the most *freeness*."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm_cluster.common import Router, lowest
from schedgym.envs.llm.cluster import LLMCluster, queued_blocks


class LlumnixRouter(Router):
    """Dispatches to the replica of highest freeness F = (free KV blocks − the blocks its
    queued requests still need) / its requests, running plus queued: the paper's virtual usage
    counts a queued request's demand against its instance, and F is the memory left per
    request of the batch (roughly how many decode steps the batch can still take). The
    requests in the divisor and the demand of every waiting request follow the authors'
    artifact (AlibabaPAI/llumnix, ``InstanceLoadCalculator``, dispatch load
    ``remaining_steps``: load = −(available blocks − blocks of all waiting requests) /
    (running + waiting requests); an empty instance has load −∞, the most free). Ties go to
    the lowest index. Llumnix's live migration of running requests is not modelled (requests
    never move after routing): this is its dispatch policy alone."""

    name = "llumnix"

    def choose(self, cluster: LLMCluster, legal: np.ndarray) -> int:
        return lowest(-freeness(cluster), legal)


def freeness(cluster: LLMCluster) -> np.ndarray:
    """(K,) Llumnix's freeness of each replica, +∞ for an empty one."""
    values = np.full(cluster.num_replicas, np.inf)
    for k, sim in enumerate(cluster.replicas):
        requests = len(sim.running) + len(sim.queue)
        if requests:
            values[k] = (sim.state.free_blocks - queued_blocks(sim)) / requests
    return values
