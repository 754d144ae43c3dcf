"""The machinery of the LLM batching baselines: a scheduler is a function from the replica
state to the next operation (``envs.llm.sim.Op``), so the same code drives the env (through
pointer actions) and the headless runner (``envs.llm.fastsim``)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from schedgym.envs.llm.sim import PAUSE, RUN, LLMSim, Op, blocks_for
from schedgym.envs.llm.types import PREFILLING

#: vLLM's admission watermark: blocks kept free for running requests to grow into (1%).
WATERMARK = 0.01


class BatchScheduler:
    """Base class: ``next_op(sim)`` at every step, with ``on_boundary(sim)`` once per boundary.

    Subclasses implement :meth:`decide`; stateful ones (counters, length histories) update
    their state in :meth:`on_boundary`, which sees every boundary exactly once.
    """

    name = "batch"

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self.reset_sim(env.unwrapped.sim, seed)

    def act(self, env: gym.Env) -> int:
        return env.unwrapped.node_of(self.next_op(env.unwrapped.sim))

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        """Prepares for an episode on ``sim`` (the headless runner calls this directly)."""
        self._boundary: tuple[int, float] | None = None

    def next_op(self, sim: LLMSim) -> Op:
        boundary = (sim.iterations, sim.state.time)
        if boundary != self._boundary:
            self._boundary = boundary
            self.on_boundary(sim)
        return self.decide(sim)

    def on_boundary(self, sim: LLMSim) -> None:
        """Called once at each new boundary, before the first :meth:`decide` there."""

    def decide(self, sim: LLMSim) -> Op:
        raise NotImplementedError


class OrderedAdmission(BatchScheduler):
    """Admit queued requests in a priority order while an admission rule allows, then run.

    The pattern of every published replica scheduler here; they differ in the order, the
    memory rule, whether prefills are chunked, the iteration's token budget and whether a
    prefill pauses the decodes.

    Attributes:
        budget: Token budget to lower each iteration to (Sarathi-Serve), or None.
        chunked: Whether a prefill may be split across iterations; if not, a request is picked
            only when its whole remaining prefill fits the budget left.
        prefill_only: Whether admitting prefills pauses the decodes (vLLM's prefill-first).
    """

    budget: int | None = None
    chunked = False
    prefill_only = False

    def decide(self, sim: LLMSim) -> Op:
        st = sim.state
        if self.budget is not None and self.budget < st.budget and not sim._picks:
            return ("budget", self.budget)
        request = self._head(sim)
        if request is None:
            return RUN
        if self.prefill_only and sim.running and not sim.paused and not sim._picks:
            return PAUSE
        if sim.chunk_if_picked(request) <= 0 or not self._fits_whole(sim, request):
            return RUN
        return ("pick", request)

    def _head(self, sim: LLMSim) -> int | None:
        """The first unpicked candidate in priority order if the admission rule admits it."""
        candidates = self.candidates(sim)
        if not candidates:
            return None
        head = self.first(sim, candidates)
        if not self.admit(sim, head) or not self._fits_whole(sim, head, pausing=self.prefill_only):
            return None
        return head

    @staticmethod
    def candidates(sim: LLMSim) -> list[int]:
        """The visible queued requests not picked in this iteration, by id."""
        candidates = sim.visible_queue()
        for picked in sim._picks:  # few; the queue is sorted (a preemption may have pushed one out)
            position = bisect.bisect_left(candidates, picked)
            if position < len(candidates) and candidates[position] == picked:
                del candidates[position]
        return candidates

    def first(self, sim: LLMSim, candidates: list[int]) -> int:
        """The candidate :meth:`order` puts first (without ordering them all where the order is
        arrival order, FCFS, as its candidates already are)."""
        if type(self).order is OrderedAdmission.order:
            return int(candidates[0])
        return int(self.order(sim, np.asarray(candidates, np.int64))[0])

    def _fits_whole(self, sim: LLMSim, request: int, pausing: bool = False) -> bool:
        if self.chunked:
            return True
        st = sim.state
        tokens_left = st.budget - (0 if pausing and not sim.paused else st.batch_tokens)
        return bool(st.prefill_target[request] - st.prefilled[request] <= tokens_left)

    def order(self, sim: LLMSim, candidates: np.ndarray) -> np.ndarray:
        """Candidates in priority order (default: arrival order, FCFS)."""
        return candidates

    def admit(self, sim: LLMSim, request: int) -> bool:
        """vLLM's rule: the request's KV leaves ``WATERMARK`` of the blocks free (after the
        decodes' needs); requests already holding KV (partial prefills) always continue."""
        st = sim.state
        if st.status[request] == PREFILLING:
            return True
        need = blocks_for(int(st.prefill_target[request]))
        decode_need = 0 if self.prefill_only else sim.decode_blocks_needed()
        return st.free_blocks - decode_need - need >= WATERMARK * sim.capacity


def reserved_blocks(sim: LLMSim, requests: Sequence[int]) -> int:
    """Blocks the requests would hold at their maximum length (prompt + max new tokens)."""
    rows = np.asarray(requests, np.int64)
    if not len(rows):
        return 0
    tokens = sim.instance.prompt_tokens[rows] + sim.instance.max_new_tokens[rows]
    return int(blocks_for(np.minimum(tokens, sim.preset.max_model_len)).sum())


def kv_holders(sim: LLMSim) -> list[int]:
    """Requests holding KV now: running ones and partial prefills."""
    return sim.running + sim.prefilling
