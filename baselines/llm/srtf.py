"""Shortest remaining time first with oracle output lengths (preemptive)."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission
from schedgym.envs.llm.sim import LLMSim, Op


class SRTFScheduler(OrderedAdmission):
    """Admits queued requests by remaining output tokens, fewest first (ties by arrival). When
    the first of them cannot be admitted for lack of memory or batch slots, the running request
    with the most remaining tokens is preempted (recomputed later) if it has strictly more than
    that candidate, until the candidate fits."""

    name = "srtf"

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        return candidates[np.argsort(_remaining(sim, candidates), kind="stable")]

    def decide(self, sim: LLMSim) -> Op:
        op = super().decide(sim)
        if op[0] != "run" or not sim.running:
            return op
        st = sim.state
        candidates = np.asarray([r for r in sim.visible_queue() if not st.picked[r]], np.int64)
        if not len(candidates):
            return op
        best = int(self.order(sim, candidates)[0])
        running = np.asarray(sim.running, np.int64)
        victim = int(running[np.argmax(_remaining(sim, running))])
        if _remaining(sim, np.asarray([victim]))[0] > _remaining(sim, np.asarray([best]))[0] \
                and st.prefill_target[best] - st.prefilled[best] <= st.budget - st.batch_tokens + 1:
            return ("preempt", victim)
        return op


def _remaining(sim: LLMSim, requests: np.ndarray) -> np.ndarray:
    return sim.instance.output_tokens[requests] - sim.state.generated[requests]
