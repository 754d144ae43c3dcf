"""A Vidur replica scheduler driven by a SchedGym scheduler: a batching baseline or an ONNX policy.

Vidur asks its replica scheduler for the next batch at every iteration boundary
(``_get_next_batch(time)``). :class:`SchedGymReplicaScheduler` answers with the operations of a
SchedGym scheduler (``envs.llm.sim.Op``: pick a queued request's next prefill chunk, preempt,
lower the token budget, pause the decodes, run), the running requests decoding by default.

How the scheduler sees Vidur's state: SchedGym's baselines are functions of an
:class:`envs.llm.sim.LLMSim` and the LLMServe observation is encoded from one
(``LLMServeEnv.observe``), so Vidur's replica state is *mirrored* into an ``LLMSim`` (its numpy
reference, never run): Vidur's request objects are the truth, and after every Vidur batch the
mirror's rows of that batch's requests are set from them (tokens processed, prefill complete,
completion, KV blocks allocated by this scheduler), and arrivals join its queue when Vidur routes
them here. Building the observation straight from Vidur's objects would have meant a second
encoder to keep equal to the env's; the mirror reuses the env's encoder and the baselines as they
are, at the cost of O(batch) bookkeeping per iteration.

Memory follows SchedGym's rules, which Vidur's vLLM scheduler shares (blocks of 16 tokens, a
request holds the blocks of its context): a pick allocates the chunk's blocks, a decode the block
its next token needs; when the decodes need more blocks than are free, the most recently admitted
KV holders are preempted (vLLM's default) and recomputed later, through Vidur's
``Request.restart`` (repaired by :func:`restart_request`: see there).

A scheduler that runs nothing while requests wait (an untrained policy may) gets an empty Vidur
batch, which idles ``idle_step`` seconds (:mod:`.predictor`); SchedGym's env idles until the next
arrival instead. That is the one modelling difference between this adapter and SchedGym's own run.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from vidur.config import BaseReplicaSchedulerConfig
from vidur.entities import Batch, Request
from vidur.scheduler.replica_scheduler.base_replica_scheduler import BaseReplicaScheduler
from vidur.scheduler.replica_scheduler.replica_scheduler_registry import ReplicaSchedulerRegistry

from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.sim import LLMSim, Op, apply, blocks_for
from schedgym.envs.llm.types import DONE, PENDING, PREFILLING, RUNNING, WAITING, LLMInstance

#: The registry key of :class:`SchedGymReplicaScheduler` (see ``predictor.PREDICTOR_KEY``).
SCHEDULER_KEY = "schedgym"


@dataclass
class SchedGymSchedulerConfig(BaseReplicaSchedulerConfig):
    """Vidur's replica scheduler config selecting :class:`SchedGymReplicaScheduler`.

    Attributes:
        token_budget: Most tokens per iteration (the env's ``token_budget``).
        window: Queued requests the scheduler may pick from (the env's ``window``).
        batch_size_cap: Most requests per iteration (the env's ``max_batch_size``).
    """

    token_budget: int = field(default=4096, metadata={"help": "Tokens per iteration."})
    window: int = field(default=64, metadata={"help": "Queue window of the scheduler."})

    @staticmethod
    def get_type() -> str:
        return SCHEDULER_KEY


def restart_request(request: Request, prefill_target: int) -> None:
    """Vidur's ``Request.restart`` for a preemption, made right for SchedGym's recompute rule.

    ``restart`` makes the tokens processed so far the new prompt, which is right for a decoding
    request (prompt + generated) but not for a partial prefill (its whole prompt must be
    recomputed), and it leaves the pipeline-stage token counter and flag of the first pass, so
    the next prefill would overrun them. We set the prompt to ``prefill_target`` and clear both.
    """
    total = request.total_tokens
    request.restart()
    request._num_prefill_tokens = prefill_target
    request._num_decode_tokens = total - prefill_target
    request._num_stage_processed_tokens = 0
    request._is_prefill_stage_complete = False


class SchedGymReplicaScheduler(BaseReplicaScheduler):
    """Vidur's replica scheduler hook with a SchedGym scheduler deciding (module docstring).

    Vidur's registry builds it; :meth:`attach` then gives it the workload, its Vidur requests
    and the driver before the simulation runs.

    Attributes:
        mirror: The ``LLMSim`` mirroring Vidur's replica state.
        decisions: Operations the driver returned (RUN included).
        history: If recording, every batch as ``(time, decoding, picked)``: the instance ids of
            its decodes and of its prefill chunks (in pick order).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mirror: LLMSim | None = None
        self.decisions = 0
        self.history: list[tuple[float, list[int], list[int]]] | None = None

    def attach(self, instance: LLMInstance, requests: list[Request], driver: Any,
               preset: HardwarePreset, idle_step: float, seed: int = 0,
               record: bool = False) -> None:
        """Prepares a run of ``instance``, whose request ``i`` is Vidur's ``requests[i]``.

        Args:
            driver: Has ``reset_sim(sim, seed)`` and ``next_op(sim) -> Op`` (a batching baseline,
                ``envs.llm.fastsim.headless_driver(...)`` or :class:`.policy.PolicyDriver`).
            record: Keep every batch in :attr:`history`.
        """
        config = self._config
        mirror = LLMSim(instance, preset, config.batch_size_cap, config.token_budget, idle_step,
                        config.window, compiled=False)
        # The constructor admits the first arrivals; here requests arrive when Vidur routes them.
        mirror.state.status[:] = PENDING
        mirror.state.arrived = 0
        mirror.queue.clear()
        self.mirror, self._driver, self._requests = mirror, driver, requests
        self._row = {request.id: row for row, request in enumerate(requests)}
        self._limit = 4 * (instance.num_requests + int(instance.output_tokens.sum())) + 1000
        self.decisions = 0
        self.history = [] if record else None
        driver.reset_sim(mirror, seed)

    # ------------------------------------------------------------------ Vidur's hooks

    @property
    def num_pending_requests(self) -> int:
        return 0 if self.mirror is None else len(self.mirror.queue)

    def get_pending_requests(self) -> list[Request]:
        return [self._requests[row] for row in self.mirror.queue]

    def add_request(self, request: Request) -> None:
        row = self._row[request.id]
        mirror = self.mirror
        mirror.state.status[row] = WAITING
        bisect.insort(mirror.queue, row)
        mirror.state.arrived += 1
        mirror._window_rows = None

    def _get_next_batch(self, time: float) -> Batch | None:
        mirror, st = self.mirror, self.mirror.state
        st.time = time
        mirror._start_boundary()
        preempted = self._decide() if mirror.queue else []
        if mirror.paused and not mirror._picks:  # a pause with no pick is void (LLMSim.run)
            mirror.paused = False
        if not mirror.paused:
            holders = mirror.running + mirror.prefilling
            mirror._ensure_decode_memory()
            preempted += [row for row in holders if st.kv_blocks[row] == 0 and row not in preempted]
        for row in preempted:
            self._preempt(row)
        decodes = [] if mirror.paused else list(mirror.running)
        picks = list(mirror._picks)
        if not decodes and not picks:
            return Batch(self._replica_id, [], [], []) if mirror.queue else None
        requests, q_tokens, kv_tokens = [], [], []
        prompts = mirror.instance.prompt_tokens
        for row in decodes:  # the block its next token needs (LLMSim.decode_blocks_needed)
            st.kv_blocks[row] = blocks_for(int(prompts[row] + st.generated[row]))
        for row, q in [(row, 1) for row in decodes] + [(row, int(st.picked[row])) for row in picks]:
            request = self._requests[row]
            grow = int(st.kv_blocks[row]) - self._allocation_map.get(request.id, 0)
            if grow:
                self.allocate(request.id, grow)
            requests.append(request)
            q_tokens.append(q)
            kv_tokens.append(request.num_processed_tokens + q)
        st.free_blocks = self._cache_config.num_blocks - self._num_allocated_blocks
        if self.history is not None:
            self.history.append((time, decodes, picks))
        return Batch(self._replica_id, requests, q_tokens, kv_tokens)

    def on_batch_end(self, batch: Batch) -> None:
        super().on_batch_end(batch)
        mirror = self.mirror
        st, instance = mirror.state, mirror.instance
        mirror.iterations += 1
        for request, q in zip(batch.requests, batch.num_q_tokens):
            row = self._row[request.id]
            tenant = instance.tenant[row]
            prompt = int(instance.prompt_tokens[row])
            if st.status[row] == PREFILLING:
                st.prefilled[row] = (st.prefill_target[row] if request.is_prefill_complete
                                     else request.num_processed_tokens)
                if st.restarts[row] == 0:  # recomputation is no service (LLMSim)
                    st.tenant_service[tenant] += q / instance.tenant_weight[tenant]
                if request.is_prefill_complete:
                    self._start_decoding(row, request)
            if request.is_prefill_complete:  # a token was delivered
                st.generated[row] = request.num_processed_tokens - prompt
                st.last_token[row] = batch.completed_at
                st.tenant_service[tenant] += 2.0 / instance.tenant_weight[tenant]
            if request.completed:
                st.status[row] = DONE
                st.finish[row] = request.completed_at
                st.kv_blocks[row] = 0
                mirror.running.remove(row)
                mirror._done_count += 1
                self.free(request.id)
        st.free_blocks = self._cache_config.num_blocks - self._num_allocated_blocks

    # ------------------------------------------------------------------ helpers

    def _decide(self) -> list[int]:
        """Applies the driver's operations to the mirror until it runs; returns the requests it
        preempted."""
        preempted = []
        while True:
            op: Op = self._driver.next_op(self.mirror)
            self.decisions += 1
            if self.decisions > self._limit:
                raise RuntimeError(f"the scheduler made {self.decisions} decisions without "
                                   f"finishing the workload (the env would truncate here)")
            if op[0] == "run":
                return preempted
            if op[0] == "preempt":
                preempted.append(op[1])
            apply(self.mirror, op)

    def _start_decoding(self, row: int, request: Request) -> None:
        mirror, st = self.mirror, self.mirror.state
        st.status[row] = RUNNING
        if math.isnan(st.first_token[row]):
            st.first_token[row] = request.prefill_completed_at
        del mirror.queue[bisect.bisect_left(mirror.queue, row)]
        mirror.prefilling.remove(row)
        mirror.running.append(row)
        mirror._window_rows = None

    def _preempt(self, row: int) -> None:
        """Frees the KV of a request the mirror preempted and restarts it in Vidur."""
        request = self._requests[row]
        restart_request(request, int(self.mirror.state.prefill_target[row]))
        if request.id in self._allocation_map:
            self.free(request.id)


ReplicaSchedulerRegistry.register(SCHEDULER_KEY, SchedGymReplicaScheduler)


def check_mirror(scheduler: SchedGymReplicaScheduler) -> None:
    """Raises ``AssertionError`` unless the mirror agrees with Vidur's requests and allocation
    (tests call it; the adapter keeps it true after every batch)."""
    mirror, st = scheduler.mirror, scheduler.mirror.state
    allocated = np.zeros(len(scheduler._requests), np.int64)
    for request_id, blocks in scheduler._allocation_map.items():
        allocated[scheduler._row[request_id]] = blocks
    assert np.array_equal(allocated, st.kv_blocks), "KV blocks differ"
    assert st.free_blocks == scheduler._cache_config.num_blocks - scheduler._num_allocated_blocks
    for row, request in enumerate(scheduler._requests):
        prompt = int(mirror.instance.prompt_tokens[row])
        if request.completed:
            assert st.status[row] == DONE
        elif request.is_prefill_complete:
            assert st.status[row] == RUNNING
            assert st.generated[row] == request.num_processed_tokens - prompt
        elif st.status[row] != PENDING:
            assert st.prefilled[row] == request.num_processed_tokens, f"request {row} prefill"
