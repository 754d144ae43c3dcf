"""Lower bounds on the ``avg_job_duration`` ``schedgym/SoCDAG-v0`` can reach (issue #14 §3).

**The noise can be revealed.** The env draws one execution-time factor per task of every job at
``reset``, job by job in the instance's order, right after seeding ``np_random``
(:func:`envs.soc.sim.draw_task_noise`), and a task's realised time on PE p is its mean latency on
p's kind times its factor, whatever PE and whenever it runs. So for an instance and seed the
realised times are fixed before any decision (:func:`realised_durations`), and an oracle that
knows them bounds every scheduler, which only sees the means.

**A single DAG** (static-random, most of static-apps): :func:`job_duration_lower_bound` solves
the makespan with CP-SAT (:mod:`baselines.soc.bound_model`) and returns its proven bound, never
below the critical-path floor (each task at its fastest PE, free transfers).

**Several jobs** (the streams, static batches): the sum of job durations is bounded by a
relaxation. Split the jobs in arrival order into consecutive windows of ``k``; a schedule of
all jobs, restricted to one window's jobs, is a schedule of that window alone (the other jobs only take PE time), so the
sum over windows of each window's optimum, and of CP-SAT's proven bound on it, is a lower bound
on the total. Each job's duration is also at least its optimum alone on the empty chip, bounded
by its own CP-SAT solve and its critical-path floor; these floors enter each window's model as
constraints, so a window's bound is never below the sum of its jobs' floors. Divided by the
number of jobs it bounds ``avg_job_duration``.

Both also take the capacity bound of :func:`capacity_bound` (SRPT on one fast machine per set
of PE kinds), which is valid but below the CP-SAT bound on every fixed set.

Budgets are CP-SAT deterministic seconds on one worker: the figures depend on the instance, seed
and budgets only. Defaults (:data:`DEFAULT_BUDGET`): 0.5 s per job alone, windows of 3 jobs with
0.1 s each, 10 s for a static DAG. The jobs' own floors carry most of a streaming bound, the
windows add little (see the README), and CP-SAT's wall time per deterministic second on these
models is high (10–50 on the shared 2-core machine), so the window budget is kept small.

Run: ``python -m schedgym.baselines.soc.bound --instances static-random,static-apps --seeds 0,1``
prints per set the mean bound and HEFT, HEFT_RT, ETF and ``pretrained:soc`` beside it.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
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

    window_jobs: int = 3
    window_time: float = 0.1
    alone_time: float = 0.5
    static_time: float = 10.0

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
        window_bound: The CP-SAT part alone (windows, or the static solve), µs.
        capacity: The capacity part alone (:func:`capacity_bound`, per job), µs.
    """

    bound: float
    value: float
    floor: float
    critical_path: float
    statuses: list[str] = field(default_factory=list)
    deterministic_time: float = 0.0
    wall_s: float = 0.0
    window_bound: float = 0.0
    capacity: float = 0.0


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
    capacity = capacity_bound(jobs, platform.pe_kind)[0]
    if len(jobs) == 1:
        job = _with_floor(jobs[0], critical[0])
        result = solve([job], inv, budget.static_time)
        return InstanceBound(max(result.bound, capacity), result.value, critical[0],
                             critical[0], [result.status], result.deterministic_time,
                             time.perf_counter() - started, result.bound, capacity)
    det = 0.0
    floors = []
    alone_bounds: dict[tuple, float] = {}  # streams repeat the same few jobs without noise
    for job, cp in zip(jobs, critical):
        floor = cp
        if budget.alone_time > 0:
            # Alone, a job's duration does not depend on when it arrives: solve it at time 0.
            key = (job.duration.tobytes(), job.edges.tobytes(), job.volume.tobytes())
            if key not in alone_bounds:
                alone = solve([BoundJob(job.duration, job.edges, job.volume, 0.0, cp)], inv,
                              budget.alone_time)
                alone_bounds[key] = alone.bound
                det += alone.deterministic_time
            floor = max(cp, alone_bounds[key])
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
    return InstanceBound(max(total, capacity) / n, value / n, float(np.mean(floors)),
                         float(np.mean(critical)), statuses, det, time.perf_counter() - started,
                         total / n, capacity / n)


def srpt_total_flow(release: np.ndarray, work: np.ndarray, speed: float) -> float:
    """Σ (completion − release) of SRPT on one preemptive machine of ``speed`` (work units per
    µs): the least total over all preemptive schedules of that machine (Schrage 1968)."""
    order = np.argsort(release, kind="stable")
    release, work = np.asarray(release, float)[order], np.asarray(work, float)[order]
    heap: list[tuple[float, int]] = []
    t, k, total = 0.0, 0, 0.0
    while k < len(release) or heap:
        if not heap:
            t = max(t, release[k])
        while k < len(release) and release[k] <= t:
            heapq.heappush(heap, (work[k], k))
            k += 1
        left, j = heapq.heappop(heap)
        next_release = release[k] if k < len(release) else math.inf
        if t + left / speed <= next_release:
            t += left / speed
            total += t - release[j]
        else:
            heapq.heappush(heap, (left - (next_release - t) * speed, j))
            t = next_release
    return total


def capacity_bound(jobs: list[BoundJob], pe_kind: np.ndarray,
                   max_kinds: int = 8) -> tuple[float, tuple[int, ...]]:
    """A bound on Σ (finish − arrival) from the PEs' capacity: for a set K of PE kinds, the
    tasks that only K can run need their fastest time on K, at most one task per PE at a time,
    so the m_K PEs of K do no more work per µs than one preemptive machine of speed m_K; each
    job's K-work then finishes no earlier than in that machine's SRPT schedule, whose total flow
    time is the least (:func:`srpt_total_flow`). Returns the best total and its K over every
    non-empty K (only single kinds and all kinds beyond ``max_kinds`` kinds)."""
    pe_kind = np.asarray(pe_kind)
    kinds = np.unique(pe_kind).tolist()
    if len(kinds) <= max_kinds:
        subsets = [c for r in range(1, len(kinds) + 1) for c in itertools.combinations(kinds, r)]
    else:
        subsets = [(k,) for k in kinds] + [tuple(kinds)]
    release = np.array([job.arrival for job in jobs])
    best, best_kinds = 0.0, ()
    for subset in subsets:
        inside = np.isin(pe_kind, subset)
        work = np.zeros(len(jobs))
        for j, job in enumerate(jobs):
            eligible = np.isfinite(job.duration)
            forced = ~eligible[:, ~inside].any(1)
            if forced.any():
                work[j] = np.min(job.duration[forced][:, inside], axis=1).sum()
        if work.any():
            total = srpt_total_flow(release, work, float(inside.sum()))
            if total > best:
                best, best_kinds = total, tuple(int(k) for k in subset)
    return best, best_kinds


def _with_floor(job: BoundJob, floor: float) -> BoundJob:
    return BoundJob(job.duration, job.edges, job.volume, job.arrival, float(floor))


_MEMO: dict[str, dict] = {}  # bounds computed in this process, by bound_key


def bound_entry(instance: SoCInstance, platform: Platform, noise: float, seed: int | None,
                budget: BoundBudget = DEFAULT_BUDGET, table: dict[str, dict] | None = None,
                progress: bool = False) -> dict:
    """The bound of (instance, seed) as a table entry: from ``table`` (default the stored
    :data:`bound_table.TABLE_PATH`) or this process's memory if there, else computed.

    Returns:
        ``{"bound", "value", "floor", "critical_path", "statuses", "deterministic_time",
        "wall_s", "window_bound", "capacity"}`` (µs, µs, µs, µs, list, s, s, µs, µs).
    """
    from schedgym.baselines.soc.bound_table import bound_key, load_table

    key = bound_key(instance, platform.name, noise, seed, budget)
    if key not in _MEMO:
        stored = (load_table() if table is None else table).get(key)
        if stored is None:
            result = job_duration_lower_bound(instance, platform, noise, seed, budget, progress)
            stored = {"bound": result.bound, "value": result.value, "floor": result.floor,
                      "critical_path": result.critical_path, "statuses": result.statuses,
                      "deterministic_time": result.deterministic_time, "wall_s": result.wall_s,
                      "window_bound": result.window_bound, "capacity": result.capacity}
        _MEMO[key] = stored
    return _MEMO[key]


__all__ = ["BoundBudget", "DEFAULT_BUDGET", "InstanceBound", "bound_entry", "bound_jobs",
           "capacity_bound", "srpt_total_flow",
           "job_duration_lower_bound", "realised_durations"]


ENV_ID = "schedgym/SoCDAG-v0"
DEFAULT_POLICIES = "heft,heft_rt,etf,pretrained:soc"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m schedgym.baselines.soc.bound", description=__doc__.splitlines()[0])
    parser.add_argument("--instances", required=True, help="comma-separated fixed SoC sets")
    parser.add_argument("--seeds", default="0", help="comma-separated episode seeds (default 0)")
    parser.add_argument("--policies", default=DEFAULT_POLICIES,
                        help=f"policies to run beside the bound (default {DEFAULT_POLICIES}; "
                             "'' for none)")
    defaults = DEFAULT_BUDGET
    parser.add_argument("--window-jobs", type=int, default=defaults.window_jobs,
                        help=f"jobs per window k (default {defaults.window_jobs})")
    parser.add_argument("--window-time", type=float, default=defaults.window_time,
                        help="CP-SAT deterministic s per window (default "
                             f"{defaults.window_time})")
    parser.add_argument("--alone-time", type=float, default=defaults.alone_time,
                        help="CP-SAT deterministic s per job alone, 0 for the critical path "
                             f"only (default {defaults.alone_time})")
    parser.add_argument("--static-time", type=float, default=defaults.static_time,
                        help="CP-SAT deterministic s per single-DAG instance (default "
                             f"{defaults.static_time})")
    parser.add_argument("--write", action="store_true",
                        help="store the bounds in data/soc/bounds.json for the leaderboard")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from schedgym.baselines.soc.bound_table import bound_key, load_table, save_table
    from schedgym.data.instance_sets import set_names
    from schedgym.envs.soc.platform import get_platform
    from schedgym.policies import evaluation

    parser = build_parser()
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.instances.split(",") if name.strip()]
    unknown = [name for name in names if name not in set_names("soc")]
    if not names or unknown:
        parser.error(f"--instances: no SoC set {', '.join(unknown) or '(none given)'}; "
                     f"available: {', '.join(set_names('soc'))}")
    try:
        seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not seeds or min(seeds) < 0:
        parser.error(f"--seeds must name integers >= 0, got {args.seeds!r}")
    try:
        budget = BoundBudget(args.window_jobs, args.window_time, args.alone_time,
                             args.static_time)
        policies = [p.strip() for p in args.policies.split(",") if p.strip()]
        schedulers, learned = (evaluation.build_schedulers(ENV_ID, policies) if policies
                               else ({}, {}))
        instance_sets = evaluation.load_instance_sets(ENV_ID, names)
    except ValueError as error:
        parser.error(str(error))
    table = load_table()
    print(f"budget: windows of {budget.window_jobs} jobs, {budget.window_time} det s each; "
          f"{budget.alone_time} det s per job alone; {budget.static_time} det s per static DAG")
    # Solves: one per static DAG, one per window of a multi-job instance.
    header = ["set", "episodes", "bound", "CP-SAT solves optimal", "per-job floor"]
    header += [cell for label in schedulers for cell in (label, f"{label} gap")]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for instance_set in instance_sets:
        platform = get_platform(instance_set.env_kwargs["platform"])
        noise = float(instance_set.env_kwargs.get("noise", 0.0))
        episodes = [(i, inst, seed) for i, inst in enumerate(instance_set.instances)
                    for seed in seeds]
        entries = {}
        bar = tqdm(episodes, desc=f"bounds {instance_set.name}", disable=args.no_progress)
        for index, instance, seed in bar:
            entry = bound_entry(instance, platform, noise, seed, budget, table,
                                progress=not args.no_progress)
            entries[index, seed] = entry
            if args.write:
                key = bound_key(instance, platform.name, noise, seed, budget)
                table[key] = {**entry, "set": instance_set.name,
                              "instance": instance.name or f"{instance_set.name}/{index}",
                              "seed": seed if noise > 0 else None}
                save_table(table)
        bounds = np.array([entries[index, seed]["bound"] for index, _, seed in episodes])
        floors = np.array([entries[index, seed]["floor"] for index, _, seed in episodes])
        statuses = [s for index, _, seed in episodes for s in entries[index, seed]["statuses"]]
        proven = sum(s == "optimal" for s in statuses)
        row = [instance_set.name, str(len(episodes)), f"{bounds.mean():.1f}",
               f"{proven}/{len(statuses)}", f"{floors.mean():.1f}"]
        if schedulers:
            fit = {label: make for label, make in schedulers.items()
                   if label not in learned or _fits(instance_set, label, learned[label])}
            results = evaluation.evaluate(ENV_ID, instance_set, fit, seeds,
                                          progress=not args.no_progress)
            for label in schedulers:
                if label not in fit:  # a learned policy of another observation size
                    row += ["—", "—"]
                    continue
                rows = results[results["policy"] == label]
                value = rows["avg_job_duration"].to_numpy(float).mean()
                row += [f"{value:.1f}", f"{100 * (value / bounds.mean() - 1):+.1f}%"]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))
    return 0


def _fits(instance_set, label: str, policy) -> bool:  # noqa: ANN001 (InstanceSet, policy)
    """Whether the learned ``policy`` fits the observation size of ``instance_set``'s env."""
    from schedgym.policies import evaluation

    try:
        evaluation.check_policies_fit(ENV_ID, [instance_set], {label: policy})
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
