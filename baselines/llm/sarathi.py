"""Sarathi-Serve (Agrawal et al., OSDI 2024): chunked prefills under a per-iteration token
budget, stall-free batching."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.types import PREFILLING


class SarathiScheduler(OrderedAdmission):
    """Each iteration holds the running decodes first, then partially prefilled requests, then
    new ones (FCFS), each with a chunk of ``min(prefill left, budget left)`` tokens, until the
    token budget is used: decodes never stall behind a long prompt. New requests are admitted
    with vLLM's watermark rule on their whole prompt.

    Args:
        budget: Tokens per iteration, decodes included (512 for strict TBT SLOs, 2048 relaxed).
    """

    name = "sarathi"
    chunked = True

    def __init__(self, budget: int = 512) -> None:
        self.budget = int(budget)

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        partial = sim.state.status[candidates] == PREFILLING
        return np.concatenate([candidates[partial], candidates[~partial]])

    def first(self, sim: LLMSim, candidates: list[int]) -> int:
        # order()'s first, found among the few partial prefills (by id, as the candidates are).
        return next((r for r in sim.prefilling if r in candidates), int(candidates[0]))


class Sarathi2048Scheduler(SarathiScheduler):
    """Sarathi-Serve with the relaxed budget of 2,048 tokens."""

    name = "sarathi_2048"

    def __init__(self, budget: int = 2048) -> None:
        super().__init__(budget)
