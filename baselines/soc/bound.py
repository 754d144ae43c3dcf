"""Lower bounds on the ``avg_job_duration`` ``schedgym/SoCDAG-v0`` can reach (issue #14 §3).

**The noise can be revealed.** The env draws one execution-time factor per task of every job at
``reset``, job by job in the instance's order, right after seeding ``np_random``
(:func:`envs.soc.sim.draw_task_noise`), and a task's realised time on PE p is its mean latency on
p's kind times its factor, whatever PE and whenever it runs. So for an instance and seed the
realised times are fixed before any decision (:func:`realised_durations`), and an oracle that
knows them bounds every scheduler, which only sees the means.

**Static sets** (one DAG at time 0): :func:`job_duration_lower_bound` solves the single-DAG
makespan with CP-SAT (:mod:`baselines.soc.bound_model`) and returns its proven bound, never
below the critical-path floor (each task at its fastest PE, free transfers).

**Streaming sets**: the sum of job durations is bounded by a relaxation. Split the jobs in
arrival order into consecutive windows of ``k``; a schedule of all jobs, restricted to one
window's jobs, is a schedule of that window alone (the other jobs only take PE time), so the
sum over windows of each window's optimum, and of CP-SAT's proven bound on it, is a lower bound
on the total. Each job's duration is also at least its optimum alone on the empty chip, bounded
by its own CP-SAT solve and its critical-path floor; these floors enter each window's model as
constraints, so a window's bound is never below the sum of its jobs' floors. Divided by the
number of jobs it bounds ``avg_job_duration``.

Budgets are CP-SAT deterministic seconds on one worker: the figures depend on the instance, seed
and budgets only. Defaults (:data:`DEFAULT_BUDGET`): 1 s per job alone, windows of 5 jobs with
10 s each, 30 s for a static DAG.

Run: ``python -m schedgym.baselines.soc.bound --instances static-random,static-apps --seeds 0,1``
prints per set the mean bound and HEFT, HEFT_RT, ETF and ``pretrained:soc`` beside it.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

import numpy as np
from gymnasium.utils import seeding

from schedgym.baselines.soc.bound_model import BoundJob, critical_path_floor, solve
from schedgym.envs.soc.dag import inverse_bandwidth
from schedgym.envs.soc.sim import check_platform, draw_task_noise
from schedgym.envs.soc.types import Platform, SoCInstance


@dataclass(frozen=True)
class BoundBudget:
    """CP-SAT budgets (deterministic seconds) and the window size of the streaming bound.

    Attributes:
        window_jobs: Jobs per window ``k`` (>= 1).
        window_time: Budget of each window's solve.
        alone_time: Budget of each job's solve alone (0: critical-path floor only).
        static_time: Budget of a single-DAG instance's solve.
    """

    window_jobs: int = 5
    window_time: float = 10.0
    alone_time: float = 1.0
    static_time: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.window_jobs, bool) or not isinstance(self.window_jobs, int) or \
                self.window_jobs < 1:
            raise ValueError(f"window_jobs must be an int >= 1, got {self.window_jobs!r}")
        for name in ("window_time", "static_time"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(self.alone_time, (int, float)) and math.isfinite(self.alone_time)
                and self.alone_time >= 0):
            raise ValueError(f"alone_time must be a finite number >= 0, got {self.alone_time!r}")


DEFAULT_BUDGET = BoundBudget()


@dataclass
class InstanceBound:
    """The bound of one (instance, seed) and how it was reached.

    Attributes:
        bound: Lower bound on ``avg_job_duration``, µs.
        value: ``avg_job_duration`` of the windows' best schedules (a relaxation's value, not
            a schedule of the instance unless it has one window), µs; ``nan`` if any window
            found none.
        floor: The jobs' own floors alone (critical path / alone solve), averaged, µs.
        critical_path: The critical-path floors alone, averaged, µs.
        statuses: CP-SAT status of each window.
        deterministic_time: CP-SAT deterministic seconds used in all.
        wall_s: Wall-clock seconds (reported only).
    """

    bound: float
    value: float
    floor: float
    critical_path: float
    statuses: list[str] = field(default_factory=list)
    deterministic_time: float = 0.0
    wall_s: float = 0.0


def realised_durations(instance: SoCInstance, platform: Platform, noise: float,
                       seed: int | None) -> list[np.ndarray]:
    """The execution time of every task of every job on every PE in the episode
    ``env.reset(seed=seed, options={"instance": instance})`` of an env with this ``platform``
    and ``noise``: mean latency of the PE's kind × the task's pre-drawn factor, ``inf`` where
    the PE cannot run it.

    Args:
        instance: The workload (its platform must be ``platform``).
        platform: The chip.
        noise: The env's ``noise`` σ (>= 0).
        seed: The episode seed (an int >= 0); may be None only when ``noise`` is 0.

    Returns:
        Per job a (n_tasks, P) float64 array, µs.

    Raises:
        ValueError: If the instance is for another platform, ``noise`` is negative or not
            finite, or ``seed`` is missing or negative when the noise needs it.
    """
    check_platform(instance, platform)
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if noise > 0 and (seed is None or isinstance(seed, bool) or not isinstance(seed, int)
                      or seed < 0):
        raise ValueError(f"seed must be an int >= 0 when noise > 0 (the noise is drawn from "
                         f"it), got {seed!r}")
    sizes = [job.n_tasks for job in instance.jobs]
    # The env's np_random right after reset(seed=...); with a given instance nothing else
    # draws from it before the sim's noise.
    rng = seeding.np_random(seed)[0] if noise > 0 else np.random.default_rng(0)
    factors = np.split(draw_task_noise(rng, sizes, float(noise)),
                       np.cumsum(sizes, dtype=np.int64)[:-1])
    return [job.cost[:, platform.pe_kind] * f[:, None] for job, f in zip(instance.jobs, factors)]


def bound_jobs(instance: SoCInstance, platform: Platform, noise: float,
               seed: int | None) -> list[BoundJob]:
    """The instance's jobs with their realised times (:func:`realised_durations`) and
    arrivals, floors not yet set."""
    durations = realised_durations(instance, platform, noise, seed)
    arrival = np.asarray(instance.arrival, np.float64)
    return [BoundJob(d, np.asarray(job.edges, np.int64).reshape(-1, 2),
                     np.asarray(job.volume, np.float64).reshape(-1), float(a))
            for d, job, a in zip(durations, instance.jobs, arrival.tolist())]


def job_duration_lower_bound(instance: SoCInstance, platform: Platform, noise: float = 0.0,
                             seed: int | None = 0, budget: BoundBudget = DEFAULT_BUDGET,
                             progress: bool = False) -> InstanceBound:
    """A lower bound on the ``avg_job_duration`` of every schedule of ``instance`` in the
    episode with ``seed`` (module docstring): the static model for a single job, the window
    relaxation for several.

    Args:
        instance: The workload.
        platform: The chip (the env's).
        noise: The env's ``noise`` σ.
        seed: The episode seed (only used when ``noise`` > 0).
        budget: The CP-SAT budgets and window size.
        progress: Show a progress bar over the windows.

    Raises:
        ValueError: On a bad instance, platform, noise, seed or budget (naming it).
    """
    if not isinstance(budget, BoundBudget):
        raise ValueError(f"budget must be a BoundBudget, got {type(budget).__name__}")
    started = time.perf_counter()
    jobs = bound_jobs(instance, platform, noise, seed)
    arrival = np.asarray(instance.arrival, np.float64)
    if len(arrival) != len(jobs) or np.any(np.diff(arrival) < 0):
        raise ValueError(f"instance {instance.name!r}: arrivals must be one non-decreasing "
                         "time per job")
    inv = inverse_bandwidth(platform.bandwidth)
    critical = [critical_path_floor(job) for job in jobs]
    if len(jobs) == 1:
        job = _with_floor(jobs[0], critical[0])
        result = solve([job], inv, budget.static_time)
        return InstanceBound(result.bound, result.value, critical[0], critical[0],
                             [result.status], result.deterministic_time,
                             time.perf_counter() - started)
    det = 0.0
    floors = []
    for job, cp in zip(jobs, critical):
        floor = cp
        if budget.alone_time > 0:
            alone = solve([_with_floor(job, cp)], inv, budget.alone_time)
            floor, det = max(cp, alone.bound), det + alone.deterministic_time
        floors.append(floor)
    k = budget.window_jobs
    windows = [range(w, min(w + k, len(jobs))) for w in range(0, len(jobs), k)]
    total = value = 0.0
    statuses = []
    iterator = windows
    if progress:
        from tqdm import tqdm

        iterator = tqdm(windows, desc=f"bound {instance.name}", leave=False)
    for window in iterator:
        members = [_with_floor(jobs[j], floors[j]) for j in window]
        result = solve(members, inv, budget.window_time)
        total += max(result.bound, sum(floors[j] for j in window))
        value += result.value
        statuses.append(result.status)
        det += result.deterministic_time
    n = len(jobs)
    return InstanceBound(total / n, value / n, float(np.mean(floors)), float(np.mean(critical)),
                         statuses, det, time.perf_counter() - started)


def _with_floor(job: BoundJob, floor: float) -> BoundJob:
    return BoundJob(job.duration, job.edges, job.volume, job.arrival, float(floor))


__all__ = ["BoundBudget", "DEFAULT_BUDGET", "InstanceBound", "bound_jobs",
           "job_duration_lower_bound", "realised_durations"]
