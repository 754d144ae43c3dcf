"""Event simulation of the SoC DAG env (``schedgym/SoCDAG-v0``): the chip's dynamics and all its
mutable state, with no observation, action or reward encoding.

:class:`SoCSim` runs one episode of one :class:`~envs.soc.types.SoCInstance`: jobs arrive,
enter a window of ``W`` task slots (and ``E`` DAG-edge slots) in arrival order, their tasks
become ready when their inputs are computed, and a caller commits ready tasks to PEs
(:meth:`SoCSim.commit`) and lets time pass (:meth:`SoCSim.advance`, :meth:`SoCSim.idle`). The
caller's view is :attr:`SoCSim.state` (a :class:`~envs.soc.types.SoCState`): expected times
from mean latencies; realised times (mean latency × the task's pre-drawn noise factor) stay
inside the sim until tasks finish.

:mod:`envs.soc.env` wraps it as a Gymnasium env; :mod:`envs.soc.fastsim` is a compiled
re-implementation of the same dynamics that shares this module's checks, noise draw and ranks.
Times are in µs.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import NamedTuple

import numpy as np

from schedgym.envs.soc.dag import Dag, inverse_bandwidth, upward_rank
from schedgym.envs.soc.types import DONE, NOT_READY, QUEUED, READY, RUNNING
from schedgym.envs.soc.types import Job, Platform, SoCInstance, SoCState

BAD_ARRIVALS = "instance arrivals must be one non-decreasing time per job"


def draw_task_noise(rng: np.random.Generator, n_tasks: list[int] | np.ndarray,
                    sigma: float) -> np.ndarray:
    """Execution-time noise factors of every task of every job, job by job (one flat array):
    ``N(1, sigma)`` truncated to positive values by resampling (never clipped), each job's
    resamples drawn right after its own factors; all ones when ``sigma == 0`` (``rng`` unused).
    :class:`SoCSim` and :mod:`envs.soc.fastsim` both draw through this function, so they see
    the same noise for the same seed.

    Args:
        rng: The generator (the env's ``np_random`` right after ``reset(seed=...)``).
        n_tasks: Number of tasks of each job.
        sigma: Noise standard deviation as a fraction of the mean latency.

    Returns:
        The factors, shape (sum(n_tasks),) float64.
    """
    total = int(np.sum(n_tasks))
    if sigma <= 0:
        return np.ones(total)
    # Fast path: one draw for all jobs is the same stream as one draw per job, as long as no
    # factor needs a resample; otherwise rewind and redo job by job.
    state = rng.bit_generator.state
    factors = rng.normal(1.0, sigma, total)
    if (factors > 0).all():
        return factors
    rng.bit_generator.state = state
    parts = []
    for n in n_tasks:
        f = rng.normal(1.0, sigma, n)
        while (bad := f <= 0).any():
            f[bad] = rng.normal(1.0, sigma, int(bad.sum()))
        parts.append(f)
    return np.concatenate(parts)


def check_platform(instance: SoCInstance, platform: Platform) -> None:
    """Raises ``ValueError`` if ``instance``'s costs refer to another platform."""
    if instance.platform != platform.name:
        raise ValueError(f"instance {instance.name!r} is for platform {instance.platform!r}, "
                         f"this simulator runs {platform.name!r}")


def check_jobs(jobs: tuple[Job, ...], platform: Platform, window: int, e_dag: int) -> None:
    """Raises ``ValueError`` naming the first job that has no tasks, does not fit ``window``
    task slots and ``e_dag`` DAG edge slots, whose costs do not match the platform's PE kinds,
    or that has a task no PE kind can run."""
    for job in jobs:
        if job.n_tasks == 0:
            raise ValueError(f"job {job.name!r} has no tasks")
        if job.n_tasks > window or len(job.edges) > e_dag:
            raise ValueError(f"a job of {job.n_tasks} tasks / {len(job.edges)} edges does "
                             f"not fit window={window} (E_dag={e_dag}); raise window")
        if job.cost.shape[1] != platform.n_kinds:
            raise ValueError("job costs do not match the platform's PE kinds")
        if (~np.isfinite(job.cost)).all(1).any():
            raise ValueError(f"job {job.name!r} has a task that no PE kind can run")


_RANK_BY_CONTENT: dict[tuple, np.ndarray] = {}
_RANK_BY_ID: dict[tuple[int, str], tuple[Job, np.ndarray]] = {}
_RANK_CACHE_SIZE = 4096


def job_rank(job: Job, platform: Platform) -> np.ndarray:
    """HEFT upward rank of each of ``job``'s tasks on ``platform`` (mean costs), shape (n,).

    Cached, because every episode needs it for every job: by object for repeated episodes of
    one instance, by content because streams repeat the same few applications. The result is
    shared between callers: do not modify it.
    """
    hit = _RANK_BY_ID.get((id(job), platform.name))
    if hit is not None and hit[0] is job:
        return hit[1]
    key = (platform.name, job.cost.shape, job.cost.tobytes(), job.edges.tobytes(),
           job.volume.tobytes())
    rank = _RANK_BY_CONTENT.get(key)
    if rank is None:
        rank = upward_rank(Dag(job.cost[:, platform.pe_kind], job.edges, job.volume,
                               platform.bandwidth))
    for cache in (_RANK_BY_CONTENT, _RANK_BY_ID):
        if len(cache) >= _RANK_CACHE_SIZE:
            cache.clear()
    _RANK_BY_CONTENT[key] = rank
    # The job is kept with its rank so that its id cannot be reused by another object.
    _RANK_BY_ID[id(job), platform.name] = (job, rank)
    return rank


class Elapsed(NamedTuple):
    """Time that passed in one :meth:`SoCSim.advance` or :meth:`SoCSim.idle`.

    Attributes:
        time: Simulated µs that passed.
        job_time: Σ over the intervals of (jobs in the system × interval length), µs: the
            streaming cost, of which the whole episode's sum is ``total_time_in_system``.
    """

    time: float
    job_time: float


class SoCSim:
    """One episode of the SoC chip: the event heap, arrivals, window admission, FIFO PE queues,
    transfers and realised (noisy) execution times.

    The sim is driven in decisions: after construction and after each :meth:`commit`, call
    :meth:`advance` to process events until a task is ready (or every job is done). Jobs enter
    the window in arrival order, each task into the smallest free slot; a job waits outside
    while its tasks or edges do not fit. A committed task joins its PE's FIFO queue and starts
    when the PE is free and its inputs have arrived (``volume / bandwidth`` after the producer
    finished, free on one PE).

    Args:
        platform: The chip.
        instance: The workload (its platform must be ``platform``).
        window: Task slots ``W``.
        edge_slots: DAG edge slots ``E``.
        noise: σ of the execution-time noise factors, drawn here for every task up front.
        rng: Generator of the noise (only used when ``noise > 0``; default fresh entropy).
        record: Keep every finished task's run in :attr:`runs` (for pictures; slots are
            reused, so the state forgets finished jobs). Off by default: no cost when unused.

    Raises:
        ValueError: If the instance is for another platform, a job does not fit the window or
            cannot run, or the arrivals are not one non-decreasing time per job.
    """

    def __init__(self, platform: Platform, instance: SoCInstance, window: int, edge_slots: int,
                 noise: float = 0.0, rng: np.random.Generator | None = None,
                 record: bool = False) -> None:
        check_platform(instance, platform)
        check_jobs(instance.jobs, platform, window, edge_slots)
        self.platform = platform
        self.window = int(window)
        self.edge_slots = int(edge_slots)
        self.jobs: tuple[Job, ...] = instance.jobs
        self.arrival: np.ndarray = np.asarray(instance.arrival, np.float64)  # (J,)
        if len(self.arrival) != len(self.jobs) or np.any(np.diff(self.arrival) < 0):
            raise ValueError(BAD_ARRIVALS)
        # Common random numbers: one noise factor per task of every job, drawn up front so
        # that every scheduler faces the same noise on the same instance and seed.
        sizes = [job.n_tasks for job in self.jobs]
        rng = rng if rng is not None else np.random.default_rng()
        self.noise: list[np.ndarray] = np.split(  # per job, (n_tasks,) each
            draw_task_noise(rng, sizes, noise), np.cumsum(sizes, dtype=np.int64)[:-1])
        P, W = platform.n_pe, self.window
        self.state = SoCState(
            time=0.0, phase=0, selected_slot=-1, pe_kind=platform.pe_kind.copy(),
            inv_bandwidth=inverse_bandwidth(platform.bandwidth),
            pe_free_est=np.zeros(P), pe_queue_len=np.zeros(P, np.int64),
            task_valid=np.zeros(W, bool), task_job=np.full(W, -1, np.int64),
            task_index=np.full(W, -1, np.int64), task_type=np.full(W, -1, np.int64),
            task_status=np.full(W, DONE, np.int64), task_cost=np.full((W, P), np.inf),
            task_pe=np.full(W, -1, np.int64), task_arrival=np.zeros(W),
            task_ready_time=np.full(W, np.inf), task_start=np.full(W, np.inf),
            task_finish=np.full(W, np.inf), task_rank=np.zeros(W),
            task_preds=[[] for _ in range(W)], n_jobs=len(self.jobs),
        )
        self._data_arrival = np.zeros((W, P))  # (W, P) inputs' arrival on each PE, once ready
        self._act_start = np.full(W, np.inf)  # (W,) realised times: hidden from the scheduler
        self._act_finish = np.full(W, np.inf)  # (W,)
        self._slot_noise = np.ones(W)  # (W,) noise factor of each slot's task
        self._rem_base = np.zeros(W)  # (W,) mean work left unless running: best PE, then own PE
        self._succ: list[list[int]] = [[] for _ in range(W)]
        self._npred_left = np.zeros(W, np.int64)  # (W,) predecessors not finished yet
        self._free_slots = list(range(W))
        self._free_edges = list(range(self.edge_slots))
        self._job_slots: dict[int, np.ndarray] = {}  # admitted job -> its task slots (n,)
        self._job_edges: dict[int, np.ndarray] = {}  # admitted job -> its edge slots (m,)
        self._job_left: dict[int, int] = {}
        self._outside: deque[int] = deque()
        self._next_arrival = 0
        self._n_admitted = 0
        self._pe_queue: list[deque[int]] = [deque() for _ in range(P)]
        self._pe_free_act = np.zeros(P)  # (P,) realised time each PE empties its queue
        self._events: list[tuple[float, int, int]] = []  # (finish time, seq, slot)
        self._seq = 0
        self._in_system = 0
        self._sum_duration = 0.0
        self._total_time = 0.0
        self._last_done = 0.0
        #: With ``record``: one (job, task, pe, start, finish) per finished task, in finish order.
        self.runs: list[tuple[int, int, int, float, float]] | None = [] if record else None
        self._arrive_until(0.0)

    # ------------------------------------------------------------------------------ queries

    @property
    def done(self) -> bool:
        """Whether every job of the episode has completed."""
        return self.state.n_done_jobs == len(self.jobs)

    @property
    def in_system(self) -> int:
        """Jobs arrived and not completed (in the window or waiting outside it)."""
        return self._in_system

    @property
    def n_admitted(self) -> int:
        """Jobs admitted into the window so far (completed ones included)."""
        return self._n_admitted

    def has_pending_events(self) -> bool:
        """Whether a task is queued or running or a job will still arrive (advancing moves)."""
        return bool(self._events) or self._next_arrival < len(self.jobs)

    def ready_slots(self) -> np.ndarray:
        """Slots of the ready (unassigned) tasks, ascending, shape (R,) int64."""
        return np.flatnonzero(self.state.task_status == READY)

    def eft_per_pe(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected start and finish time of ready task ``slot`` on each PE if queued there now
        (``inf`` where the PE cannot run it), from mean latencies and known finishes: two (P,)
        arrays."""
        est, eft = self.eft_matrix(np.array([slot]))
        return est[0], eft[0]

    def eft_matrix(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`eft_per_pe` for several ready slots at once: two (len(slots), P) arrays."""
        s = self.state
        est = np.maximum(np.maximum(s.time, s.pe_free_est)[None, :], self._data_arrival[slots])
        cost = s.task_cost[slots]
        finite = np.isfinite(cost)
        return np.where(finite, est, np.inf), np.where(finite, est + cost, np.inf)

    def remaining_work(self) -> np.ndarray:
        """Expected work left in each slot, shape (W,): a running task's expected finish minus
        now; a queued one's mean cost on its PE; an unassigned one's cost on its fastest PE
        kind; 0 for done tasks and empty slots."""
        s = self.state
        running = s.task_status == RUNNING
        return np.where(running, np.maximum(s.task_finish - s.time, 0.0), self._rem_base)

    def admitted_jobs(self) -> list[int]:
        """Jobs in the window now, in admission order."""
        return list(self._job_slots)

    def job_slots(self, job: int) -> np.ndarray:
        """Task slots of an admitted job, indexed by task, shape (n,) (empty if not admitted)."""
        return self._job_slots.get(job, np.zeros(0, np.int64))

    def job_edge_slots(self, job: int) -> np.ndarray:
        """DAG edge slots of an admitted job, in the order of its edges, shape (m,) (empty if
        not admitted)."""
        return self._job_edges.get(job, np.zeros(0, np.int64))

    def metrics(self) -> dict[str, float]:
        """The episode's metrics so far (the env's ``info`` without ``steps``)."""
        done = self.state.n_done_jobs
        return {
            "avg_job_duration": float(self._sum_duration / done) if done else 0.0,
            "makespan": float(self._last_done),
            "jobs_completed": int(done),
            "throughput": float(done / (self._last_done / 1000.0)) if self._last_done > 0 else 0.0,
            "total_time_in_system": float(self._total_time),
            "time": float(self.state.time),
        }

    # ------------------------------------------------------------------------------ driving

    def commit(self, slot: int, pe: int) -> None:
        """Queues ready task ``slot`` on ``pe`` (the caller checks both): expected times for the
        state, realised ones (with this task's pre-drawn noise) for the event heap."""
        s = self.state
        cost = s.task_cost[slot, pe]
        arr = self._data_arrival[slot, pe]
        est = max(s.time, s.pe_free_est[pe], arr)
        s.task_start[slot], s.task_finish[slot] = est, est + cost
        s.pe_free_est[pe] = est + cost
        start = max(s.time, self._pe_free_act[pe], arr)
        finish = start + cost * self._slot_noise[slot]
        self._act_start[slot], self._act_finish[slot] = start, finish
        self._pe_free_act[pe] = finish
        self._pe_queue[pe].append(slot)
        s.pe_queue_len[pe] += 1
        s.task_pe[slot] = pe
        s.task_status[slot] = QUEUED
        self._rem_base[slot] = cost
        heapq.heappush(self._events, (finish, self._seq, slot))
        self._seq += 1
        if start <= s.time:
            s.task_status[slot] = RUNNING
            s.task_start[slot] = start

    def advance(self, force_one_event: bool = False) -> Elapsed:
        """Processes events (finishes by time then commit order, then arrivals) until a task
        is ready or every job is done; with ``force_one_event`` first moves to the next event
        even if a task is ready.

        Raises:
            RuntimeError: If jobs are unfinished but no event is left (a caller that forces an
                event must check :meth:`has_pending_events`).
        """
        s = self.state
        elapsed = job_time = 0.0
        first = force_one_event
        while not self.done:
            if not first and (s.task_status == READY).any():
                break
            first = False
            t_fin = self._events[0][0] if self._events else np.inf
            t_arr = (self.arrival[self._next_arrival]
                     if self._next_arrival < len(self.jobs) else np.inf)
            t = min(t_fin, t_arr)
            if not np.isfinite(t):
                raise RuntimeError("no event left but jobs are unfinished")
            dt = t - s.time
            elapsed += dt
            job_time += self._in_system * dt
            self._total_time += self._in_system * dt
            s.time = t
            while self._events and self._events[0][0] <= t:
                _, _, slot = heapq.heappop(self._events)
                self._finish(slot)
            self._arrive_until(t)
            # Tasks whose realised start has come are running now.
            started = (s.task_status == QUEUED) & (self._act_start <= t)
            if started.any():
                s.task_status[started] = RUNNING
                s.task_start[started] = self._act_start[started]
        return Elapsed(elapsed, job_time)

    def idle(self, dt: float) -> Elapsed:
        """Lets ``dt`` µs pass with no event (the caller checks that none is pending)."""
        job_time = self._in_system * dt
        self._total_time += job_time
        self.state.time += dt
        return Elapsed(dt, job_time)

    # ----------------------------------------------------------------------------- internals

    def _arrive_until(self, t: float) -> None:
        """Jobs arriving by ``t`` join the outside queue; admit what fits."""
        while self._next_arrival < len(self.jobs) and self.arrival[self._next_arrival] <= t:
            self._outside.append(self._next_arrival)
            self._next_arrival += 1
            self._in_system += 1
        self._admit()

    def _admit(self) -> None:
        """Admits waiting jobs in arrival order while their tasks and edges fit the window."""
        s = self.state
        while self._outside:
            j = self._outside[0]
            job = self.jobs[j]
            n, m = job.n_tasks, len(job.edges)
            if n > len(self._free_slots) or m > len(self._free_edges):
                break
            self._outside.popleft()
            self._n_admitted += 1
            # Smallest free slots first: fastsim does the same, and the slot is the rules'
            # last tie-break.
            slots = np.array(sorted(self._free_slots)[:n], np.int64)
            for x in slots.tolist():
                self._free_slots.remove(x)
            eslots = np.array(sorted(self._free_edges)[:m], np.int64)
            for x in eslots.tolist():
                self._free_edges.remove(x)
            self._job_slots[j], self._job_edges[j], self._job_left[j] = slots, eslots, n
            s.task_valid[slots] = True
            s.task_job[slots] = j
            s.task_index[slots] = np.arange(n)
            s.task_type[slots] = job.task_type
            s.task_status[slots] = NOT_READY
            s.task_cost[slots] = job.cost[:, self.platform.pe_kind]
            self._rem_base[slots] = job.cost.min(1)
            s.task_pe[slots] = -1
            s.task_arrival[slots] = self.arrival[j]
            s.task_ready_time[slots] = np.inf
            s.task_start[slots] = np.inf
            s.task_finish[slots] = np.inf
            self._act_start[slots] = np.inf
            self._act_finish[slots] = np.inf
            self._slot_noise[slots] = self.noise[j]
            s.task_rank[slots] = job_rank(job, self.platform)
            src, dst = slots[job.edges[:, 0]], slots[job.edges[:, 1]]
            for x in slots.tolist():
                s.task_preds[x] = []
                self._succ[x] = []
            for a, b, v in zip(src.tolist(), dst.tolist(), job.volume.tolist()):
                s.task_preds[b].append((a, v))
                self._succ[a].append(b)
            self._npred_left[slots] = 0
            np.add.at(self._npred_left, dst, 1)
            entry = slots[self._npred_left[slots] == 0]
            self._make_ready(entry, s.time)
        s.n_outside = len(self._outside)

    def _make_ready(self, slots: np.ndarray, t: float) -> None:
        """Marks ``slots`` ready at ``t`` and computes their inputs' arrival on every PE."""
        s = self.state
        if len(slots) == 0:
            return
        s.task_status[slots] = READY
        s.task_ready_time[slots] = t
        P = self.platform.n_pe
        for x in slots.tolist():
            arr = np.full(P, t)
            for p, v in s.task_preds[x]:
                arr = np.maximum(arr, self._act_finish[p] + v * s.inv_bandwidth[s.task_pe[p]])
            self._data_arrival[x] = arr

    def _finish(self, slot: int) -> None:
        """The head of its PE's queue finishes: re-estimate the queue, release successors."""
        s = self.state
        pe = int(s.task_pe[slot])
        t = self._act_finish[slot]
        s.task_status[slot] = DONE
        self._rem_base[slot] = 0.0
        s.task_start[slot] = self._act_start[slot]
        s.task_finish[slot] = t
        if self.runs is not None:
            self.runs.append((int(s.task_job[slot]), int(s.task_index[slot]), pe,
                              float(s.task_start[slot]), float(t)))
        queue = self._pe_queue[pe]
        queue.popleft()  # FIFO queue: the finishing task is its head
        s.pe_queue_len[pe] -= 1
        # Re-estimate the PE's queue from the realised finish (mean costs after it).
        prev = t
        for q in queue:
            st = max(prev, self._data_arrival[q, pe])
            s.task_start[q], s.task_finish[q] = st, st + s.task_cost[q, pe]
            prev = st + s.task_cost[q, pe]
        s.pe_free_est[pe] = prev
        newly = []
        for b in self._succ[slot]:
            self._npred_left[b] -= 1
            if self._npred_left[b] == 0:
                newly.append(b)
        self._make_ready(np.array(newly, np.int64), t)
        j = int(s.task_job[slot])
        self._job_left[j] -= 1
        if self._job_left[j] == 0:
            self._complete_job(j, t)

    def _complete_job(self, j: int, t: float) -> None:
        """Job ``j`` completed at ``t``: free its slots and admit waiting jobs right away
        (later finishes at the same time see the new tasks, as in fastsim)."""
        s = self.state
        s.n_done_jobs += 1
        self._in_system -= 1
        self._sum_duration += t - self.arrival[j]
        self._last_done = max(self._last_done, t)
        slots, eslots = self._job_slots.pop(j), self._job_edges.pop(j)
        del self._job_left[j]
        s.task_valid[slots] = False
        s.task_status[slots] = DONE
        s.task_job[slots] = -1
        self._free_slots.extend(slots.tolist())
        self._free_edges.extend(eslots.tolist())
        self._admit()


__all__ = ["SoCSim", "Elapsed", "draw_task_noise", "check_platform", "check_jobs", "job_rank",
           "BAD_ARRIVALS"]
