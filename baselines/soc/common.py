"""Shared pieces of the SoC DAG baselines: insertion-based list scheduling (HEFT, CPOP) as pure
functions on a :class:`envs.soc.dag.Dag` (cost matrix, edges, volumes, bandwidths), testable
without the env, and the thin adapters that turn a scheduling rule into ``act(env)`` pointer
actions (plan-and-replay for HEFT/CPOP, dynamic list scheduling for HEFT_RT/FIFO/MET)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from schedgym.envs.soc.types import QUEUED, READY, RUNNING
from schedgym.envs.soc.dag import Dag, downward_rank, upward_rank


# --------------------------------------------------------------------------- pure algorithms


class Timeline:
    """Busy intervals of each processor, kept sorted, for insertion-based scheduling."""

    def __init__(self, n_proc: int) -> None:
        self.starts: list[list[float]] = [[] for _ in range(n_proc)]
        self.ends: list[list[float]] = [[] for _ in range(n_proc)]

    def earliest_start(self, proc: int, ready: float, duration: float, insertion: bool) -> float:
        """Earliest time ≥ ready at which ``proc`` is idle for ``duration`` (in a gap between
        busy intervals when ``insertion``, else after its last interval)."""
        starts, ends = self.starts[proc], self.ends[proc]
        if not starts:
            return ready
        if not insertion:
            return max(ready, ends[-1])
        prev_end = 0.0
        # Gaps are [end_{k-1}, start_k); the first that fits wins.
        for s, e in zip(starts, ends):
            t = max(ready, prev_end)
            if t + duration <= s + 1e-9:
                return t
            prev_end = max(prev_end, e)
        return max(ready, prev_end)

    def add(self, proc: int, start: float, end: float) -> None:
        k = bisect.bisect_right(self.starts[proc], start)
        self.starts[proc].insert(k, start)
        self.ends[proc].insert(k, end)


@dataclass
class Schedule:
    """A static schedule.

    Attributes:
        proc: Processor of each task.  # (n,)
        start: Start time of each task.  # (n,)
        finish: Finish time of each task.  # (n,)
        order: Tasks in the order the algorithm scheduled them.
    """

    proc: np.ndarray
    start: np.ndarray
    finish: np.ndarray
    order: list[int]

    @property
    def makespan(self) -> float:
        return float(self.finish.max()) if len(self.finish) else 0.0


def _data_ready(dag: Dag, task: int, proc_of: np.ndarray, finish: np.ndarray, inv: np.ndarray,
                release: float) -> np.ndarray:
    """Time at which all inputs of ``task`` are available on each processor."""
    ready = np.full(dag.n_proc, release)
    for j, k in dag.pred[task]:
        ready = np.maximum(ready, finish[j] + dag.volume[k] * inv[proc_of[j]])
    return ready


def place(dag: Dag, task: int, proc_of: np.ndarray, start: np.ndarray, finish: np.ndarray,
          timeline: Timeline, inv: np.ndarray, release: float, insertion: bool,
          only: int | None = None) -> int:
    """Puts ``task`` on the processor with the earliest finish time (or on ``only``), records
    it in the arrays and the timeline, and returns the processor. Ties go to the lowest index."""
    ready = _data_ready(dag, task, proc_of, finish, inv, release)
    best, best_eft, best_est = -1, np.inf, 0.0
    procs = range(dag.n_proc) if only is None else (only,)
    for p in procs:
        w = dag.comp[task, p]
        if not np.isfinite(w):
            continue
        est = timeline.earliest_start(p, ready[p], w, insertion)
        if est + w < best_eft - 1e-9:
            best, best_eft, best_est = p, est + w, est
    if best < 0:
        raise ValueError(f"no processor can run task {task}")
    proc_of[task], start[task], finish[task] = best, best_est, best_eft
    timeline.add(best, best_est, best_eft)
    return best


def heft(dag: Dag, timeline: Timeline | None = None, release: float = 0.0,
         insertion: bool = True) -> Schedule:
    """HEFT (Topcuoglu, Hariri, Wu 2002): tasks by decreasing upward rank (ties: lower index),
    each on the processor giving the earliest finish time, with insertion into idle gaps.

    Args:
        dag: The task graph.
        timeline: Busy intervals already committed (streaming); updated in place.
        release: No task starts before this time.
        insertion: Whether tasks may fill idle gaps between scheduled ones.
    """
    timeline = Timeline(dag.n_proc) if timeline is None else timeline
    rank = upward_rank(dag)
    order = sorted(range(dag.n), key=lambda i: (-round(rank[i], 9), i))
    proc_of = np.full(dag.n, -1, np.int64)
    start, finish = np.zeros(dag.n), np.zeros(dag.n)
    inv = dag.inv_bandwidth()
    for task in order:
        place(dag, task, proc_of, start, finish, timeline, inv, release, insertion)
    return Schedule(proc_of, start, finish, order)


def cpop(dag: Dag, timeline: Timeline | None = None, release: float = 0.0,
         insertion: bool = True) -> Schedule:
    """CPOP (Topcuoglu et al. 2002): priority rank_u + rank_d; the critical path (tasks whose
    priority equals the entry task's) goes to the single processor minimising its total
    execution time, every other task to its earliest-finish processor; tasks are taken from a
    ready queue by highest priority (ties: lower index), with insertion. If no processor can
    run the whole critical path, its tasks are placed by earliest finish like the others."""
    timeline = Timeline(dag.n_proc) if timeline is None else timeline
    prio = upward_rank(dag) + downward_rank(dag)
    indeg = np.zeros(dag.n, np.int64)
    np.add.at(indeg, dag.edges[:, 1], 1)
    entries = [i for i in range(dag.n) if indeg[i] == 0]
    cp_len = max(prio[i] for i in entries)
    tol = 1e-6 * max(1.0, cp_len)
    # Walk the critical path from the entry task with the largest priority.
    critical: set[int] = set()
    node = min((i for i in entries if abs(prio[i] - cp_len) <= tol))
    while True:
        critical.add(node)
        nxt = [j for j, _ in dag.succ[node] if abs(prio[j] - cp_len) <= tol]
        if not nxt:
            break
        node = min(nxt)
    cp = sorted(critical)
    totals = dag.comp[cp].sum(0)
    cp_proc = None
    if np.isfinite(totals).any():
        # The paper picks "the" minimising processor; among identical copies (DS3 has four
        # A15s) take the one whose committed work ends first, so streaming jobs spread out.
        best = np.flatnonzero(totals <= totals.min() + tol)
        cp_proc = int(min(best, key=lambda p: (timeline.ends[p][-1] if timeline.ends[p] else 0.0, p)))
    proc_of = np.full(dag.n, -1, np.int64)
    start, finish = np.zeros(dag.n), np.zeros(dag.n)
    inv = dag.inv_bandwidth()
    ready = list(entries)
    order: list[int] = []
    while ready:
        task = max(ready, key=lambda i: (round(prio[i], 9), -i))
        ready.remove(task)
        only = cp_proc if task in critical else None
        place(dag, task, proc_of, start, finish, timeline, inv, release, insertion, only)
        order.append(task)
        for j, _ in dag.succ[task]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    return Schedule(proc_of, start, finish, order)


# --------------------------------------------------------------------------- env adapters


class SoCScheduler:
    """Base of the SoC baselines: subclasses implement :meth:`choose` (a ready task slot and
    a PE, or ``None`` to wait); this class turns the choice into the env's pointer steps."""

    name = "soc-base"

    def __init__(self) -> None:
        self._pending_pe: int | None = None

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self._pending_pe = None

    def choose(self, env) -> tuple[int, int] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, env: gym.Env) -> int:
        soc = env.unwrapped
        state = soc.state
        if state.phase == 1:
            pe = self._pending_pe
            self._pending_pe = None
            if pe is None or not soc.action_masks()[soc.pe_node(pe)]:
                pe = int(np.argmin(soc.eft_per_pe(state.selected_slot)[1]))
            return soc.pe_node(pe)
        choice = self.choose(soc)
        if choice is None:
            if soc.has_pending_events():
                return soc.WAIT_NODE
            # Waiting would only idle (nothing runs, nothing arrives): place the first ready
            # task at its earliest finish rather than stall.
            slot = int(soc.ready_slots()[0])
            choice = slot, int(np.argmin(soc.eft_per_pe(slot)[1]))
        slot, pe = choice
        self._pending_pe = pe
        return soc.task_node(slot)


class DynamicListScheduler(SoCScheduler):
    """Commits every ready task at once, the first under :meth:`sort_keys` first, each to the
    PE picked by :meth:`pick_pe` from (est, eft) over PEs (``inf`` where incapable)."""

    def sort_keys(self, env, slots: np.ndarray) -> tuple[np.ndarray, ...]:
        """``np.lexsort`` keys (last = primary) ordering ``slots``; the first is scheduled."""
        raise NotImplementedError

    def pick_pe(self, env, slot: int, est: np.ndarray, eft: np.ndarray) -> int:
        return int(np.argmin(eft))

    def choose(self, env) -> tuple[int, int] | None:
        slots = env.ready_slots()
        if len(slots) == 0:
            return None
        slot = int(slots[np.lexsort(self.sort_keys(env, slots))[0]])
        est, eft = env.eft_per_pe(slot)
        return slot, self.pick_pe(env, slot, est, eft)


def arrival_keys(env, slots: np.ndarray) -> tuple[np.ndarray, ...]:
    """FIFO order: earlier job arrival first, then earlier readiness, then lower task index."""
    s = env.state
    return s.task_index[slots], s.task_ready_time[slots], s.task_arrival[slots]


def union_dag(jobs: list, pe_kind: np.ndarray, bandwidth: np.ndarray) -> tuple[Dag, np.ndarray]:
    """One DAG made of several :class:`envs.soc.types.Job` (costs expanded from PE kinds to
    PEs), and the offset of each job's first task in it."""
    offsets = np.cumsum([0] + [j.n_tasks for j in jobs])
    comp = np.concatenate([j.cost[:, pe_kind] for j in jobs])
    edges = np.concatenate([j.edges + o for j, o in zip(jobs, offsets)]).reshape(-1, 2)
    volume = np.concatenate([j.volume for j in jobs])
    return Dag(comp, edges, volume, bandwidth), offsets[:-1]


class PlanReplayScheduler(SoCScheduler):
    """Plans jobs with a static list scheduler (HEFT, CPOP) as they enter the env's window and
    replays the plan: a task is committed once it is ready and every task planned before it on
    its PE has been committed, which reproduces the plan exactly without noise (the env has no
    insertion in front of already queued tasks, so in streaming mode a gap the planner found
    before a queued task is taken after it instead).

    Args:
        insertion: Let the planner fill idle gaps (the papers' insertion policy).
    """

    planner = staticmethod(heft)

    def __init__(self, insertion: bool = True) -> None:
        super().__init__()
        self.insertion = insertion

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        super().reset(env, seed)
        soc = env.unwrapped
        self._planned: set[int] = set()
        # Per PE: [planned start, job, task] of planned tasks not yet committed, by start.
        self._pending: list[list[tuple[float, int, int]]] = [[] for _ in soc.state.pe_kind]
        self._plan_new_jobs(soc)

    def _plan_new_jobs(self, soc) -> None:
        s = soc.state
        new = sorted(j for j in set(s.task_job[s.task_valid].tolist()) if j not in self._planned)
        if not new:
            return
        timeline = Timeline(len(s.pe_kind))
        busy = s.task_valid & ((s.task_status == QUEUED) | (s.task_status == RUNNING))
        for slot in np.flatnonzero(busy).tolist():
            timeline.add(int(s.task_pe[slot]), float(s.task_start[slot]), float(s.task_finish[slot]))
        for p, items in enumerate(self._pending):
            for start, j, t in items:
                slot = int(soc.job_slots(j)[t])
                timeline.add(p, start, start + float(s.task_cost[slot, p]))
        jobs = [soc.jobs()[j] for j in new]
        dag, offsets = union_dag(jobs, s.pe_kind, soc.platform.bandwidth)
        sched = self.planner(dag, timeline, release=s.time, insertion=self.insertion)
        for j, off, job in zip(new, offsets, jobs):
            self._planned.add(j)
            for t in range(job.n_tasks):
                p = int(sched.proc[off + t])
                bisect.insort(self._pending[p], (float(sched.start[off + t]), j, t))

    def choose(self, env) -> tuple[int, int] | None:
        self._plan_new_jobs(env)
        s = env.state
        best = None
        for p, items in enumerate(self._pending):
            if not items:
                continue
            start, j, t = items[0]
            slot = int(env.job_slots(j)[t])
            if s.task_status[slot] == READY and (best is None or start < best[0]):
                best = (start, p, slot)
        if best is None:
            return None
        self._pending[best[1]].pop(0)
        return best[2], best[1]

