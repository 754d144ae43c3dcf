"""Shortest job first with oracle output lengths (non-preemptive)."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission
from schedgym.envs.llm.sim import LLMSim


class SJFScheduler(OrderedAdmission):
    """Admits queued requests by true output length, shortest first (ties by arrival), with
    vLLM's watermark rule and mixed batches; an oracle, an upper reference for length
    predictors (Fu et al., NeurIPS 2024)."""

    name = "sjf"

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        return candidates[np.argsort(sim.instance.output_tokens[candidates], kind="stable")]
