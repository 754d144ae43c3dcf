"""VTC, the Virtual Token Counter (Sheng et al., "Fairness in Serving Large Language Models",
OSDI 2024), as in the authors' artifact (``vtc_req_queue.py``)."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission
from schedgym.envs.llm.sim import LLMSim, Op

INPUT_COST, OUTPUT_COST = 1.0, 2.0  # VTC's default service weights per token


class VTCScheduler(OrderedAdmission):
    """Each tenant ``u`` has a counter ``c_u``. When its queue turns from empty to backlogged,
    ``c_u ← max(c_u, min of the backlogged tenants' counters)`` (no banked credit). To fill a
    batch it repeatedly takes the oldest queued request of the backlogged tenant with the
    smallest counter while it fits memory (vLLM's watermark) and the token budget, charging
    ``c_u += prompt / w_u``; every output token charges ``2 / w_u``. Mixed batches, no
    chunking, as S-LoRA serves."""

    name = "vtc"

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        super().reset_sim(sim, seed)
        self._counter = np.zeros(sim.instance.num_tenants)
        self._backlogged = np.zeros(sim.instance.num_tenants, bool)
        self._generated = np.zeros(sim.instance.num_tenants)

    def on_boundary(self, sim: LLMSim) -> None:
        instance, st = sim.instance, sim.state
        weight = instance.tenant_weight
        generated = np.bincount(instance.tenant, st.generated, minlength=instance.num_tenants)
        self._counter += OUTPUT_COST * (generated - self._generated) / weight
        self._generated = generated
        self._lift(sim)

    def _lift(self, sim: LLMSim) -> None:
        now = np.zeros_like(self._backlogged)
        if sim.queue:
            now[sim.instance.tenant[sim.queue]] = True
        for u in np.flatnonzero(now & ~self._backlogged):
            others = now & ~(now & ~self._backlogged)  # tenants backlogged before this boundary
            if others.any():
                self._counter[u] = max(self._counter[u], self._counter[others].min())
        self._backlogged = now

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        tenants = sim.instance.tenant[candidates]
        return candidates[np.lexsort((candidates, self._counter[tenants]))]

    def decide(self, sim: LLMSim) -> Op:
        op = super().decide(sim)
        if op[0] == "pick":
            u = sim.instance.tenant[op[1]]
            if sim.state.restarts[op[1]] == 0 and sim.state.prefilled[op[1]] == 0:
                self._counter[u] += INPUT_COST * sim.instance.prompt_tokens[op[1]] / sim.instance.tenant_weight[u]
        return op
