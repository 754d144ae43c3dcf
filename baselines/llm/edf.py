"""Earliest deadline first (least slack) on per-request SLO deadlines."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission
from schedgym.envs.llm.sim import LLMSim


class EDFScheduler(OrderedAdmission):
    """Admits queued requests by the deadline of their next token, earliest first: arrival +
    TTFT SLO for a first token, plus ``k`` TPOT SLOs for token ``k`` of a recomputed request
    (JITServe's per-token deadlines); vLLM's watermark rule, mixed batches, chunked prefill under
    the full budget so a long prompt does not stall decodes."""

    name = "edf"
    chunked = True

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        instance = sim.instance
        deadline = (instance.arrival[candidates] + instance.ttft_slo[candidates]
                    + sim.state.generated[candidates] * instance.tpot_slo[candidates])
        return candidates[np.argsort(deadline, kind="stable")]
