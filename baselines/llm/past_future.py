"""Past-Future admission (LightLLM, ASPLOS 2025): admit a request only if the predicted peak
KV of the running batch with it stays within the cache."""

from __future__ import annotations

from collections import deque

import numpy as np

from schedgym.baselines.llm.common import OrderedAdmission, kv_holders
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.types import BLOCK_TOKENS, DONE, PREFILLING

HISTORY = 200  # finished output lengths remembered
MAX_SAMPLES = 5


class PastFutureScheduler(OrderedAdmission):
    """FCFS with LightLLM's past-future admission. It keeps the last 200 finished output
    lengths (initially 100 copies of the maximum new tokens). For every KV holder with ``d``
    tokens generated it samples a final length from the history values ≥ d (capped by its max
    new tokens); with holders sorted by remaining tokens, descending, the peak KV is
    ``max_k (remaining_k · k + Σ_{i≤k} current_i)``. The new request (with a sampled length)
    is admitted only if the largest peak over ``min(5, 200 / batch + 1)`` independent samples
    fits the cache.

    Args:
        seed: Seed of the length samples; ``reset`` reseeds it.
    """

    name = "past_future"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        super().reset_sim(sim, seed)
        self._rng = np.random.default_rng(self.seed if seed is None else seed)
        cap = int(sim.instance.max_new_tokens.max()) if sim.instance.num_requests else 1
        self._history: deque[int] = deque([cap] * 100, maxlen=HISTORY)
        self._recorded = np.zeros(sim.instance.num_requests, bool)

    def on_boundary(self, sim: LLMSim) -> None:
        st = sim.state
        finished = np.flatnonzero((st.status == DONE) & ~self._recorded)
        self._recorded[finished] = True
        for r in finished[np.lexsort((finished, st.finish[finished]))]:
            self._history.append(int(st.generated[r]))

    def admit(self, sim: LLMSim, request: int) -> bool:
        st, instance = sim.state, sim.instance
        if st.status[request] == PREFILLING:
            return True
        holders = np.asarray(kv_holders(sim) + [request], np.int64)  # picks hold KV already
        history = np.sort(np.asarray(self._history))
        current = instance.prompt_tokens[holders] + st.generated[holders]
        generated = st.generated[holders]
        cap = instance.max_new_tokens[holders]
        samples = int(min(MAX_SAMPLES, HISTORY // len(holders) + 1))
        peak = 0
        for _ in range(samples):
            final = self._sample(history, generated, cap)
            order = np.argsort(generated - final, kind="stable")  # remaining tokens, descending
            remaining = (final - generated)[order]
            cumulative = np.cumsum(current[order])
            peak = max(peak, int((remaining * np.arange(1, len(holders) + 1) + cumulative).max()))
        return peak <= sim.capacity * BLOCK_TOKENS

    def _sample(self, history: np.ndarray, generated: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """A final length for each request: a history value ≥ its generated tokens (its cap if
        none is), never above its cap and never below generated + 1."""
        first = np.searchsorted(history, generated, side="left")
        count = len(history) - first
        pick = first + (self._rng.random(len(generated)) * np.maximum(count, 1)).astype(np.int64)
        sampled = np.where(count > 0, history[np.minimum(pick, len(history) - 1)], cap)
        return np.maximum(np.minimum(sampled, cap), generated + 1)
