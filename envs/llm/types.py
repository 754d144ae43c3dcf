"""Typed data of the LLM serving env: workloads (instances) and the mutable replica state.

Times are in seconds, lengths in tokens, memory in KV blocks. Shapes use R = requests of the
workload, T = tenants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Tokens per KV-cache block (vLLM's and Vidur's default).
BLOCK_TOKENS = 16

# Request status codes, also the order of the status one-hot in the observation.
PENDING, WAITING, PREFILLING, RUNNING, DONE = range(5)
STATUS_NAMES = ("pending", "waiting", "prefilling", "running", "done")
# PENDING: not arrived yet. WAITING: arrived, holds no KV (new, or preempted and to be
# recomputed). PREFILLING: part of its prefill done, holds the KV of it. RUNNING: decoding.


@dataclass(frozen=True)
class LLMInstance:
    """A workload: requests with arrival times, lengths, tenants and latency SLOs.

    ``output_tokens`` is the true generated length (an oracle field: SJF/SRTF baselines may read
    it, learned policies never see it); ``max_new_tokens`` is the cap a request declares.
    """

    arrival: np.ndarray  # (R,) float64 s, non-decreasing
    prompt_tokens: np.ndarray  # (R,) int64 ≥ 1
    output_tokens: np.ndarray  # (R,) int64 ≥ 1, ≤ max_new_tokens
    max_new_tokens: np.ndarray  # (R,) int64 ≥ 1
    tenant: np.ndarray  # (R,) int64 in [0, T)
    ttft_slo: np.ndarray  # (R,) float64 s, time-to-first-token target
    tpot_slo: np.ndarray  # (R,) float64 s, time-per-output-token target
    tenant_weight: np.ndarray  # (T,) float64 > 0, fair-queuing weights
    name: str = ""

    @property
    def num_requests(self) -> int:
        return int(self.arrival.shape[0])

    @property
    def num_tenants(self) -> int:
        return int(self.tenant_weight.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The instance as named arrays (for ``np.savez``)."""
        return {field: getattr(self, field) for field in _ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], name: str = "") -> "LLMInstance":
        """Inverse of :meth:`arrays`, validated (see :meth:`validate`).

        Raises:
            ValueError: If an array is missing or inconsistent; the message names it.
        """
        missing = [field for field in _ARRAYS if field not in arrays]
        if missing:
            raise ValueError(f"LLM instance {name!r} lacks the arrays {missing}")
        instance = cls(**{field: np.asarray(arrays[field]) for field in _ARRAYS}, name=name)
        instance.validate()
        return instance

    def validate(self) -> None:
        """Checks shapes, dtypes and ranges.

        Raises:
            ValueError: Naming the instance, the field and the first offending request.
        """
        n = self.num_requests
        for field in _ARRAYS[:-1]:
            array = getattr(self, field)
            if array.shape != (n,):
                raise ValueError(f"LLM instance {self.name!r}: {field} has shape {array.shape}, expected ({n},)")
        checks = (
            ("arrival", np.isfinite(self.arrival) & (self.arrival >= 0), "finite and ≥ 0"),
            ("prompt_tokens", self.prompt_tokens >= 1, "≥ 1"),
            ("output_tokens", (self.output_tokens >= 1) & (self.output_tokens <= self.max_new_tokens),
             "in [1, max_new_tokens]"),
            ("tenant", (self.tenant >= 0) & (self.tenant < self.num_tenants), f"in [0, {self.num_tenants})"),
            ("ttft_slo", np.isfinite(self.ttft_slo) & (self.ttft_slo > 0), "finite and > 0"),
            ("tpot_slo", np.isfinite(self.tpot_slo) & (self.tpot_slo > 0), "finite and > 0"),
        )
        for field, ok, allowed in checks:
            bad = np.flatnonzero(~ok)
            if len(bad):
                raise ValueError(f"LLM instance {self.name!r}: {field}[{bad[0]}] = "
                                 f"{getattr(self, field)[bad[0]]!r}, must be {allowed}")
        if n and np.any(np.diff(self.arrival) < 0):
            first = int(np.flatnonzero(np.diff(self.arrival) < 0)[0]) + 1
            raise ValueError(f"LLM instance {self.name!r}: arrival[{first}] precedes arrival[{first - 1}]")
        if not (np.all(np.isfinite(self.tenant_weight)) and np.all(self.tenant_weight > 0)):
            raise ValueError(f"LLM instance {self.name!r}: tenant_weight must be finite and > 0")
        for field in ("prompt_tokens", "output_tokens", "max_new_tokens", "tenant"):
            if not np.issubdtype(getattr(self, field).dtype, np.integer):
                raise ValueError(f"LLM instance {self.name!r}: {field} must be integer, "
                                 f"got {getattr(self, field).dtype}")


_ARRAYS = ("arrival", "prompt_tokens", "output_tokens", "max_new_tokens", "tenant", "ttft_slo",
           "tpot_slo", "tenant_weight")


@dataclass
class LLMState:
    """The replica state that baselines read (``env.unwrapped.state``), owned and updated by
    :class:`envs.llm.sim.LLMSim`. Per-request arrays are indexed by request id (arrival order).

    A request needs ``prefill_target`` tokens of prefill before its next token (the prompt; after
    a preemption, the prompt and the tokens generated so far, recomputed as vLLM does), then one
    decode step per further token.
    """

    time: float  # s, the current iteration boundary
    status: np.ndarray  # (R,) int8 status code (PENDING ... DONE)
    prefilled: np.ndarray  # (R,) int64 prefill tokens done toward prefill_target
    prefill_target: np.ndarray  # (R,) int64 prefill tokens needed before the next token
    generated: np.ndarray  # (R,) int64 output tokens delivered
    kv_blocks: np.ndarray  # (R,) int64 KV blocks held
    admitted_at: np.ndarray  # (R,) int64 admission sequence number (-1 = never); preemption picks the largest
    first_token: np.ndarray  # (R,) float64 s, time of the first output token (nan before)
    last_token: np.ndarray  # (R,) float64 s, time of the latest output token (nan before)
    finish: np.ndarray  # (R,) float64 s, completion time (nan before)
    restarts: np.ndarray  # (R,) int64 preemptions suffered
    goodput_tokens: np.ndarray  # (R,) int64 tokens earned under JITServe's token-goodput rule
    tenant_service: np.ndarray  # (T,) float64 weighted service (input tokens + 2 × output tokens) / weight
    free_blocks: int  # KV blocks free
    arrived: int  # requests with arrival ≤ time (ids [0, arrived) have arrived)
    # The batch being formed at this boundary.
    picked: np.ndarray  # (R,) int64 prefill tokens scheduled this iteration (0 = not picked)
    budget: int  # token budget of this iteration (lowered by a budget action)
    batch_tokens: int  # tokens already in this iteration: decodes + picked prefill chunks
