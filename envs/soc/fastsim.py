"""Headless, compiled SoC simulator with the rule schedulers built in.

What it is for: batch evaluation, fast baselines and speed. It runs whole episodes of
``schedgym/SoCDAG-v0``'s simulation in one numba-compiled call, with no observation encoding
and no Python per decision, so a rule scheduler simulates the chip far faster than real time
(``python -m benchmarks.soc_speed`` measures it next to the env).

Rules (the baselines of the same names): ``"fifo"``, ``"heft_rt"``, ``"etf"`` (DS3's
earliest-finish criterion, the ``etf`` baseline's default) and ``"met"``.

It re-implements the dynamics of :class:`envs.soc.sim.SoCSim` and must agree *exactly* with
the env driven by the baseline: the same admission of jobs into the task window (smallest free
slots first, which is also the last tie-break of the rules), FIFO PE queues, transfers of
``volume / bandwidth`` (free on one PE), expected times from mean latencies against realised
ones from the pre-drawn noise (drawn through :func:`envs.soc.sim.draw_task_noise`, as the sim
does), the same event order (finishes by time then commit order, then arrivals) and the
baselines' ``np.lexsort`` tie-breaking. A rule baseline never waits: the env only hands it a
decision when a task is ready, and it places one. ``tests/envs/soc/test_fastsim.py`` enforces
the agreement (to 1e-9 relative; the results are in fact bit-identical) on five of the fixed
test sets (static and streaming), with and without noise, with a window small enough that jobs
queue outside it, with ``pe_selection="eft"`` and under truncation by ``max_steps``.

The first call in a fresh environment compiles the core (about 10-15 s); numba caches it on
disk, so later processes load it in well under a second. :func:`warm_up` triggers this.

Example::

    from schedgym.envs.soc.env import SoCDAGEnv
    from schedgym.envs.soc.fastsim import simulate

    st = SoCDAGEnv.load_instance_set("stream-heavy-noise0.2")
    metrics = simulate(st.instances[0], "heft_rt", seed=0, **st.env_kwargs)
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from numba import njit

from schedgym.envs.soc import generator
from schedgym.envs.soc.dag import inverse_bandwidth
from schedgym.envs.soc.env import SoCDAGEnv, check_arguments
from schedgym.envs.soc.sim import (BAD_ARRIVALS, check_jobs, check_platform, draw_task_noise,
                                   job_rank)
from schedgym.envs.soc.types import Platform, SoCInstance
from schedgym.envs.validation import check_choice, check_int

RULES: tuple[str, ...] = ("fifo", "heft_rt", "etf", "met")
_FIFO, _HEFT_RT, _ETF, _MET = range(4)

# Env arguments that do not change the simulation of a given instance under a rule scheduler
# (sampling, feature scaling, rewards, idling: rule schedulers never wait).
_INERT_ENV_KWARGS = frozenset(
    {"injection_rate", "n_jobs", "apps", "dag_params", "time_scale", "reward_scale", "idle_step"})
# The env's defaults of those, for checking them as the env does when they are not given.
_ENV_DEFAULTS = {name: parameter.default
                 for name, parameter in inspect.signature(SoCDAGEnv).parameters.items()
                 if name in _INERT_ENV_KWARGS}

# The core's mutable scalars live in two small arrays: its closures cannot rebind scalars.
_NEXT_ARRIVAL, _NEXT_ADMIT, _FREE_SLOTS, _FREE_EDGES, _IN_SYSTEM, _DONE, _N_READY = range(7)
_DECISIONS, _STEPS = 7, 8
_N_INT = 9
_NOW, _SUM_DURATION, _TOTAL_TIME, _LAST_DONE = range(4)
_N_FLOAT = 4


# ------------------------------------------------------------------------------- flat input


@dataclass(frozen=True)
class FlatInstance:
    """A checked instance as the jobs' arrays laid end to end (tasks and edges job by job);
    the core indexes them itself (:func:`_index`), so an episode is one compiled call.

    Attributes:
        kind_cost: Mean execution time of each task on each PE kind (inf: incapable).  # (T, K)
        pe_kind: Kind of each PE.  # (P,) int64
        edges: Precedence pairs, task indices within their job.  # (E, 2) int64
        volume: Data volume of each edge.  # (E,) float64
        sizes: Tasks of each job.  # (J,) int64
        n_edges: Edges of each job (they count against the window's edge slots).  # (J,) int64
        arrival: Arrival time of each job.  # (J,) float64
        rank: HEFT upward rank of each task within its job (zeros unless needed).  # (T,)
        inv_bw: 1 / bandwidth, zero on the diagonal.  # (P, P) float64
    """

    kind_cost: np.ndarray
    pe_kind: np.ndarray
    edges: np.ndarray
    volume: np.ndarray
    sizes: np.ndarray
    n_edges: np.ndarray
    arrival: np.ndarray
    rank: np.ndarray
    inv_bw: np.ndarray

    @property
    def n_tasks(self) -> int:
        return self.kind_cost.shape[0]


@njit(cache=True)
def _index(n_tasks, edges, volume, sizes, n_edges):
    """Global task arrays from the jobs' concatenated arrays: job ranges, job and index of
    each task, predecessor and successor lists (CSR, in edge order)."""
    job_ptr = np.zeros(len(sizes) + 1, np.int64)
    job_ptr[1:] = np.cumsum(sizes)
    job_of = np.empty(n_tasks, np.int64)
    task_index = np.empty(n_tasks, np.int64)
    src = np.empty(len(edges), np.int64)
    dst = np.empty(len(edges), np.int64)
    e = 0
    for j in range(len(sizes)):
        for t in range(job_ptr[j], job_ptr[j + 1]):
            job_of[t], task_index[t] = j, t - job_ptr[j]
        for _ in range(n_edges[j]):
            src[e], dst[e] = edges[e, 0] + job_ptr[j], edges[e, 1] + job_ptr[j]
            e += 1
    pred_ptr = np.zeros(n_tasks + 1, np.int64)
    succ_ptr = np.zeros(n_tasks + 1, np.int64)
    for e in range(len(src)):
        pred_ptr[dst[e] + 1] += 1
        succ_ptr[src[e] + 1] += 1
    pred_ptr = np.cumsum(pred_ptr)
    succ_ptr = np.cumsum(succ_ptr)
    pred_src = np.empty(len(src), np.int64)
    pred_vol = np.empty(len(src))
    succ_dst = np.empty(len(src), np.int64)
    pred_fill, succ_fill = pred_ptr[:-1].copy(), succ_ptr[:-1].copy()
    for e in range(len(src)):
        pred_src[pred_fill[dst[e]]], pred_vol[pred_fill[dst[e]]] = src[e], volume[e]
        succ_dst[succ_fill[src[e]]] = dst[e]
        pred_fill[dst[e]] += 1
        succ_fill[src[e]] += 1
    return job_ptr, job_of, task_index, pred_ptr, pred_src, pred_vol, succ_ptr, succ_dst


_INCAPABLE_TASK, _BAD_ARRIVALS = 1, 2


@njit(cache=True)
def _find_problem(kind_cost, arrival):
    """0, or the first problem found: a task no PE kind can run, or decreasing arrivals
    (compiled: the numpy checks cost more than the rest of the flattening)."""
    for t in range(kind_cost.shape[0]):
        capable = False
        for k in range(kind_cost.shape[1]):
            capable = capable or np.isfinite(kind_cost[t, k])
        if not capable:
            return _INCAPABLE_TASK
    for j in range(1, len(arrival)):
        if not arrival[j] >= arrival[j - 1]:
            return _BAD_ARRIVALS
    return 0


def flatten(instance: SoCInstance, plat: Platform, window: int, e_dag: int,
            with_rank: bool) -> FlatInstance:
    """Checks ``instance`` as the env does and flattens it into :class:`FlatInstance`.

    Raises:
        ValueError: Wrong platform, a job that does not fit the window, costs that do not
            match the PE kinds, a task no PE can run, or bad arrivals (the env's messages).
    """
    check_platform(instance, plat)
    jobs = instance.jobs
    costs = [job.cost for job in jobs]
    edges = [job.edges for job in jobs]
    sizes = np.array([len(c) for c in costs], np.int64)
    n_edges = np.array([len(e) for e in edges], np.int64)
    if (sizes > window).any() or (sizes == 0).any() or (n_edges > e_dag).any():
        check_jobs(jobs, plat, window, e_dag)
    if jobs:
        try:
            kind_cost = np.concatenate(costs).astype(np.float64, copy=False)
        except ValueError:  # jobs with different numbers of PE kinds
            check_jobs(jobs, plat, window, e_dag)
            raise
        if kind_cost.shape[1] != plat.n_kinds:
            check_jobs(jobs, plat, window, e_dag)
        all_edges = np.concatenate(edges).astype(np.int64, copy=False).reshape(-1, 2)
        volume = np.concatenate([job.volume for job in jobs]).astype(np.float64, copy=False)
    else:
        kind_cost = np.zeros((0, plat.n_kinds))
        all_edges, volume = np.zeros((0, 2), np.int64), np.zeros(0)
    arrival = np.asarray(instance.arrival, np.float64)
    problem = _find_problem(kind_cost, arrival)
    if problem == _INCAPABLE_TASK:
        check_jobs(jobs, plat, window, e_dag)
    if problem == _BAD_ARRIVALS or len(arrival) != len(jobs):
        raise ValueError(BAD_ARRIVALS)
    rank = (np.concatenate([job_rank(job, plat) for job in jobs]) if with_rank and jobs
            else np.zeros(len(kind_cost)))
    return FlatInstance(kind_cost=kind_cost, pe_kind=plat.pe_kind, edges=all_edges,
                        volume=volume, sizes=sizes, n_edges=n_edges, arrival=arrival, rank=rank,
                        inv_bw=inverse_bandwidth(plat.bandwidth))


# ------------------------------------------------------------------------------- njit core
#
# One compiled function per episode. Its helpers are closures over the episode's arrays, which
# numba inlines: passing arrays (or tuples of them) between compiled functions inside loops
# costs an atomic reference-count update per array per call, which made an earlier version of
# this core spend 80% of its time there. Tasks are indexed globally; window slots are kept as
# in the env because they decide capacity and the last tie-break, and hold the per-PE costs
# and input arrival times of the tasks in the window.


@njit(cache=True)
def _run(rule, eft_mode, max_steps, window, e_dag, kind_cost, pe_kind, edges, volume, sizes,
         job_edges, arrival, rank, inv_bw, noise):
    """One episode: admit, advance, then place one ready task per decision until every job is
    done (or the env's step limit truncates). Arguments are the settings, then
    :class:`FlatInstance`'s arrays and the noise factors; returns the array that
    :func:`_metrics` reads."""
    n_tasks, n_pe = kind_cost.shape[0], len(pe_kind)
    job_ptr, job_of, task_index, pred_ptr, pred_src, pred_vol, succ_ptr, succ_dst = _index(
        n_tasks, edges, volume, sizes, job_edges)
    n_jobs = len(arrival)
    ready_time = np.full(n_tasks, np.inf)
    act_finish = np.full(n_tasks, np.inf)  # realised finish (noisy): hidden from the rules
    pe_of = np.full(n_tasks, -1, np.int64)
    npred_left = np.zeros(n_tasks, np.int64)
    seq = np.zeros(n_tasks, np.int64)  # commit order: ties between equal finish times
    task_slot = np.full(n_tasks, -1, np.int64)
    slot_task = np.full(window, -1, np.int64)  # task in each window slot, -1 if free
    # Per slot, as in the env (small and cache-friendly): mean cost on each PE (inf where
    # incapable) and the inputs' arrival on each PE once the task is ready.
    cost = np.empty((window, n_pe))
    data_arr = np.zeros((window, n_pe))
    ready = np.zeros(window, np.int64)  # the ready tasks, unordered (ic[_N_READY] of them)
    ready_pos = np.zeros(n_tasks, np.int64)  # position of each ready task in ``ready``
    pe_free_est = np.zeros(n_pe)  # the rules' view: mean costs
    pe_free_act = np.zeros(n_pe)  # realised
    q_head = np.full(n_pe, -1, np.int64)  # FIFO queue of each PE as a linked list
    q_tail = np.full(n_pe, -1, np.int64)
    q_next = np.full(n_tasks, -1, np.int64)
    head_finish = np.full(n_pe, np.inf)  # realised finish of each queue's head (inf: empty)
    job_left = np.zeros(n_jobs, np.int64)
    ic = np.zeros(_N_INT, np.int64)
    ic[_FREE_SLOTS] = window
    ic[_FREE_EDGES] = e_dag
    fc = np.zeros(_N_FLOAT)

    def make_ready(task, t):
        # Inputs arrive on PE q at max over predecessors of finish + volume / bandwidth.
        ready_time[task] = t
        ready[ic[_N_READY]] = task
        ready_pos[task] = ic[_N_READY]
        ic[_N_READY] += 1
        sl = task_slot[task]
        for q in range(n_pe):
            data_arr[sl, q] = t
        for k in range(pred_ptr[task], pred_ptr[task + 1]):
            p = pred_src[k]
            done_p, vol_k, pe_p = act_finish[p], pred_vol[k], pe_of[p]  # hoisted: arrays alias
            for q in range(n_pe):
                data_arr[sl, q] = max(data_arr[sl, q], done_p + vol_k * inv_bw[pe_p, q])

    def admit():
        # Arrived jobs enter in order while their tasks and edges fit, each task into the
        # smallest free slot (the env's order); entry tasks become ready now.
        while ic[_NEXT_ADMIT] < ic[_NEXT_ARRIVAL]:
            j = ic[_NEXT_ADMIT]
            first, last = job_ptr[j], job_ptr[j + 1]
            if last - first > ic[_FREE_SLOTS] or job_edges[j] > ic[_FREE_EDGES]:
                return
            ic[_NEXT_ADMIT] += 1
            ic[_FREE_SLOTS] -= last - first
            ic[_FREE_EDGES] -= job_edges[j]
            job_left[j] = last - first
            task = first
            for slot in range(window):
                if task == last:
                    break
                if slot_task[slot] < 0:
                    slot_task[slot] = task
                    task_slot[task] = slot
                    for p in range(n_pe):
                        cost[slot, p] = kind_cost[task, pe_kind[p]]
                    task += 1
            for task in range(first, last):
                npred_left[task] = pred_ptr[task + 1] - pred_ptr[task]
                if npred_left[task] == 0:
                    make_ready(task, fc[_NOW])

    def arrive_until(t):
        while ic[_NEXT_ARRIVAL] < n_jobs and arrival[ic[_NEXT_ARRIVAL]] <= t:
            ic[_NEXT_ARRIVAL] += 1
            ic[_IN_SYSTEM] += 1
        admit()

    def complete_job(j, t):
        ic[_DONE] += 1
        ic[_IN_SYSTEM] -= 1
        fc[_SUM_DURATION] += t - arrival[j]
        fc[_LAST_DONE] = max(fc[_LAST_DONE], t)
        for task in range(job_ptr[j], job_ptr[j + 1]):
            slot_task[task_slot[task]] = -1
        ic[_FREE_SLOTS] += job_ptr[j + 1] - job_ptr[j]
        ic[_FREE_EDGES] += job_edges[j]
        admit()  # right away, as the env does: later finishes at this time see the new slots

    def finish(task):
        # The PE's queue head finishes; the rest of its queue is re-estimated from the realised
        # finish with mean costs; successors with all inputs computed become ready.
        pe = pe_of[task]
        t = act_finish[task]
        q_head[pe] = q_next[task]
        if q_head[pe] < 0:
            q_tail[pe] = -1
            head_finish[pe] = np.inf
        else:
            head_finish[pe] = act_finish[q_head[pe]]
        prev = t
        q = q_head[pe]
        while q >= 0:
            prev = max(prev, data_arr[task_slot[q], pe]) + cost[task_slot[q], pe]
            q = q_next[q]
        pe_free_est[pe] = prev
        for k in range(succ_ptr[task], succ_ptr[task + 1]):
            b = succ_dst[k]
            npred_left[b] -= 1
            if npred_left[b] == 0:
                make_ready(b, t)
        j = job_of[task]
        job_left[j] -= 1
        if job_left[j] == 0:
            complete_job(j, t)

    def next_finish():
        # Min (finish, commit order) over the queue heads: each PE's finishes are
        # non-decreasing along its queue, so this is the env's event-heap minimum.
        first = np.inf
        for pe in range(n_pe):
            first = min(first, head_finish[pe])
        best = -1
        if first < np.inf:
            for pe in range(n_pe):
                if head_finish[pe] == first and (best < 0 or seq[q_head[pe]] < seq[best]):
                    best = q_head[pe]
        return best

    def advance():
        # Events (finishes, then arrivals) until a task is ready or every job is done.
        while ic[_DONE] < n_jobs and ic[_N_READY] == 0:
            head = next_finish()
            t = act_finish[head] if head >= 0 else np.inf
            if ic[_NEXT_ARRIVAL] < n_jobs:
                t = min(t, arrival[ic[_NEXT_ARRIVAL]])
            fc[_TOTAL_TIME] += ic[_IN_SYSTEM] * (t - fc[_NOW])
            fc[_NOW] = t
            while head >= 0 and act_finish[head] <= t:
                finish(head)
                head = next_finish()
            arrive_until(t)

    def commit(task, pe):
        # Expected times for the rules' view, realised ones (pre-drawn noise) for the events.
        c = cost[task_slot[task], pe]
        arr = data_arr[task_slot[task], pe]
        now = fc[_NOW]
        pe_free_est[pe] = max(now, pe_free_est[pe], arr) + c
        act_finish[task] = max(now, pe_free_act[pe], arr) + c * noise[task]
        pe_free_act[pe] = act_finish[task]
        if q_tail[pe] < 0:
            q_head[pe] = task
            head_finish[pe] = act_finish[task]
        else:
            q_next[q_tail[pe]] = task
        q_tail[pe] = task
        pe_of[task] = pe
        seq[task] = ic[_DECISIONS]
        ic[_DECISIONS] += 1
        ic[_N_READY] -= 1
        last = ready[ic[_N_READY]]  # swap-remove from the ready list
        ready[ready_pos[task]] = last
        ready_pos[last] = ready_pos[task]

    def est(sl, pe, now):
        # Expected start of the ready task in slot ``sl`` on ``pe`` if queued at ``now``
        # (the env's eft_per_pe).
        return max(max(now, pe_free_est[pe]), data_arr[sl, pe])

    def eft_pe(task):
        # The capable PE of earliest expected finish, first on ties (np.argmin); incapable
        # PEs cost inf, so they never win (every task has a capable PE).
        best, best_f, now, sl = -1, np.inf, fc[_NOW], task_slot[task]
        for pe in range(n_pe):
            f = est(sl, pe, now) + cost[sl, pe]
            if f < best_f:
                best, best_f = pe, f
        return best

    def met_pe(task):
        # Among PEs within 1e-9 of the fastest cost, the earliest expected start.
        fastest, now, sl = np.inf, fc[_NOW], task_slot[task]
        for pe in range(n_pe):
            fastest = min(fastest, cost[sl, pe])
        best, best_e = -1, np.inf
        for pe in range(n_pe):
            if cost[sl, pe] <= fastest + 1e-9:
                e = est(sl, pe, now)
                if best < 0 or e < best_e:
                    best, best_e = pe, e
        return best

    def precedes(a, b):
        # Whether ready task a comes before b under the rule's np.lexsort keys; the last key
        # is the slot, as the stable lexsort runs over the env's ready slots in slot order.
        arr_a, arr_b = arrival[job_of[a]], arrival[job_of[b]]
        if rule == _HEFT_RT:  # highest rank, earlier job, lower task index
            if rank[a] != rank[b]:
                return rank[a] > rank[b]
            if arr_a != arr_b:
                return arr_a < arr_b
        else:  # FIFO, MET: earlier job, earlier readiness, lower task index
            if arr_a != arr_b:
                return arr_a < arr_b
            if ready_time[a] != ready_time[b]:
                return ready_time[a] < ready_time[b]
        if task_index[a] != task_index[b]:
            return task_index[a] < task_index[b]
        return task_slot[a] < task_slot[b]

    def choose():
        # (task, PE): the first under the rule's keys, which are total orders (slot last), so
        # the unordered ready list gives the baseline's choice.
        best, best_pe, best_f, best_e, now = -1, -1, np.inf, np.inf, fc[_NOW]
        for i in range(ic[_N_READY]):
            task = ready[i]
            if rule != _ETF:
                if best < 0 or precedes(task, best):
                    best = task
                continue
            # ETF: earliest finish, then earliest start, then lower slot, then lower PE (PEs
            # are scanned in order, so a later PE of the same task never wins a full tie).
            sl = task_slot[task]
            for pe in range(n_pe):
                if np.isfinite(cost[sl, pe]):
                    e = est(sl, pe, now)
                    f = e + cost[sl, pe]
                    if best < 0 or f < best_f or (f == best_f and (e < best_e or (
                            e == best_e and task_slot[task] < task_slot[best]))):
                        best, best_pe, best_f, best_e = task, pe, f, e
        if rule == _MET:
            best_pe = met_pe(best)
        elif rule != _ETF:
            best_pe = eft_pe(best)
        return best, best_pe

    arrive_until(0.0)
    advance()
    while ic[_DONE] < n_jobs:
        task, pe = choose()
        if eft_mode:  # pe_selection="eft": the env picks the earliest-finish PE itself
            pe = eft_pe(task)
        else:  # the task pointer is a step of its own; the env may truncate right after it
            ic[_STEPS] += 1
            if ic[_STEPS] >= max_steps:
                break
        commit(task, pe)
        advance()
        ic[_STEPS] += 1
        if ic[_DONE] < n_jobs and ic[_STEPS] >= max_steps:
            break
    return np.array([fc[_SUM_DURATION], fc[_LAST_DONE], ic[_DONE], fc[_TOTAL_TIME], fc[_NOW],
                     ic[_DECISIONS], ic[_STEPS]], np.float64)


# ------------------------------------------------------------------------------ front end


def simulate(instance: SoCInstance | str, rule: str, *, seed: int | None = 0,
             platform: str = "ds3", mode: str = "streaming", noise: float = 0.0,
             window: int = 128, edges_per_task: int = 3, pe_selection: str = "pointer",
             max_steps: int | None = None, **env_kwargs: Any) -> dict[str, float]:
    """Runs one episode of ``rule`` on ``instance`` and returns the env's final metrics.

    Equivalent to ``policies.evaluation.run_episode(gym.make("schedgym/SoCDAG-v0",
    **env_kwargs), baselines.make(rule), instance, seed)``, without the env.

    Args:
        instance: The workload, or a named instance (``"topcuoglu-fig2"``).
        rule: One of :data:`RULES`.
        seed: The episode seed: the noise is drawn as the env draws it after
            ``reset(seed=seed)``; ``None`` draws from fresh OS entropy.
        platform, mode, noise, window, edges_per_task, pe_selection, max_steps: As in
            :class:`envs.soc.env.SoCDAGEnv` (``mode`` only changes the env's reward, not
            these metrics: a static instance simply has every arrival at 0).
        **env_kwargs: The env's other arguments (``injection_rate``, ``n_jobs``, ``apps``,
            ``dag_params``, ``time_scale``, ``reward_scale``, ``idle_step``), accepted so that
            an instance set's ``env_kwargs`` can be passed as is; they do not change a given
            instance's simulation.

    Returns:
        ``avg_job_duration``, ``makespan``, ``jobs_completed``, ``throughput``,
        ``total_time_in_system``, ``time`` (as the env's ``info``), ``decisions`` (tasks
        placed) and ``steps`` (env steps the baseline would take).

    Raises:
        ValueError: An unknown env argument or an instance the env would reject; a bad
            ``rule``, ``seed`` or env argument as a
            :class:`~schedgym.envs.validation.ArgumentError` (the env's checks,
            :func:`envs.soc.env.check_arguments`, with the env's messages).
    """
    code = RULES.index(check_choice("rule", rule, RULES))
    unknown = set(env_kwargs) - _INERT_ENV_KWARGS
    if unknown:
        known = ("platform", "mode", "noise", "window", "edges_per_task", "pe_selection",
                 "max_steps", *sorted(_INERT_ENV_KWARGS))
        raise ValueError(f"unknown env argument(s) {sorted(unknown)}; known: {', '.join(known)}")
    seed = None if seed is None else check_int("seed", seed, low=0)
    args = check_arguments(**{**_ENV_DEFAULTS, **env_kwargs}, platform=platform, mode=mode,
                           noise=noise, window=window, edges_per_task=edges_per_task,
                           pe_selection=pe_selection, max_steps=max_steps)
    if isinstance(instance, str):
        instance = generator.named_instance(instance)
    if not isinstance(instance, SoCInstance):  # ValueError, as the env raises for it
        raise ValueError(  # noqa: TRY004
            f"instance must be an SoCInstance or a name, got {type(instance).__name__}")
    window, e_dag = args.window, args.edges_per_task * args.window
    flat = flatten(instance, args.platform, window, e_dag, with_rank=code == _HEFT_RT)
    rng, _ = seeding.np_random(seed)
    factors = draw_task_noise(rng, flat.sizes, args.noise)
    steps_limit = args.max_steps if args.max_steps is not None else 100 * flat.n_tasks + 1000
    out = _run(code, args.pe_selection == "eft", steps_limit, window, e_dag, flat.kind_cost,
               flat.pe_kind, flat.edges, flat.volume, flat.sizes, flat.n_edges, flat.arrival,
               flat.rank, flat.inv_bw, factors)
    return _metrics(out)


def _metrics(out: np.ndarray) -> dict[str, float]:
    """The env's ``info`` metrics from the core's output array."""
    sum_duration, last_done, done, total_time, now, decisions, steps = out.tolist()
    return {
        "avg_job_duration": sum_duration / done if done else 0.0,
        "makespan": last_done,
        "jobs_completed": int(done),
        "throughput": done / (last_done / 1000.0) if last_done > 0 else 0.0,
        "total_time_in_system": total_time,
        "time": now,
        "decisions": int(decisions),
        "steps": int(steps),
    }


def warm_up() -> float:
    """Compiles the core (or loads it from numba's cache) on a tiny instance for every rule;
    returns the seconds it took, so timings can exclude compilation."""
    start = time.perf_counter()
    for rule in RULES:
        simulate("topcuoglu-fig2", rule, platform="unrelated-3", mode="static")
    return time.perf_counter() - start


__all__ = ["RULES", "FlatInstance", "flatten", "simulate", "warm_up"]
