"""Earliest deadline first (least slack) on per-request SLO deadlines, and its overload variant
that serves requests which can still meet their SLOs before those which no longer can."""

from __future__ import annotations

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission, kv_holders
from schedgym.envs.llm.sim import LLMSim


class EDFScheduler(OrderedAdmission):
    """Admits queued requests by the deadline of their next token, earliest first: arrival +
    TTFT SLO for a first token, plus ``k`` TPOT SLOs for token ``k`` of a recomputed request
    (JITServe's per-token deadlines); vLLM's watermark rule, mixed batches, chunked prefill under
    the full budget so a long prompt does not stall decodes."""

    name = "edf"
    chunked = True

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        return candidates[np.argsort(self.deadline(sim, candidates), kind="stable")]

    @staticmethod
    def deadline(sim: LLMSim, requests: np.ndarray) -> np.ndarray:
        """When the next token of each request is due."""
        instance = sim.instance
        return (instance.arrival[requests] + instance.ttft_slo[requests]
                + sim.state.generated[requests] * instance.tpot_slo[requests])


class EDFTriageScheduler(EDFScheduler):
    """EDF with overload triage. A request is *lost* once it can no longer meet both SLOs: its
    first token is already late, or its mean TPOT would exceed the SLO even if it finished now.
    Queued requests are ordered viable first, then lost, by deadline within each group, and a
    lost request is admitted only while no viable request holds KV (runs or part-prefilled), so
    it never slows down one that can still make it.

    Plain EDF's weakness under overload is the domino effect (Buttazzo, *Hard Real-Time
    Computing Systems*, ch. 9): the most overdue request has the earliest deadline, so it runs
    first and makes the next one late too. Lost requests are deferred, not dropped: every
    request is still served, so episodes end as for every other baseline.
    """

    name = "edf_triage"

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        deadline = self.deadline(sim, candidates)
        return candidates[np.lexsort((deadline, self.lost(sim, candidates)))]

    def admit(self, sim: LLMSim, request: int) -> bool:
        if not super().admit(sim, request):
            return False
        if not self.lost(sim, np.array([request]))[0]:
            return True
        holders = np.asarray(kv_holders(sim), np.int64)
        return bool(self.lost(sim, holders).all())

    @staticmethod
    def lost(sim: LLMSim, requests: np.ndarray) -> np.ndarray:
        """Whether each request's SLOs are out of reach at the current time."""
        instance, st = sim.instance, sim.state
        first_token = st.first_token[requests]  # NaN before the first token
        ttft_deadline = instance.arrival[requests] + instance.ttft_slo[requests]
        ttft_lost = np.where(np.isnan(first_token), st.time >= ttft_deadline,
                             first_token > ttft_deadline)
        # Mean TPOT = (finish - first token) / (output - 1), and finish is after now.
        decode_tokens = instance.output_tokens[requests] - 1
        tpot_lost = (decode_tokens > 0) & (st.time >= first_token + decode_tokens * instance.tpot_slo[requests])
        return ttft_lost | tpot_lost
