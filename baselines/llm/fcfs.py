"""vLLM's default scheduler (as Vidur's ``vllm`` replica scheduler defines it): first come,
first served; prefills first; watermark admission; recompute preemption."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission
from schedgym.envs.llm.sim import LLMSim

#: vLLM/Vidur's ``max_tokens_in_batch``: a prefill batch holds len(batch) × longest prompt ≤ this.
MAX_TOKENS_IN_BATCH = 4096


class VLLMScheduler(OrderedAdmission):
    """vLLM FCFS: while the head of the queue fits (KV leaves 1% of blocks free, and the padded
    prefill batch len × max prompt stays within 4,096 tokens), admit it; an iteration with
    admissions is prefill-only (decodes stall), otherwise the running requests decode. The env
    preempts the most recently admitted request when a decode finds no free block, and it is
    recomputed from the head of the queue. Head-of-line blocking: a request that does not fit
    stops admission."""

    name = "fcfs"
    prefill_only = True

    def admit(self, sim: LLMSim, request: int) -> bool:
        if not super().admit(sim, request):
            return False
        st = sim.state
        picked = [r for r in sim._picks]
        longest = max([int(st.prefill_target[request])] + [int(st.prefill_target[r]) for r in picked])
        return (len(picked) + 1) * longest <= MAX_TOKENS_IN_BATCH
