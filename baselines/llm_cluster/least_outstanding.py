"""Least outstanding requests (LOR), Vidur's ``lor`` global scheduler."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm_cluster.common import Router, lowest
from schedgym.envs.llm.cluster import LLMCluster


class LeastOutstandingRouter(Router):
    """The replica with the fewest outstanding requests: routed to it and not completed
    (waiting, prefilling or decoding); ties go to the lowest index, as Vidur's ``min`` over its
    replica map does (``vidur/scheduler/global_scheduler/lor_global_scheduler.py``).

    Vidur counts a replica's ``num_pending_requests``, its queue of requests not yet admitted;
    with continuous batching that queue is empty at light load, which makes every replica tie
    and sends every request to replica 0. We count what the name says, the requests in flight
    (as least-outstanding-requests load balancers do), which is the stronger baseline and the
    same rule wherever requests wait."""

    name = "least_outstanding"

    def choose(self, cluster: LLMCluster, legal: np.ndarray) -> int:
        return lowest(cluster.outstanding(), legal)
