"""Iteration-level dynamics of one LLM serving replica with a paged KV cache.

The replica runs *iterations*: each processes a batch of prefill chunks and one decode token per
running request; its duration comes from the preset's cost model (:mod:`envs.llm.cost`). Between
iterations, at a *boundary*, the scheduler forms the next batch with four operations:

- :meth:`LLMSim.pick` a queued request: schedule its next prefill chunk, as long as the token
  budget, the batch-size cap and the free KV blocks allow (chunked prefill, Sarathi-Serve);
- :meth:`LLMSim.preempt` a request holding KV (not picked this iteration): free its KV and queue
  it to be recomputed later, as vLLM's recompute preemption does;
- :meth:`LLMSim.lower_budget` the iteration's token budget (before any pick), e.g. to 512;
- :meth:`LLMSim.pause_decodes` for this iteration: a prefill-only iteration, as vLLM's
  prefill-first scheduler runs (decodes stall, which is what chunked prefill avoids);

then :meth:`LLMSim.run` executes the iteration. Running requests decode by default (continuous
batching). When a decode needs a KV block and none is free, :meth:`run` preempts the most recently
admitted KV holders first (vLLM's default) before it executes.

:meth:`LLMSim.advance` moves to the next boundary that needs a decision: while nothing is queued
it runs decode-only iterations, or jumps to the next arrival, by itself. A scheduler is only asked
when some arrived request waits, so decisions per simulated second are bounded by the iterations
(an iteration lasts at least the preset's floor, 10 ms on the A100 preset) times the operations
per boundary (at most one pick per queued request plus one per preemption, budget and pause).

Speed: :meth:`LLMSim.run` executes the formed iteration and the decode-only ones after it in one
call of a small numba kernel (:func:`_advance_kernel`), which equals the numpy reference
(``LLMSim(..., compiled=False)``: :meth:`LLMSim._iterate`) bit for bit; the boundary operations
stay in Python, with the per-boundary quantities they need cached (the decodes' block need, the
partial prefills in :attr:`LLMSim.prefilling`).

Token accounting: a request needs ``prefill_target`` prefill tokens (its prompt; after a
preemption, its prompt and the tokens it had generated) before its next output token, which the
iteration finishing the prefill delivers. A decoding request with ``g`` tokens generated has
``prompt + g − 1`` tokens in its KV cache; its next decode step attends to and stores
``prompt + g`` tokens.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np
from numba import njit

from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.types import (BLOCK_TOKENS, DONE, PENDING, PREFILLING, RUNNING, WAITING,
                                     LLMInstance, LLMState)


def blocks_for(tokens: np.ndarray | int) -> np.ndarray | int:
    """KV blocks holding ``tokens`` tokens."""
    return -(-tokens // BLOCK_TOKENS)


def round_robin_window(queue: list[int], tenant: np.ndarray, window: int) -> list[int]:
    """The first ``window`` of ``queue`` (request ids, sorted) in round-robin order over the
    tenants: by the request's rank among its tenant's queued requests (0 for each tenant's
    oldest), then by arrival (id). Returned sorted by id.

    Args:
        queue: Queued request ids in ascending order.
        tenant: Tenant of every request, (R,).
        window: How many to return at most.
    """
    if len(queue) <= window:
        return list(queue)
    rows = np.asarray(queue, np.int64)
    tenants = tenant[rows]
    by_tenant = np.argsort(tenants, kind="stable")  # each tenant's requests in arrival order
    grouped = tenants[by_tenant]
    rank = np.empty(len(rows), np.int64)
    rank[by_tenant] = np.arange(len(rows)) - np.searchsorted(grouped, grouped)
    chosen = np.argsort(rank, kind="stable")[:window]  # stable: ties by position, i.e. by id
    return np.sort(rows[chosen]).tolist()


class LLMSim:
    """One replica serving one workload.

    Args:
        instance: The workload; every request must fit the model's context and the KV cache.
        preset: Hardware and model (cost model and memory).
        max_batch_size: Most requests in one iteration (decodes and prefill chunks); the
            running requests count also in a prefill-only iteration (:meth:`_batch_size`).
        token_budget: Most tokens in one iteration (one per decode plus the prefill chunks).
        idle_step: Seconds an empty iteration idles when no arrival is left to wait for.
        window: Queued requests a scheduler may pick from, the ones an observation shows
            (:meth:`visible_queue`): with one tenant, the oldest ``window``; with several, the
            first ``window`` in round-robin order over the tenants.
        compiled: Run the iterations in the numba kernel (:func:`_advance_kernel`); False runs
            the numpy reference (:meth:`_iterate`), which the kernel equals bit for bit (tested).
        routed: A replica of a cluster (:mod:`envs.llm.cluster`): requests arrive only when
            :meth:`route` delivers them, never by their arrival times, and :attr:`horizon`
            bounds how far :meth:`advance` runs, so the cluster can route each arrival at its
            time. Request ids stay the instance's; the requests never routed here stay pending.
        record: Log every iteration in :attr:`iteration_log` (for pictures); runs the numpy
            reference (``compiled`` must be False), since the kernel runs many iterations per
            call. Off by default: no cost when unused.

    Raises:
        ValueError: If a request cannot ever be served (context or KV capacity); the message
            names the first such request.
    """

    def __init__(self, instance: LLMInstance, preset: HardwarePreset, max_batch_size: int,
                 token_budget: int, idle_step: float, window: int, compiled: bool = True,
                 routed: bool = False, record: bool = False) -> None:
        if record and compiled:
            raise ValueError("record=True logs iterations on the numpy reference: "
                             "pass compiled=False")
        self.instance, self.preset, self.window = instance, preset, window
        self.max_batch_size, self.token_budget, self.idle_step = max_batch_size, token_budget, idle_step
        self.compiled = compiled
        self.capacity = preset.kv_blocks
        self._check_servable(instance)
        n = instance.num_requests
        self.state = LLMState(
            time=0.0, status=np.full(n, PENDING, np.int8), prefilled=np.zeros(n, np.int64),
            prefill_target=instance.prompt_tokens.astype(np.int64), generated=np.zeros(n, np.int64),
            kv_blocks=np.zeros(n, np.int64), admitted_at=np.full(n, -1, np.int64),
            first_token=np.full(n, np.nan), last_token=np.full(n, np.nan), finish=np.full(n, np.nan),
            restarts=np.zeros(n, np.int64), goodput_tokens=np.zeros(n, np.int64),
            tenant_service=np.zeros(instance.num_tenants), free_blocks=self.capacity, arrived=0,
            picked=np.zeros(n, np.int64), budget=token_budget, batch_tokens=0,
        )
        self.queue: list[int] = []  # arrived requests holding no running slot, by id (= arrival order)
        # Several tenants: the window is chosen round-robin, computed when the queue has changed.
        self._round_robin = instance.num_tenants > 1
        self._window_rows: list[int] | None = None
        self.prefilling: list[int] = []  # the queued requests holding a partial prefill's KV, by id
        self.running: list[int] = []  # decoding requests, in admission order
        self.paused = False
        self.iterations = 0
        self.preemptions = 0
        self.first_scheduled = np.full(n, np.nan)  # s, first pick of each request
        self._picks: list[int] = []
        self._admissions = 0
        self._decode_need: int | None = 0  # decode_blocks_needed() of the running set, None when stale
        self._gaps = np.empty(int(np.maximum(instance.output_tokens - 1, 0).sum()))
        self._gap_count = 0
        self._kv_block_seconds = 0.0  # ∫ used blocks dt, for the mean utilisation
        self._backlog = _BacklogGaps(instance.num_tenants)
        self._done_count = 0
        self._num_requests = 0 if routed else n  # the requests that arrive here
        self.routed = routed
        self._last_routed = -1
        #: advance() stops at the first boundary at or after this time (a cluster's next arrival).
        self.horizon = math.inf
        #: With ``record``: (start s, end s, prefill tokens, decodes, KV blocks used at the end)
        #: of every iteration run.
        self.iteration_log: list[tuple[float, float, int, int, int]] | None = [] if record else None
        if compiled:
            self._kernel = _KernelBuffers(instance, preset, self.state, self.capacity)
            self._running_in_buffer = True  # the kernel's copy of ``running`` is current
        if n:
            self.state.time = float(instance.arrival[0])
            self._admit_arrivals()
        self.advance()

    def route(self, request: int) -> None:
        """Delivers ``request`` to this routed replica (a cluster's routing decision at its
        arrival): it joins the queue at the current boundary, before any decision there. An idle
        replica's clock first moves to the arrival, as :meth:`advance` jumps to the next one.

        Raises:
            ValueError: If the replica is not routed, ``request`` is not newer than every request
                routed before, a batch is being formed, or the clock is behind the arrival while
                requests are in service.
        """
        st, arrival = self.state, float(self.instance.arrival[request])
        if (not self.routed or st.status[request] != PENDING or self._picks
                or request <= self._last_routed):
            raise ValueError(f"request {request} cannot be routed here now (routed replica: "
                             f"{self.routed}, picks: {len(self._picks)})")
        if self.done:
            st.time = max(st.time, arrival)
        elif st.time < arrival:
            raise ValueError(f"replica at {st.time} s, behind the arrival {arrival} s of request "
                             f"{request}: advance it to the arrival first")
        st.status[request] = WAITING
        self.queue.append(request)  # a newer id than every queued one
        self._window_rows = None
        self._last_routed = request
        st.arrived += 1
        self._num_requests += 1
        self._backlog.observe(self)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_kernel", None)  # pickling copies the state's arrays apart from its blocks
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.compiled:
            self._kernel = _KernelBuffers(self.instance, self.preset, self.state, self.capacity)
            self._kernel.picks[:len(self._picks)] = self._picks
            self._running_in_buffer = False

    # ------------------------------------------------------------------ queries

    def visible_queue(self) -> list[int]:
        """The queued requests a scheduler may pick, by id (arrival order); a new list.

        With one tenant, the first ``window`` of the queue. With several, the first ``window``
        in round-robin order over the tenants: every tenant's oldest queued request, then every
        tenant's second oldest, and so on, the requests of one round by arrival. So a tenant
        that floods the queue cannot hide the others' requests from a fair scheduler (VTC); with
        one tenant both rules are the same.
        """
        if not self._round_robin:
            return self.queue[:self.window]
        return list(self._window())

    def is_visible(self, request: int) -> bool:
        """Whether ``request`` is in :meth:`visible_queue` (a binary search: both are sorted)."""
        if self._round_robin:
            rows = self._window()
            position = bisect.bisect_left(rows, request)
            return position < len(rows) and rows[position] == request
        position = bisect.bisect_left(self.queue, request)
        return position < min(self.window, len(self.queue)) and self.queue[position] == request

    def _window(self) -> list[int]:
        """The round-robin window (do not modify it), recomputed only after the queue changed."""
        if self._window_rows is None:
            self._window_rows = round_robin_window(self.queue, self.instance.tenant, self.window)
        return self._window_rows

    @property
    def max_service_gap(self) -> float:
        """VTC's fairness measure so far: the largest weighted-service gap of two tenants over
        an interval in which both were backlogged (0 with one tenant)."""
        return self._backlog.max_gap

    @property
    def done(self) -> bool:
        """Whether every request has completed (routed: every request routed here)."""
        return self._done_count == self._num_requests

    @property
    def outstanding(self) -> int:
        """Requests that have arrived (routed: been routed here) and not completed."""
        return self.state.arrived - self._done_count

    def decode_blocks_needed(self) -> int:
        """New KV blocks the running decodes need this iteration (0 if decodes are paused)."""
        if self.paused or not self.running:
            return 0
        if self._decode_need is None:  # a preemption changed the running set
            rows = np.asarray(self.running)
            st = self.state
            need = blocks_for(self.instance.prompt_tokens[rows] + st.generated[rows]) - st.kv_blocks[rows]
            self._decode_need = int(need.sum())
        return self._decode_need

    def chunk_if_picked(self, request: int) -> int:
        """Prefill tokens a pick of ``request`` would schedule now (0 if it cannot be picked);
        the scalar form of :meth:`pick_chunks`."""
        st = self.state
        if (self._batch_size() >= self.max_batch_size or st.budget <= st.batch_tokens
                or not self.is_visible(request) or st.picked[request]):
            return 0
        prefilled = int(st.prefilled[request])
        chunk = min(int(st.prefill_target[request]) - prefilled, st.budget - st.batch_tokens)
        if chunk <= 0:
            return 0
        new_blocks = -(-(prefilled + chunk) // BLOCK_TOKENS) - int(st.kv_blocks[request])
        return chunk if new_blocks <= st.free_blocks - self.decode_blocks_needed() else 0

    def pick_chunks(self, requests: np.ndarray) -> np.ndarray:
        """The chunk a pick of each of the queued ``requests`` would schedule now, 0 where the
        budget, the batch-size cap or the free KV blocks (after the decodes' needs) forbid it, (k,)."""
        st = self.state
        if self._batch_size() >= self.max_batch_size or st.budget <= st.batch_tokens or not len(requests):
            return np.zeros(len(requests), np.int64)
        left = st.prefill_target[requests] - st.prefilled[requests]
        chunk = np.minimum(left, st.budget - st.batch_tokens)
        new_blocks = blocks_for(st.prefilled[requests] + chunk) - st.kv_blocks[requests]
        ok = (st.picked[requests] == 0) & (chunk > 0) & (new_blocks <= st.free_blocks - self.decode_blocks_needed())
        return np.where(ok, chunk, 0)

    def pickable(self, requests: np.ndarray) -> np.ndarray:
        """Which of the queued ``requests`` may be picked now, (k,) bool."""
        return self.pick_chunks(requests) > 0

    def preemptible(self, requests: np.ndarray) -> np.ndarray:
        """Which of ``requests`` may be preempted now: holding KV and not picked, (k,) bool."""
        st = self.state
        return (st.kv_blocks[requests] > 0) & (st.picked[requests] == 0)

    def _batch_size(self) -> int:
        """Requests the batch-size cap counts: the picks and the running ones, also while
        paused, since they decode again next iteration beside the picks that finish their
        prefill (vLLM's default scheduler, ``vllm/core/scheduler.py``, counts the running
        sequences against ``max_num_seqs`` before it schedules prefills)."""
        return len(self.running) + len(self._picks)

    # ------------------------------------------------------------------ batch forming

    def pick(self, request: int) -> int:
        """Schedules ``request``'s next prefill chunk in this iteration; returns its length.

        Raises:
            ValueError: If the request cannot be picked now.
        """
        chunk = self.chunk_if_picked(request)
        if chunk <= 0:
            raise ValueError(f"request {request} cannot be picked now")
        st = self.state
        if st.status[request] == WAITING:
            st.status[request] = PREFILLING
            st.admitted_at[request] = self._admissions
            self._admissions += 1
            bisect.insort(self.prefilling, request)
        if math.isnan(self.first_scheduled[request]):
            self.first_scheduled[request] = st.time
        new_blocks = blocks_for(int(st.prefilled[request]) + chunk) - int(st.kv_blocks[request])
        st.kv_blocks[request] += new_blocks
        st.free_blocks -= new_blocks
        st.picked[request] = chunk
        st.batch_tokens += chunk
        if self.compiled:
            self._kernel.picks[len(self._picks)] = request
        self._picks.append(request)
        return chunk

    def preempt(self, request: int) -> None:
        """Frees ``request``'s KV and queues it for recomputation (prompt and generated tokens).

        Raises:
            ValueError: If it holds no KV or is picked in this iteration.
        """
        st = self.state
        if st.kv_blocks[request] <= 0 or st.picked[request]:
            raise ValueError(f"request {request} holds no KV or is picked this iteration: cannot preempt")
        if st.status[request] == RUNNING:
            self.running.remove(request)
            self._decode_need = None
            self._running_in_buffer = False
            if not self.paused:
                st.batch_tokens -= 1
            bisect.insort(self.queue, request)
            self._window_rows = None
        else:  # a partial prefill
            self.prefilling.remove(request)
        st.free_blocks += int(st.kv_blocks[request])
        st.kv_blocks[request] = 0
        st.status[request] = WAITING
        st.prefilled[request] = 0
        st.prefill_target[request] = self.instance.prompt_tokens[request] + st.generated[request]
        st.restarts[request] += 1
        self.preemptions += 1

    def lower_budget(self, budget: int) -> None:
        """Lowers this iteration's token budget (only before any pick)."""
        if self._picks or not 0 < budget < self.state.budget:
            raise ValueError(f"budget {budget} must be in (0, {self.state.budget}) and set before any pick")
        self.state.budget = int(budget)

    def pause_decodes(self) -> None:
        """Makes this iteration prefill-only (only before any pick, with decodes to pause)."""
        if self.paused or self._picks or not self.running:
            raise ValueError("pause_decodes needs running decodes, no pick yet and no pause")
        self.paused = True
        self.state.batch_tokens = 0

    # ------------------------------------------------------------------ iterations

    def run(self) -> float:
        """Executes the batch formed at this boundary and advances to the next decision.

        A pause with no pick is void (the decodes run). An empty batch idles until the next
        arrival, or ``idle_step`` when none is left. Returns the JITServe goodput tokens earned
        until the next decision (the decode-only iterations that follow the batch included).
        """
        if self.paused and not self._picks:
            self.paused = False
        before = int(self.state.goodput_tokens.sum())
        if not (self._picks or self.running):
            self._idle()
            self.advance()
        elif self.compiled:
            if not self.paused and self.decode_blocks_needed() > self.state.free_blocks:
                self._ensure_decode_memory()
            self._advance_compiled(form=True)
            self._backlog.observe(self)
        else:
            self._iterate()
            self.advance()
        # Everything until the next decision, the decode-only iterations included, so that an
        # episode's return is its goodput.
        return float(int(self.state.goodput_tokens.sum()) - before)

    def advance(self) -> None:
        """Runs iterations (decodes only) and jumps to arrivals until a request is queued,
        every request is done or the clock reaches :attr:`horizon`."""
        if self.compiled:
            if not self.queue and not self.done and self.state.time < self.horizon:
                self._advance_compiled(form=False)
        else:
            instance = self.instance
            while not self.queue and not self.done and self.state.time < self.horizon:
                if self.running:
                    self._iterate()
                else:  # nothing runs, nothing waits: the next arrival
                    self.state.time = max(self.state.time, float(instance.arrival[self.state.arrived]))
                    self._admit_arrivals()
        self._backlog.observe(self)

    def _idle(self) -> float:
        st = self.state
        if st.arrived < self._num_requests:
            st.time = float(self.instance.arrival[st.arrived])
        else:  # a routed replica waits for the cluster's next arrival
            waiting = st.time < self.horizon < math.inf
            st.time = self.horizon if waiting else st.time + self.idle_step
        self._admit_arrivals()
        self._start_boundary()
        return 0.0

    def _advance_compiled(self, form: bool) -> float:
        """:meth:`_iterate` (the batch formed, if ``form``) and :meth:`advance`'s loop in one
        kernel call; returns the goodput earned by the formed batch."""
        st, buffers = self.state, self._kernel
        scalars = buffers.scalars
        scalars[:_RESULTS] = (form, self.paused, len(self._picks), len(self.running), len(self.queue),
                              st.free_blocks, st.arrived, self._done_count, self._gap_count, self.iterations,
                              self.preemptions)
        if not self._running_in_buffer:
            buffers.running[:len(self.running)] = self.running
        scalars[_REQUESTS] = self._num_requests
        times = buffers.times
        times[0], times[1], times[2] = st.time, self._kv_block_seconds, self.horizon
        arrived = st.arrived
        _advance_kernel(buffers.lists, scalars, times, buffers.params, st.status, buffers.int_rows,
                        buffers.float_rows, st.tenant_service, self._gaps)
        (_, _, _, n_running, _, st.free_blocks, st.arrived, self._done_count, self._gap_count,
         self.iterations, self.preemptions, n_removed, n_preempted, self._decode_need,
         earned) = scalars[:_CAPACITY].tolist()
        st.time, self._kv_block_seconds = times[:2].tolist()
        queue = self.queue
        self._window_rows = None
        if n_removed:
            for request in buffers.removed[:n_removed].tolist():
                del queue[bisect.bisect_left(queue, request)]
                self.prefilling.remove(request)
        if n_preempted:
            for request in buffers.preempted[:n_preempted].tolist():
                bisect.insort(queue, request)
        if st.arrived > arrived:
            queue.extend(range(arrived, st.arrived))  # later ids than every queued one
        self.running = buffers.running[:n_running].tolist()
        self._running_in_buffer = True
        self._picks.clear()  # the kernel cleared their picked chunks
        self.paused = False
        st.budget = self.token_budget
        st.batch_tokens = n_running
        return float(earned)

    def _iterate(self) -> float:
        """The numpy reference of one iteration (the kernel's twin): executes the batch formed."""
        st, instance = self.state, self.instance
        decodes = np.asarray([] if self.paused else self._ensure_decode_memory(), np.int64)
        picks = np.asarray(self._picks, np.int64)
        chunks = st.picked[picks]
        history = st.prefilled[picks]
        context = instance.prompt_tokens[decodes] + st.generated[decodes]
        duration = self.preset.iteration_ms(
            int(chunks.sum()), float((chunks * (2 * history + chunks)).sum()), len(decodes),
            int(context.sum()), len(decodes) + len(picks)) / 1000.0
        self._kv_block_seconds += (self.capacity - st.free_blocks) * duration
        end = st.time + duration
        earned = 0
        if len(decodes):
            new_blocks = blocks_for(context) - st.kv_blocks[decodes]
            st.kv_blocks[decodes] += new_blocks  # _ensure_decode_memory made room for them
            st.free_blocks -= int(new_blocks.sum())
            earned += self._deliver(decodes, end)
        if len(picks):
            st.prefilled[picks] += chunks
            first_pass = picks[st.restarts[picks] == 0]  # recomputation is no service
            tenants = instance.tenant[first_pass]
            np.add.at(st.tenant_service, tenants, st.picked[first_pass] / instance.tenant_weight[tenants])
            finished = picks[st.prefilled[picks] == st.prefill_target[picks]]
            if len(finished):
                fresh = finished[np.isnan(st.first_token[finished])]
                st.first_token[fresh] = end
                met = end <= instance.arrival[fresh] + instance.ttft_slo[fresh]
                st.goodput_tokens[fresh[met]] += instance.prompt_tokens[fresh[met]]
                earned += int(instance.prompt_tokens[fresh[met]].sum())
                self._window_rows = None
                for request in finished.tolist():
                    del self.queue[bisect.bisect_left(self.queue, request)]
                    self.prefilling.remove(request)
                st.status[finished] = RUNNING
                self.running.extend(finished.tolist())
                earned += self._deliver(finished, end)
        if self.iteration_log is not None:
            self.iteration_log.append((st.time, end, int(chunks.sum()), len(decodes),
                                       self.capacity - st.free_blocks))
        st.time = end
        self.iterations += 1
        self._admit_arrivals()
        self._start_boundary()
        return float(earned)

    def _deliver(self, requests: np.ndarray, end: float) -> int:
        """One output token for each of ``requests`` at ``end``; completes those that are done."""
        st, instance = self.state, self.instance
        previous = st.last_token[requests]
        gaps = end - previous[~np.isnan(previous)]
        self._gaps[self._gap_count:self._gap_count + len(gaps)] = gaps
        self._gap_count += len(gaps)
        index = st.generated[requests]  # 0-based index of the token delivered now
        st.generated[requests] += 1
        st.last_token[requests] = end
        deadline = instance.arrival[requests] + instance.ttft_slo[requests] + index * instance.tpot_slo[requests]
        met = end <= deadline
        st.goodput_tokens[requests] += met
        tenants = instance.tenant[requests]
        np.add.at(st.tenant_service, tenants, 2.0 / instance.tenant_weight[tenants])
        complete = requests[st.generated[requests] == instance.output_tokens[requests]]
        if len(complete):
            st.status[complete] = DONE
            st.finish[complete] = end
            st.free_blocks += int(st.kv_blocks[complete].sum())
            st.kv_blocks[complete] = 0
            gone = set(complete.tolist())
            self.running = [r for r in self.running if r not in gone]
            self._done_count += len(complete)
        return int(met.sum())

    def _ensure_decode_memory(self) -> list[int]:
        """Preempts the most recently admitted KV holders (not picked) until the running decodes'
        new blocks fit; returns the decodes that run."""
        st = self.state
        while self.running and self.decode_blocks_needed() > st.free_blocks:
            holders = [r for r in self.running + self.queue if st.kv_blocks[r] > 0 and not st.picked[r]]
            self.preempt(max(holders, key=lambda r: st.admitted_at[r]))
        return list(self.running)

    def _admit_arrivals(self) -> None:
        st, arrival = self.state, self.instance.arrival
        first = st.arrived
        while st.arrived < self._num_requests and arrival[st.arrived] <= st.time:
            st.arrived += 1
        if st.arrived > first:
            st.status[first:st.arrived] = WAITING
            self.queue.extend(range(first, st.arrived))  # later ids than every queued one
            self._window_rows = None

    def _start_boundary(self) -> None:
        st = self.state
        if self._picks:
            st.picked[np.asarray(self._picks)] = 0
            self._picks.clear()
        self.paused = False
        st.budget = self.token_budget
        st.batch_tokens = len(self.running)
        self._decode_need = None

    def _check_servable(self, instance: LLMInstance) -> None:
        context = instance.prompt_tokens + instance.output_tokens
        limits = (("the model's context", context > self.preset.max_model_len, self.preset.max_model_len),
                  ("the KV cache", blocks_for(context) > self.capacity, self.capacity * BLOCK_TOKENS))
        for what, too_long, limit in limits:
            bad = np.flatnonzero(too_long)
            if len(bad):
                r = int(bad[0])
                raise ValueError(
                    f"instance {instance.name!r}: request {r} needs {int(context[r])} tokens "
                    f"(prompt {int(instance.prompt_tokens[r])} + output {int(instance.output_tokens[r])}), "
                    f"more than {what} of preset {self.preset.name!r} ({limit} tokens); "
                    f"{len(bad)} requests are too long (clip them when loading the workload)")

    # ------------------------------------------------------------------ metrics

    def token_gaps(self) -> np.ndarray:
        """The time between consecutive output tokens of a request, every one so far (s)."""
        return self._gaps[:self._gap_count]

    def metrics(self) -> dict[str, Any]:
        """Every metric of the requests completed so far (times in seconds)."""
        return episode_metrics(self)


# ---------------------------------------------------------------------- compiled iterations
#
# The kernel runs what LLMSim._iterate and LLMSim.advance do, iteration by iteration, with the
# same arithmetic in the same order (floating sums as sequential as np.add.at's), so that its
# results equal the numpy reference bit for bit (tests/envs/llm/test_fastsim.py). Between two
# decisions the replica often runs dozens of decode-only iterations over a hundred requests:
# in numpy each cost ~150 µs of small-array passes, here about a microsecond.

# Slots of _KernelBuffers.scalars: the counters LLMSim passes in and reads back, then the outputs.
(_FORM, _PAUSED, _N_PICKS, _N_RUNNING, _QUEUED, _FREE, _ARRIVED, _DONE, _GAPS, _ITERATIONS,
 _PREEMPTIONS) = range(11)
_RESULTS = 11
_REMOVED, _PREEMPTED, _DECODE_NEED, _EARNED, _CAPACITY, _REQUESTS = range(_RESULTS, _RESULTS + 6)


# The per-request arrays of LLMState that become rows of an int and a float block, beside the
# instance's constant rows, so that the kernel takes few arguments (numba's dispatch costs about
# 0.25 µs per argument, a tenth of a decision's time).
_INT_ROWS = ("prefilled", "prefill_target", "generated", "kv_blocks", "admitted_at", "restarts", "goodput_tokens",
             "picked")
_FLOAT_ROWS = ("first_token", "last_token", "finish")


class _KernelBuffers:
    """The kernel's arrays, made once per episode (and again when a pickled sim is loaded): two
    blocks whose first rows are the state's per-request arrays (the state's fields become views
    of them) and whose last rows are the instance's constants, the cost and tenant parameters,
    and scratch buffers.

    The constants are computed with the reference's own numpy expressions (``arrival +
    ttft_slo``, ``2.0 / tenant_weight``), so they round as the reference does.
    """

    def __init__(self, instance: LLMInstance, preset: HardwarePreset, state: LLMState, capacity: int) -> None:
        n = instance.num_requests
        # (8 + 3, R): the state's rows, then prompt, output and tenant.
        self.int_rows = np.stack([getattr(state, field) for field in _INT_ROWS]
                                 + [instance.prompt_tokens, instance.output_tokens, instance.tenant]).astype(np.int64)
        # (3 + 3, R): the state's rows, then arrival, TTFT deadline and TPOT SLO.
        self.float_rows = np.stack([getattr(state, field) for field in _FLOAT_ROWS]
                                   + [instance.arrival, instance.arrival + instance.ttft_slo,
                                      instance.tpot_slo]).astype(np.float64)
        for rows, fields in ((self.int_rows, _INT_ROWS), (self.float_rows, _FLOAT_ROWS)):
            for row, field in zip(rows, fields):
                setattr(state, field, row)
        # (7 + 2T,): the cost coefficients (HardwarePreset.iteration_ms's order), then per tenant
        # the service of an output token and the weight.
        self.params = np.concatenate([
            [preset.floor_ms, preset.intercept_ms, preset.per_token_ms, preset.prefill_attn_ms,
             preset.decode_attn_ms, preset.per_seq_ms, preset.overhead_ms],
            2.0 / instance.tenant_weight, instance.tenant_weight]).astype(np.float64)
        # (4, R): this iteration's picks, the running requests (in order), the requests that left
        # the queue (prefill done) and those preempted into it; each a prefix, then scratch.
        self.lists = np.zeros((4, n), np.int64)
        self.picks, self.running, self.removed, self.preempted = self.lists
        self.scalars = np.zeros(_REQUESTS + 1, np.int64)  # counters, slots above
        self.scalars[_CAPACITY] = capacity
        self.times = np.zeros(3)  # (3,) time, ∫ used blocks dt and the horizon


@njit(cache=True, inline="always")
def _deliver_kernel(running, lo, hi, end, deadlines, requests, token_charge, generated, last_token,
                    goodput, service, status, finish, kv, gaps, gap_count):  # pragma: no cover - compiled
    """LLMSim._deliver for ``running[lo:hi]``; returns (tokens met, gap count, blocks freed,
    requests completed)."""
    met = freed = completed = 0
    for j in range(lo, hi):
        r = running[j]
        previous = last_token[r]
        if not np.isnan(previous):
            gaps[gap_count] = end - previous
            gap_count += 1
        index = generated[r]  # 0-based index of the token delivered now
        generated[r] = index + 1
        last_token[r] = end
        if end <= deadlines[1, r] + index * deadlines[2, r]:
            goodput[r] += 1
            met += 1
        service[requests[2, r]] += token_charge[requests[2, r]]
        if index + 1 == requests[1, r]:
            status[r] = DONE
            finish[r] = end
            freed += kv[r]
            kv[r] = 0
            completed += 1
    return met, gap_count, freed, completed


@njit(cache=True, inline="always")
def _compact_running(running, count, status):  # pragma: no cover - compiled
    """Drops the completed requests from ``running[:count]``, keeping the order; the new count."""
    kept = 0
    for j in range(count):
        if status[running[j]] != DONE:
            running[kept] = running[j]
            kept += 1
    return kept


@njit(cache=True, inline="always")
def _decode_need_kernel(running, count, requests, generated, kv):  # pragma: no cover - compiled
    """LLMSim.decode_blocks_needed for ``running[:count]``."""
    need = 0
    for j in range(count):
        r = running[j]
        need += (requests[0, r] + generated[r] + BLOCK_TOKENS - 1) // BLOCK_TOKENS - kv[r]
    return need


@njit(cache=True)
def _advance_kernel(lists, scalars, times, params, status, int_rows, float_rows, service,
                    gaps):  # pragma: no cover - compiled
    """If ``scalars[_FORM]``, LLMSim._iterate on the batch formed (its decodes' memory already
    ensured); then LLMSim.advance's loop. Reads and updates ``scalars`` and ``times`` (slots
    above) and the state arrays; returns the queue's changes in ``lists``."""
    n = scalars[_REQUESTS]  # the requests that arrive here (a routed replica's are routed)
    picks, running, removed, preempted = lists[0], lists[1], lists[2], lists[3]
    prefilled, target, generated, kv = int_rows[0], int_rows[1], int_rows[2], int_rows[3]
    admitted_at, restarts, goodput, picked = int_rows[4], int_rows[5], int_rows[6], int_rows[7]
    requests = int_rows[8:]  # prompt, output, tenant
    first_token, last_token, finish = float_rows[0], float_rows[1], float_rows[2]
    deadlines = float_rows[3:]  # arrival, TTFT deadline, TPOT SLO
    tenants = service.shape[0]
    cost, token_charge, weight = params[:7], params[7:7 + tenants], params[7 + tenants:]
    capacity, paused = scalars[_CAPACITY], scalars[_PAUSED]
    n_picks, n_running, queued = scalars[_N_PICKS], scalars[_N_RUNNING], scalars[_QUEUED]
    free, arrived = scalars[_FREE], scalars[_ARRIVED]
    done, gap_count = scalars[_DONE], scalars[_GAPS]
    iterations, preemptions = scalars[_ITERATIONS], scalars[_PREEMPTIONS]
    time, kv_seconds, horizon = times[0], times[1], times[2]
    n_removed = n_preempted = earned_first = 0
    first = scalars[_FORM] != 0
    while True:
        if not first and (queued > 0 or done == n or time >= horizon):
            break
        if not first and n_running == 0:  # nothing runs, nothing waits: the next arrival
            if deadlines[0, arrived] > time:
                time = deadlines[0, arrived]
        else:
            if not first:
                n_picks = 0
            decodes = 0 if (first and paused != 0) else n_running
            if not first:  # LLMSim._ensure_decode_memory; the queue is empty, so it holds no KV
                need = _decode_need_kernel(running, n_running, requests, generated, kv)
                while n_running > 0 and need > free:
                    victim = 0  # the most recently admitted
                    for j in range(1, n_running):
                        if admitted_at[running[j]] > admitted_at[running[victim]]:
                            victim = j
                    r = running[victim]
                    for j in range(victim, n_running - 1):
                        running[j] = running[j + 1]
                    n_running -= 1
                    free += kv[r]
                    kv[r] = 0
                    status[r] = WAITING
                    prefilled[r] = 0
                    target[r] = requests[0, r] + generated[r]
                    restarts[r] += 1
                    preemptions += 1
                    preempted[n_preempted] = r
                    n_preempted += 1
                    queued += 1
                    need = _decode_need_kernel(running, n_running, requests, generated, kv)
                decodes = n_running
            prefill_tokens = attention = context = 0
            for k in range(n_picks):
                chunk = picked[picks[k]]
                prefill_tokens += chunk
                attention += chunk * (2 * prefilled[picks[k]] + chunk)
            for j in range(decodes):
                context += requests[0, running[j]] + generated[running[j]]
            linear = cost[1] + cost[2] * (prefill_tokens + decodes)  # HardwarePreset.iteration_ms
            if not linear > cost[0]:
                linear = cost[0]
            duration = (linear + cost[3] * float(attention) + cost[4] * context
                        + cost[5] * (decodes + n_picks) + cost[6]) / 1000.0
            kv_seconds += (capacity - free) * duration
            end = time + duration
            earned = 0
            if decodes:
                for j in range(decodes):
                    r = running[j]
                    new_blocks = (requests[0, r] + generated[r] + BLOCK_TOKENS - 1) // BLOCK_TOKENS - kv[r]
                    kv[r] += new_blocks
                    free -= new_blocks
                met, gap_count, freed, completed = _deliver_kernel(
                    running, 0, decodes, end, deadlines, requests, token_charge, generated, last_token,
                    goodput, service, status, finish, kv, gaps, gap_count)
                earned += met
                free += freed
                if completed:
                    done += completed
                    n_running = _compact_running(running, n_running, status)
            if n_picks:
                for k in range(n_picks):
                    prefilled[picks[k]] += picked[picks[k]]
                for k in range(n_picks):
                    p = picks[k]
                    if restarts[p] == 0:  # recomputation is no service
                        service[requests[2, p]] += picked[p] / weight[requests[2, p]]
                lo = n_running
                for k in range(n_picks):
                    p = picks[k]
                    if prefilled[p] == target[p]:
                        if np.isnan(first_token[p]):
                            first_token[p] = end
                            if end <= deadlines[1, p]:
                                goodput[p] += requests[0, p]
                                earned += requests[0, p]
                        status[p] = RUNNING
                        running[n_running] = p
                        n_running += 1
                        removed[n_removed] = p
                        n_removed += 1
                        queued -= 1
                if n_running > lo:
                    met, gap_count, freed, completed = _deliver_kernel(
                        running, lo, n_running, end, deadlines, requests, token_charge, generated, last_token,
                        goodput, service, status, finish, kv, gaps, gap_count)
                    earned += met
                    free += freed
                    if completed:
                        done += completed
                        n_running = _compact_running(running, n_running, status)
                for k in range(n_picks):
                    picked[picks[k]] = 0
            time = end
            iterations += 1
            if first:
                earned_first = earned
                first = False
        start = arrived  # LLMSim._admit_arrivals
        while arrived < n and deadlines[0, arrived] <= time:
            status[arrived] = WAITING
            arrived += 1
        queued += arrived - start
    scalars[_N_RUNNING], scalars[_QUEUED], scalars[_FREE], scalars[_ARRIVED] = n_running, queued, free, arrived
    scalars[_DONE], scalars[_GAPS] = done, gap_count
    scalars[_ITERATIONS], scalars[_PREEMPTIONS] = iterations, preemptions
    scalars[_REMOVED], scalars[_PREEMPTED] = n_removed, n_preempted
    scalars[_DECODE_NEED] = _decode_need_kernel(running, n_running, requests, generated, kv)
    scalars[_EARNED] = earned_first
    times[0], times[1] = time, kv_seconds


class _BacklogGaps:
    """VTC's fairness measure: the largest difference in weighted service received by two
    tenants over an interval in which both were backlogged (had queued requests)."""

    def __init__(self, tenants: int) -> None:
        self.backlogged = np.zeros(tenants, bool)
        self.base = np.zeros((tenants, tenants))  # base[u, v]: u's service when (u, v) became co-backlogged
        self.max_gap = 0.0

    def observe(self, sim: LLMSim) -> None:
        if len(self.backlogged) < 2:
            return
        now = np.zeros(len(self.backlogged), bool)
        if sim.queue:
            now[sim.instance.tenant[sim.queue]] = True
        self.update(sim.state.tenant_service, now)

    def update(self, service: np.ndarray, now: np.ndarray) -> None:
        """One observation: the tenants' weighted service, (T,), and which are backlogged, (T,)."""
        joined = now > self.backlogged
        if joined.any():
            # A pair's common interval starts when its later member joins.
            self.base[:, joined] = service[:, None]
            self.base[joined, :] = service[joined][:, None]
        self.backlogged = now
        rows = now.nonzero()[0]
        if len(rows) >= 2:
            gained = service[rows][:, None] - self.base[rows][:, rows]
            self.max_gap = max(self.max_gap, float(np.abs(gained - gained.T).max()))


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def episode_metrics(sim: LLMSim) -> dict[str, Any]:
    """The leaderboard metrics over the completed requests of ``sim``."""
    st, instance = sim.state, sim.instance
    done = np.flatnonzero(st.status == DONE)
    arrival = instance.arrival[done]
    ttft = st.first_token[done] - arrival
    decode_tokens = instance.output_tokens[done] - 1
    tpot = np.where(decode_tokens > 0, (st.finish[done] - st.first_token[done]) / np.maximum(decode_tokens, 1), 0.0)
    e2e = st.finish[done] - arrival
    delay = sim.first_scheduled[done] - arrival
    met = (ttft <= instance.ttft_slo[done]) & (tpot <= instance.tpot_slo[done])
    span = (float(st.finish[done].max()) - float(instance.arrival[0])) if len(done) else 0.0
    # Jain's index of the tenants' SLO attainment: 1 when every tenant is served alike.
    tenants = instance.tenant[done]
    per_tenant = np.bincount(tenants, met, instance.num_tenants)[np.unique(tenants)] / \
        np.bincount(tenants, minlength=instance.num_tenants)[np.unique(tenants)] if len(done) else np.zeros(0)
    jain = float(per_tenant.sum() ** 2 / (len(per_tenant) * (per_tenant ** 2).sum())) if per_tenant.any() else 1.0
    per_second = (lambda x: x / span) if span > 0 else (lambda x: 0.0)
    return {
        "requests_done": int(len(done)),
        "ttft_mean": float(ttft.mean()) if len(done) else float("nan"),
        "ttft_p50": _percentile(ttft, 50), "ttft_p90": _percentile(ttft, 90), "ttft_p99": _percentile(ttft, 99),
        "tpot_mean": float(tpot.mean()) if len(done) else float("nan"), "tpot_p99": _percentile(tpot, 99),
        "tbt_p99": _percentile(sim._gaps[:sim._gap_count], 99),
        "e2e_mean": float(e2e.mean()) if len(done) else float("nan"), "e2e_p99": _percentile(e2e, 99),
        "scheduling_delay_p50": _percentile(delay, 50), "scheduling_delay_p99": _percentile(delay, 99),
        "throughput_rps": per_second(len(done)),
        "throughput_tps": per_second(float(instance.output_tokens[done].sum())),
        # Over every request of the workload: one a truncated episode never finished missed.
        "slo_attainment": float(met.sum() / instance.num_requests) if len(done) else float("nan"),
        "token_goodput": per_second(float(st.goodput_tokens.sum())),
        "goodput_tokens": int(st.goodput_tokens.sum()),
        "preemptions": int(sim.preemptions),
        "kv_utilization_mean": sim._kv_block_seconds / (sim.capacity * span) if span > 0 else 0.0,
        "tenant_service": st.tenant_service.tolist(),
        "fairness_jain": jain,
        "max_service_gap": sim.max_service_gap,
        "iterations": int(sim.iterations),
        "time": float(st.time),
    }


#: The operations a scheduler applies at a boundary, as ``(kind, argument)`` pairs: ``("run", 0)``,
#: ``("pause", 0)``, ``("budget", tokens)``, ``("pick", request)``, ``("preempt", request)``.
Op = tuple[str, int]
RUN: Op = ("run", 0)
PAUSE: Op = ("pause", 0)


def apply(sim: LLMSim, op: Op) -> float:
    """Applies one operation to ``sim``; returns the goodput tokens earned (``run`` only).

    The env's ``step`` and the headless runner both act through this function, which is what
    makes them bit-identical.
    """
    kind, argument = op
    if kind == "run":
        return sim.run()
    if kind == "pick":
        sim.pick(argument)
    elif kind == "preempt":
        sim.preempt(argument)
    elif kind == "budget":
        sim.lower_budget(argument)
    elif kind == "pause":
        sim.pause_decodes()
    else:
        raise ValueError(f"unknown operation {op!r}")
    return 0.0
