"""Shared pieces of the SoC DAG baselines: the list-scheduling algebra (ranks, communication
costs, insertion-based earliest finish time) as pure functions on a DAG and a cost matrix, and
the thin adapters that turn a scheduling rule into ``act(env)`` pointer actions.

A DAG here is ``comp`` (n, P) execution times (``np.inf`` where a processor cannot run the task),
``edges`` (m, 2) task pairs and ``volume`` (m,) data volumes; the platform is ``bandwidth`` (P, P).
Moving ``v`` units from processor p to q takes ``v / bandwidth[p, q]``, zero when ``p == q``
(Topcuoglu et al., TPDS 2002, with startup cost L = 0).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

SOC_ENV_IDS = ("schedgym/SoCDAG-v0",)


# --------------------------------------------------------------------------- pure algorithms


@dataclass
class Dag:
    """A task graph with its costs on a platform.

    Attributes:
        comp: Execution time of each task on each processor, ``inf`` if impossible.  # (n, P)
        edges: Precedence pairs ``(src, dst)``.  # (m, 2)
        volume: Data volume sent along each edge.  # (m,)
        bandwidth: Transfer rate between processors; the diagonal is ignored.  # (P, P)
    """

    comp: np.ndarray
    edges: np.ndarray
    volume: np.ndarray
    bandwidth: np.ndarray
    succ: list[list[tuple[int, int]]] = field(init=False, repr=False)
    pred: list[list[tuple[int, int]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.comp = np.asarray(self.comp, dtype=np.float64)
        self.edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        self.volume = np.asarray(self.volume, dtype=np.float64).reshape(-1)
        self.bandwidth = np.asarray(self.bandwidth, dtype=np.float64)
        n = self.comp.shape[0]
        self.succ = [[] for _ in range(n)]
        self.pred = [[] for _ in range(n)]
        for k, (s, d) in enumerate(self.edges.tolist()):
            self.succ[s].append((d, k))
            self.pred[d].append((s, k))

    @property
    def n(self) -> int:
        return self.comp.shape[0]

    @property
    def n_proc(self) -> int:
        return self.comp.shape[1]

    def inv_bandwidth(self) -> np.ndarray:
        """1 / bandwidth with zeros on the diagonal: multiply by a volume to get a transfer time."""
        inv = 1.0 / self.bandwidth
        np.fill_diagonal(inv, 0.0)
        return inv


def mean_costs(dag: Dag) -> tuple[np.ndarray, np.ndarray]:
    """Mean execution time of each task over the processors that can run it, and mean
    communication cost of each edge over ordered processor pairs ``p != q`` (HEFT's w̄ and c̄)."""
    finite = np.isfinite(dag.comp)
    w_bar = np.where(finite, dag.comp, 0.0).sum(1) / np.maximum(finite.sum(1), 1)
    p = dag.n_proc
    inv = dag.inv_bandwidth()
    mean_inv = inv.sum() / (p * (p - 1)) if p > 1 else 0.0
    return w_bar, dag.volume * mean_inv


def topological_order(dag: Dag) -> list[int]:
    """Kahn's algorithm, lowest index first among ties (deterministic)."""
    indeg = np.zeros(dag.n, np.int64)
    np.add.at(indeg, dag.edges[:, 1], 1)
    frontier = [i for i in range(dag.n) if indeg[i] == 0]
    order: list[int] = []
    while frontier:
        i = frontier.pop(0)
        order.append(i)
        for j, _ in dag.succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                bisect.insort(frontier, j)
    if len(order) != dag.n:
        raise ValueError("the task graph has a cycle")
    return order


def upward_rank(dag: Dag) -> np.ndarray:
    """rank_u(i) = w̄_i + max over successors j of (c̄_ij + rank_u(j)) (Topcuoglu eq. 3)."""
    w_bar, c_bar = mean_costs(dag)
    rank = np.zeros(dag.n)
    for i in reversed(topological_order(dag)):
        rank[i] = w_bar[i] + max((c_bar[k] + rank[j] for j, k in dag.succ[i]), default=0.0)
    return rank


def downward_rank(dag: Dag) -> np.ndarray:
    """rank_d(i) = max over predecessors j of (rank_d(j) + w̄_j + c̄_ji) (Topcuoglu eq. 5)."""
    w_bar, c_bar = mean_costs(dag)
    rank = np.zeros(dag.n)
    for i in topological_order(dag):
        rank[i] = max((rank[j] + w_bar[j] + c_bar[k] for j, k in dag.pred[i]), default=0.0)
    return rank


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
    timeline = timeline or Timeline(dag.n_proc)
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
    ready queue by highest priority (ties: lower index), with insertion."""
    timeline = timeline or Timeline(dag.n_proc)
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
    cp_proc = int(np.argmin(totals)) if np.isfinite(totals).any() else None
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
    env_ids = SOC_ENV_IDS

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
            return soc.WAIT_NODE
        slot, pe = choice
        self._pending_pe = pe
        return soc.task_node(slot)


class DynamicListScheduler(SoCScheduler):
    """Commits every ready task at once, in :meth:`priority` order (highest first), each to the
    PE picked by :meth:`pick_pe` from (est, eft) over PEs (``inf`` where incapable)."""

    def priority(self, env, slots: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def pick_pe(self, env, slot: int, est: np.ndarray, eft: np.ndarray) -> int:
        return int(np.argmin(eft))

    def choose(self, env) -> tuple[int, int] | None:
        slots = env.ready_slots()
        if len(slots) == 0:
            return None
        slot = int(slots[int(np.argmax(self.priority(env, slots)))])
        est, eft = env.eft_per_pe(slot)
        return slot, self.pick_pe(env, slot, est, eft)


def arrival_priority(env, slots: np.ndarray) -> np.ndarray:
    """FIFO priority: earlier job arrival first, then earlier readiness, then lower task index."""
    s = env.state
    key = np.lexsort((s.task_index[slots], s.task_ready_time[slots], s.task_arrival[slots]))
    prio = np.empty(len(slots))
    prio[key] = -np.arange(len(slots), dtype=np.float64)
    return prio
