"""The CP-SAT model behind the SoC lower bounds (:mod:`baselines.soc.bound`): some jobs, each a
DAG with known execution times on every PE, alone on an empty chip; minimise the sum over the
jobs of (finish of the job's last task − the job's arrival). With one job at time 0 that is the
makespan.

The model is the env's dynamics relaxed only where a relaxation is safe for a lower bound:

- a task runs on one PE it is eligible for, for its (realised) execution time there, and a PE
  runs one task at a time (an interval per (task, eligible PE) with optional presence, one
  no-overlap per PE);
- a task starts after its job arrived and after each predecessor finished plus the transfer
  time ``volume / bandwidth[p, q]`` when the two sit on different PEs p != q;
- the env's extra restrictions (the task window, FIFO queues without insertion, commits only
  of ready tasks) are dropped: they can only delay tasks.

Times are integers in units of ``1 / SCALE`` µs. Every duration, transfer time and release is
rounded *down* and the arrival subtracted in the objective rounded *up*, so any schedule of the
real problem, its times rounded down, is a schedule of the integer model with an objective no
larger (⌊x⌋ + ⌊y⌋ ≤ ⌊x + y⌋): CP-SAT's proven bound divided by ``SCALE`` is a valid bound on
the real problem. Found schedules are re-timed in floating point with the real times
(:func:`retime`), so a reported value is a real schedule's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

SCALE = 1000  # integer time units per µs (1 ns)


@dataclass(frozen=True)
class BoundJob:
    """One job as the bound model sees it.

    Attributes:
        duration: Execution time of each task on each PE, ``inf`` where the PE cannot run
            it, µs.  # (n, P) float64
        edges: Precedence pairs (src, dst), task indices.  # (m, 2) int64
        volume: Data volume of each edge.  # (m,) float64
        arrival: Arrival time, µs.
        floor: A known lower bound on the job's duration (finish − arrival), µs; 0 if none.
    """

    duration: np.ndarray
    edges: np.ndarray
    volume: np.ndarray
    arrival: float = 0.0
    floor: float = 0.0


@dataclass(frozen=True)
class ModelResult:
    """What one CP-SAT solve of some jobs returned.

    Attributes:
        value: Σ (finish − arrival) of the best schedule found, re-timed with the real times,
            µs (``nan`` if none was found).
        bound: CP-SAT's proven lower bound on that sum, µs (at least the jobs' floors).
        status: ``"optimal"``, ``"feasible"`` or ``"unknown"`` (no schedule found).
        pe: PE of each task of each job in the best schedule (empty arrays if none).
        start: Re-timed start of each task of each job, µs (empty arrays if none).
        deterministic_time: CP-SAT deterministic seconds used.
        wall_s: Wall-clock seconds (reported only).
    """

    value: float
    bound: float
    status: str
    pe: list[np.ndarray]
    start: list[np.ndarray]
    deterministic_time: float
    wall_s: float


def check_job(job: BoundJob, n_pe: int, where: str = "job") -> None:
    """Raises ``ValueError`` naming ``where`` and the field if ``job`` is malformed."""
    d = np.asarray(job.duration)
    if d.ndim != 2 or d.shape[1] != n_pe:
        raise ValueError(f"{where}: duration must have shape (n_tasks, {n_pe}), got {d.shape}")
    if d.shape[0] == 0:
        raise ValueError(f"{where}: has no tasks")
    if np.isnan(d).any() or (d <= 0).any():
        raise ValueError(f"{where}: durations must be positive (inf where ineligible)")
    if (~np.isfinite(d)).all(1).any():
        raise ValueError(f"{where}: task {int(np.flatnonzero((~np.isfinite(d)).all(1))[0])} "
                         "has no eligible PE")
    e = np.asarray(job.edges).reshape(-1, 2)
    if len(e) != len(np.asarray(job.volume).reshape(-1)):
        raise ValueError(f"{where}: edges and volume differ in length")
    if len(e) and (e.min() < 0 or e.max() >= d.shape[0]):
        raise ValueError(f"{where}: an edge names a task outside 0..{d.shape[0] - 1}")
    if not (math.isfinite(job.arrival) and job.arrival >= 0):
        raise ValueError(f"{where}: arrival must be a finite time >= 0, got {job.arrival}")
    if len(e) and topological_order(d.shape[0], e) is None:
        raise ValueError(f"{where}: edges contain a cycle")


def topological_order(n: int, edges: np.ndarray) -> list[int] | None:
    """Kahn's order of ``n`` tasks under ``edges`` (lowest index first), None if cyclic."""
    indeg = np.zeros(n, np.int64)
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in np.asarray(edges).reshape(-1, 2).tolist():
        succ[a].append(b)
        indeg[b] += 1
    ready = sorted(np.flatnonzero(indeg == 0).tolist(), reverse=True)
    order = []
    while ready:
        a = ready.pop()
        order.append(a)
        for b in succ[a]:
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
        ready.sort(reverse=True)
    return order if len(order) == n else None


def critical_path_floor(job: BoundJob) -> float:
    """The job's duration if every task ran on its fastest eligible PE with free transfers and
    no PE contention: a lower bound on the job alone and in any schedule, µs."""
    fastest = np.min(job.duration, axis=1)
    n = len(fastest)
    edges = np.asarray(job.edges).reshape(-1, 2)
    finish = np.zeros(n)
    preds: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges.tolist():
        preds[b].append(a)
    for i in topological_order(n, edges) or range(n):
        finish[i] = max((finish[a] for a in preds[i]), default=0.0) + fastest[i]
    return float(finish.max())


def _down(x: float) -> int:
    """``x`` µs in model units, rounded down (with a hair of slack for float noise)."""
    return int(math.floor(x * SCALE + 1e-9))


def _up(x: float) -> int:
    return int(math.ceil(x * SCALE - 1e-9))


def _dest_only(inv_bw: np.ndarray) -> np.ndarray | None:
    """Per destination PE the transfer time per volume unit, if it does not depend on the
    source (as on ds3 and the unrelated platforms), else None."""
    P = len(inv_bw)
    off = ~np.eye(P, dtype=bool)
    per_dest = np.zeros(P)
    for q in range(P):
        column = inv_bw[off[:, q], q]
        if len(column) and not np.allclose(column, column[0], rtol=0, atol=0):
            return None
        per_dest[q] = column[0] if len(column) else 0.0
    return per_dest


def solve(jobs: list[BoundJob], inv_bw: np.ndarray, deterministic_time: float,
          hint: list[np.ndarray] | None = None, pairwise: bool = False) -> ModelResult:
    """Minimises Σ (finish − arrival) over ``jobs`` alone on the chip (module docstring).

    Args:
        jobs: The jobs, each with realised durations on every PE.
        inv_bw: Transfer time per volume unit from PE p to PE q (zero diagonal), (P, P).
        deterministic_time: CP-SAT budget (``max_deterministic_time``), > 0; one worker, so
            the result does not depend on machine load.
        hint: Optionally a PE per task of each job to hint (e.g. a heuristic's assignment).
        pairwise: State each transfer per (source PE, destination PE) pair even when its time
            depends on the destination only (the same model, more constraints: for tests).

    Raises:
        ValueError: On a bad job (naming it and the field), a bad ``inv_bw`` or budget.
    """
    inv_bw = np.asarray(inv_bw, np.float64)
    P = inv_bw.shape[0] if inv_bw.ndim == 2 else -1
    if inv_bw.ndim != 2 or inv_bw.shape != (P, P) or (inv_bw < 0).any() or \
            not np.isfinite(inv_bw).all():
        raise ValueError(f"inv_bw must be a square non-negative finite matrix, got shape "
                         f"{inv_bw.shape}")
    if not jobs:
        raise ValueError("jobs is empty")
    if not (math.isfinite(deterministic_time) and deterministic_time > 0):
        raise ValueError(f"deterministic_time must be > 0, got {deterministic_time}")
    for j, job in enumerate(jobs):
        check_job(job, P, f"job {j}")
    started = time.perf_counter()
    per_dest = None if pairwise else _dest_only(inv_bw)
    model = cp_model.CpModel()
    # A horizon every optimal schedule fits: all tasks one after another at their slowest.
    horizon = _up(max(job.arrival for job in jobs)) + 1
    for job in jobs:
        finite = np.where(np.isfinite(job.duration), job.duration, 0.0)
        horizon += sum(_up(x) for x in finite.max(1))
        horizon += sum(_up(v * inv_bw.max()) for v in np.asarray(job.volume).reshape(-1))
    on_pe: list[list] = [[] for _ in range(P)]
    work: list[list] = [[] for _ in range(P)]  # duration × presence of each task on each PE
    present: list[list[dict[int, cp_model.IntVar]]] = []
    starts: list[list[cp_model.IntVar]] = []
    ends: list[list[cp_model.IntVar]] = []
    completion = []
    offset = 0
    for j, job in enumerate(jobs):
        release = _down(job.arrival)
        offset += _up(job.arrival)
        xs, ss, es = [], [], []
        for i, row in enumerate(job.duration):
            s = model.NewIntVar(release, horizon, f"s{j}_{i}")
            e = model.NewIntVar(release, horizon, f"e{j}_{i}")
            x = {}
            size = []
            for p in np.flatnonzero(np.isfinite(row)).tolist():
                x[p] = model.NewBoolVar(f"x{j}_{i}_{p}")
                d = max(_down(row[p]), 0)
                # Each alternative is its own interval starting at s, sharing no end
                # variable; the task's end is s + the chosen duration. (Alternatives sharing
                # both s and e made CP-SAT 9.15 on one worker prove a wrong optimum: 391.602
                # instead of 387.3 on static-random instance 1, a regression test.)
                on_pe[p].append(model.NewOptionalFixedSizeIntervalVar(s, d, x[p],
                                                                      f"iv{j}_{i}_{p}"))
                work[p].append(d * x[p])
                size.append(d * x[p])
            model.AddExactlyOne(x.values())
            model.Add(e == s + sum(size))
            xs.append(x)
            ss.append(s)
            es.append(e)
        for (a, b), v in zip(np.asarray(job.edges).reshape(-1, 2).tolist(),
                             np.asarray(job.volume).reshape(-1).tolist()):
            model.Add(ss[b] >= es[a])
            _transfer(model, xs[a], xs[b], es[a], ss[b], v, inv_bw, per_dest)
        c = model.NewIntVar(release, horizon, f"c{j}")
        for e in es:
            model.Add(c >= e)
        # A floor known to hold for the real job holds, rounded down, for the model's too.
        model.Add(c >= release + _down(job.floor))
        completion.append(c)
        present.append(xs)
        starts.append(ss)
        ends.append(es)
    for p in range(P):
        if len(on_pe[p]) > 1:
            model.AddNoOverlap(on_pe[p])
    if len(jobs) == 1:
        # Redundant but strengthens the LP: a PE's work fits between release and makespan.
        release = _down(jobs[0].arrival)
        for p, load in enumerate(work):
            if load:
                model.Add(sum(load) <= completion[0] - release)
    model.Minimize(sum(completion) - offset)
    if hint is not None:
        for xs, pes in zip(present, hint):
            for x, p in zip(xs, np.asarray(pes).tolist()):
                for q, var in x.items():
                    model.AddHint(var, int(q == p))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = float(deterministic_time)
    solver.parameters.random_seed = 0
    code = solver.Solve(model)
    status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(code, "unknown")
    floors = sum(job.floor for job in jobs)
    bound = max(solver.BestObjectiveBound() / SCALE, floors) if code != cp_model.INFEASIBLE \
        else floors
    if code == cp_model.INFEASIBLE or code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"the bound model is {solver.StatusName(code)}: a bug")
    if status == "unknown":
        return ModelResult(math.nan, bound, status, [np.zeros(0, np.int64)] * len(jobs),
                           [np.zeros(0)] * len(jobs), solver.deterministic_time,
                           time.perf_counter() - started)
    pe = [np.array([next(p for p, var in x.items() if solver.Value(var)) for x in xs], np.int64)
          for xs in present]
    order_key = [np.array([solver.Value(s) for s in ss], np.int64) for ss in starts]
    start, finish = retime(jobs, inv_bw, pe, order_key)
    value = float(sum(f.max() - job.arrival for f, job in zip(finish, jobs)))
    return ModelResult(value, bound, status, pe, start, solver.deterministic_time,
                       time.perf_counter() - started)


def _transfer(model: cp_model.CpModel, xa: dict, xb: dict, end_a, start_b, volume: float,
              inv_bw: np.ndarray, per_dest: np.ndarray | None) -> None:
    """Start of b ≥ finish of a + the transfer time when a and b sit on different PEs."""
    if volume <= 0:
        return
    if per_dest is not None:
        # The delay into q is the same from every other PE: pay it unless a is on q too.
        for q, xbq in xb.items():
            delay = _down(volume * per_dest[q])
            if delay <= 0:
                continue
            enforce = [xbq, xa[q].Not()] if q in xa else [xbq]
            model.Add(start_b >= end_a + delay).OnlyEnforceIf(enforce)
        return
    for p, xap in xa.items():
        for q, xbq in xb.items():
            delay = _down(volume * inv_bw[p, q]) if p != q else 0
            if delay > 0:
                model.Add(start_b >= end_a + delay).OnlyEnforceIf([xap, xbq])


def retime(jobs: list[BoundJob], inv_bw: np.ndarray, pe: list[np.ndarray],
           key: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Left-shifts a schedule given by each task's PE and an order key (e.g. its model start):
    tasks in key order, each as early as its arrival, its PE's previous task and its inputs
    allow, with the real (float) times. Returns (start, finish) per job, µs."""
    items = sorted((int(k), j, i) for j, ks in enumerate(key) for i, k in enumerate(ks.tolist()))
    # Within a job, break equal keys by topological position (a zero-length model task).
    topo = [{t: r for r, t in enumerate(topological_order(job.duration.shape[0], job.edges))}
            for job in jobs]
    items.sort(key=lambda x: (x[0], x[1], topo[x[1]][x[2]]))
    start = [np.full(job.duration.shape[0], np.nan) for job in jobs]
    finish = [np.full(job.duration.shape[0], np.nan) for job in jobs]
    preds = [[[] for _ in range(job.duration.shape[0])] for job in jobs]
    for j, job in enumerate(jobs):
        for (a, b), v in zip(np.asarray(job.edges).reshape(-1, 2).tolist(),
                             np.asarray(job.volume).reshape(-1).tolist()):
            preds[j][b].append((a, v))
    pe_free = np.zeros(len(inv_bw))
    for _, j, i in items:
        p = int(pe[j][i])
        t = max(jobs[j].arrival, pe_free[p])
        for a, v in preds[j][i]:
            if np.isnan(finish[j][a]):
                raise RuntimeError("retime: a task is ordered before its predecessor")
            t = max(t, finish[j][a] + v * inv_bw[int(pe[j][a]), p])
        start[j][i] = t
        finish[j][i] = t + jobs[j].duration[i, p]
        pe_free[p] = finish[j][i]
    return start, finish


__all__ = ["SCALE", "BoundJob", "ModelResult", "check_job", "critical_path_floor", "retime",
           "solve", "topological_order"]
