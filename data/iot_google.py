"""An IoT task stream derived from Google cluster-data 2011 task events (issue 11, section 3): the
datacentre's arrival process and task sizes, scaled to IoT work.

Reads ``task_events/`` of a clusterdata-2011-2 directory through
:func:`data.google_cluster.read_task_events`, whose format rules and errors apply. A task is one
(job ID, task index); its events are read up to the window end. Figures cited are from
``../shared/reference/google_cluster_2011.md``.

* **Arrival**: the time of the task's first event, a SUBMIT, if it lies in the window
  (:mod:`data.iot_tasks`). Tasks whose first event is at time 0 existed before the trace began
  (their submit time is unknown) and are not arrivals.
* **Run**: the task's first FINISH and the last SCHEDULE before it: ``duration`` = their time
  difference (runs that ended in EVICT, FAIL, KILL or LOST before are not counted).
* **Work**: ``cycles = cycles_per_cpu_second × CPU request × duration_s``.
* **Sizes**: ``input_bits = bits_per_memory × memory request``, ``memory_mb = mb_per_memory ×
  memory request``, ``output_bits = output_ratio × input_bits`` (:mod:`data.iot_tasks`'s 0.125).
  Requests and priority are the latest non-empty values of the task's events.
* **QoS** from the priority bands of the schema: 9-11 production → 0 (critical), 2-8 batch and
  middle → 1 (standard), 0-1 free → 2 (best effort). A priority above 11 is a format error.
* **Deadline**: the generator's rule, ``deadline_factors[qos]`` × run time on its own device.
* **Device**: ``devices[crc32(job ID) % D]``: the tasks of a job come from one device.

Scale constants (*assumptions*, arguments of :func:`load_google_tasks`): a task of the median
CPU request (0.0625) and median memory request (0.0477; both of the 33,302 tasks running at the
trace's start) that runs :data:`REFERENCE_DURATION_S` (60 s) gets the geometric means of the
generator's ranges: 5.5·10^7 cycles (of 10^7-3·10^8), 44.7 kbit of input (of 10-200 kbit), and
the generator's mean memory, 62.5 MB. So :data:`CYCLES_PER_CPU_SECOND` ≈ 1.46·10^7 cycles per
normalised-CPU second (a one-minute median task runs 37 ms on a Raspberry Pi 4 core),
:data:`BITS_PER_MEMORY` ≈ 9.4·10^5 bits and :data:`MB_PER_MEMORY` ≈ 1,310 MB per unit of
normalised memory. Durations are not capped: an hour-long task is 60 times the work.

Summary of a window (tasks, rate, work range, QoS shares)::

    python -m schedgym.data.iot_google TRACE_DIR --start 600 --duration 3600

Tolerated irregularities (counted in one :class:`~data.google_cluster.TraceWarning`, never
silent; :data:`SKIP_REASONS`), each leaving the task out: a first event in the window that is not
a SUBMIT (the task was submitted before the events read: a trace cut in the middle); no FINISH by
the window end (failed, killed, lost, or still pending or running); a FINISH with no SCHEDULE
before it; an unknown CPU or memory request; an unknown priority; zero work (a CPU request of 0
or a run of zero length). Long tasks are more often left out as unfinished near the window end:
choose a window longer than the tasks of interest.
"""

from __future__ import annotations

import argparse
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from schedgym.data.google_cluster import TraceFormatError, TraceWarning, read_task_events
from schedgym.data.iot_tasks import (
    DEFAULT_MEMORY_MB,
    DEFAULT_OUTPUT_RATIO,
    TaskStream,
    check_figure,
    check_window,
    stable_keys,
    window_mask,
)

SUBMIT, SCHEDULE, FINISH = 0, 1, 4  # task event types of the schema
MAX_PRIORITY = 11
MEDIAN_CPU_REQUEST = 0.0625  # google_cluster_2011.md, task resource requests
MEDIAN_MEMORY_REQUEST = 0.0477
REFERENCE_DURATION_S = 60.0  # assumption: the run time that maps to a typical IoT task
GEOMETRIC_MEAN_CYCLES = math.sqrt(1e7 * 3e8)  # envs.iot.generator.TaskDistribution.cycles
GEOMETRIC_MEAN_INPUT_BITS = math.sqrt(1e4 * 2e5)  # envs.iot.generator.TaskDistribution.input_bits
CYCLES_PER_CPU_SECOND = GEOMETRIC_MEAN_CYCLES / (MEDIAN_CPU_REQUEST * REFERENCE_DURATION_S)
BITS_PER_MEMORY = GEOMETRIC_MEAN_INPUT_BITS / MEDIAN_MEMORY_REQUEST
MB_PER_MEMORY = DEFAULT_MEMORY_MB / MEDIAN_MEMORY_REQUEST
_MICROSECONDS = 1e6

SKIP_REASONS = (
    "tasks_without_submit",
    "tasks_not_finished",
    "tasks_finished_unscheduled",
    "tasks_missing_request",
    "tasks_missing_priority",
    "tasks_without_work",
)
_DESCRIPTIONS = {
    "tasks_without_submit": "tasks whose first event is not a SUBMIT (submitted before the "
                            "events read)",
    "tasks_not_finished": "tasks without a FINISH by the window end",
    "tasks_finished_unscheduled": "tasks with a FINISH but no SCHEDULE before it",
    "tasks_missing_request": "tasks of unknown CPU or memory request",
    "tasks_missing_priority": "tasks of unknown priority",
    "tasks_without_work": "tasks of zero work (CPU request 0 or a zero-length run)",
}
_KEY = ["job_id", "task_index"]


def load_google_tasks(
    trace_dir: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    rate_scale: float = 1.0,
    cycles_per_cpu_second: float = CYCLES_PER_CPU_SECOND,
    bits_per_memory: float = BITS_PER_MEMORY,
    mb_per_memory: float = MB_PER_MEMORY,
    output_ratio: float = DEFAULT_OUTPUT_RATIO,
) -> TaskStream:
    """The IoT task stream of a window of a Google 2011 trace (module docstring).

    Args:
        trace_dir: Directory holding ``task_events/``.
        start: Window start, seconds of trace time.
        duration: Window length in seconds; None reads the whole trace (every part: slow on the
            full 29 days).
        rate_scale: Speed-up of the arrivals (inter-arrival times are divided by it).
        cycles_per_cpu_second: Cycles per second of run per unit of normalised CPU request.
        bits_per_memory: Input bits per unit of normalised memory request.
        mb_per_memory: Task memory, MB per unit of normalised memory request.
        output_ratio: Output size as a share of the input.

    Returns:
        The tasks, in arrival order; put them on a topology with :meth:`TaskStream.on`.

    Raises:
        FileNotFoundError: The directory or its ``task_events/`` is missing.
        TraceFormatError: A part file is malformed (file, line, field and value named).
        ValueError: A bad argument, or no task of the window is usable.

    Warns:
        TraceWarning: If tasks of the window were left out (the counts per reason).
    """
    root = Path(trace_dir)
    check_window(str(root), start, duration, rate_scale)
    check_figure("cycles_per_cpu_second", cycles_per_cpu_second, positive=True)
    for name, value in (("bits_per_memory", bits_per_memory), ("mb_per_memory", mb_per_memory),
                        ("output_ratio", output_ratio)):
        check_figure(name, value)
    end_us = None if duration is None else int(math.ceil((start + duration) * _MICROSECONDS))
    events, parts = read_task_events(root, end_us)
    _check_priorities(events, parts)

    first = events.groupby(_KEY, sort=False).head(1)  # events are in time order
    first = first[first["timestamp"] > 0]  # time 0: tasks from before the trace, not arrivals
    inside = window_mask(str(root), first["timestamp"].to_numpy() / _MICROSECONDS, start, duration)
    first = first[inside]
    tasks = first.set_index(_KEY)[["timestamp", "event_type", "part", "line"]].rename(
        columns={"timestamp": "arrival_us"})
    tasks = tasks.join(_runs(events, tasks.index)).join(
        events.groupby(_KEY, sort=False)[["cpu_request", "memory_request", "priority"]].last())
    duration_us = tasks["finish_us"] - tasks["schedule_us"]
    reasons = {
        "tasks_without_submit": tasks["event_type"] != SUBMIT,
        "tasks_not_finished": tasks["finish_us"].isna(),
        "tasks_finished_unscheduled": tasks["schedule_us"].isna(),
        "tasks_missing_request": tasks["cpu_request"].isna() | tasks["memory_request"].isna(),
        "tasks_missing_priority": tasks["priority"].isna(),
        "tasks_without_work": (tasks["cpu_request"] == 0) | (duration_us == 0),
    }
    _warn_skipped(root, tasks, reasons, parts)
    kept_mask = ~np.logical_or.reduce([mask.to_numpy() for mask in reasons.values()])
    if not kept_mask.any():
        raise ValueError(f"{root}: none of the {len(tasks)} tasks submitted in the window is "
                         "usable (see the warning for the reasons)")
    kept = tasks[kept_mask]
    run_s = duration_us[kept_mask].to_numpy() / _MICROSECONDS
    memory = kept["memory_request"].to_numpy()
    input_bits = bits_per_memory * memory
    priority = kept["priority"].to_numpy()
    jobs = kept.index.get_level_values("job_id").to_numpy()
    unique_jobs, job_row = np.unique(jobs, return_inverse=True)
    return TaskStream(
        arrival=(kept["arrival_us"].to_numpy() / _MICROSECONDS - start) / rate_scale,
        cycles=cycles_per_cpu_second * kept["cpu_request"].to_numpy() * run_s,
        input_bits=input_bits,
        memory_mb=mb_per_memory * memory,
        output_bits=output_ratio * input_bits,
        qos=np.select([priority >= 9, priority >= 2], [0, 1], 2).astype(np.int64),
        key=stable_keys(str(job) for job in unique_jobs)[job_row],
        deadline_s=None,
        source=str(root),
    )


def _check_priorities(events: pd.DataFrame, parts: list[Path]) -> None:
    """Refuses a priority outside the schema's 0-11 (the snapshot loader does not use the bound)."""
    bad = np.flatnonzero((events["priority"] > MAX_PRIORITY).to_numpy())
    if bad.size:
        row = events.iloc[int(bad[0])]
        raise TraceFormatError(
            f"{parts[int(row['part'])]}: line {int(row['line'])}, field 'priority' (column 9): "
            f"expected a value from 0 to {MAX_PRIORITY}, got {int(row['priority'])}")


def _runs(events: pd.DataFrame, tasks: pd.MultiIndex) -> pd.DataFrame:
    """Per task of ``tasks``: its first FINISH and the last SCHEDULE at or before it (µs, NaN if
    none)."""
    mine = events[pd.MultiIndex.from_frame(events[_KEY]).isin(tasks)]
    finishes = mine[mine["event_type"] == FINISH].groupby(_KEY, sort=False)["timestamp"]
    finish = finishes.min().rename("finish_us")
    scheduled = mine[mine["event_type"] == SCHEDULE][[*_KEY, "timestamp"]].join(finish, on=_KEY)
    scheduled = scheduled[scheduled["timestamp"] <= scheduled["finish_us"]]
    schedule = scheduled.groupby(_KEY, sort=False)["timestamp"].max().rename("schedule_us")
    return pd.concat([finish, schedule], axis=1)


def _warn_skipped(root: Path, tasks: pd.DataFrame, reasons: dict[str, pd.Series],
                  parts: list[Path]) -> None:
    """One TraceWarning with the count per reason (each task under its first), if any was left
    out."""
    taken = np.zeros(len(tasks), bool)
    items = []
    for kind, mask in reasons.items():
        mine = mask.to_numpy() & ~taken
        taken |= mine
        if mine.any():
            first = tasks[mine].iloc[0]
            items.append(f"{_DESCRIPTIONS[kind]}: {int(mine.sum())}, first at "
                         f"{parts[int(first['part'])]}: line {int(first['line'])}")
    if items:
        warnings.warn(f"{root}: of {len(tasks)} tasks submitted in the window, left out "
                      + "; ".join(items) + " (rules: schedgym.data.iot_google)", TraceWarning,
                      stacklevel=3)


def summary(stream: TaskStream) -> str:
    """Basic figures of a stream: tasks, arrival rate, work and input ranges, QoS shares."""
    span = float(stream.arrival[-1] - stream.arrival[0])
    rate = f"{(stream.num_tasks - 1) / span:.3f} tasks/s" if span > 0 else "all at once"
    shares = np.bincount(stream.qos, minlength=3) / stream.num_tasks
    return "\n".join([
        f"{stream.source}: {stream.num_tasks} tasks over {span:.1f} s ({rate})",
        f"cycles: min {stream.cycles.min():.3g}, median {np.median(stream.cycles):.3g}, "
        f"max {stream.cycles.max():.3g}",
        f"input bits: min {stream.input_bits.min():.3g}, "
        f"median {np.median(stream.input_bits):.3g}, max {stream.input_bits.max():.3g}",
        "QoS shares (critical, standard, best effort): " + ", ".join(f"{s:.3f}" for s in shares),
    ])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Summarise the IoT task stream of a Google 2011 trace.")
    parser.add_argument("trace_dir", help="directory holding task_events/")
    parser.add_argument("--start", type=float, default=0.0, help="window start, trace seconds")
    parser.add_argument("--duration", type=float, default=None, help="window length, seconds")
    args = parser.parse_args(argv)
    print(summary(load_google_tasks(args.trace_dir, start=args.start, duration=args.duration)))


__all__ = ["load_google_tasks", "SKIP_REASONS", "CYCLES_PER_CPU_SECOND", "BITS_PER_MEMORY",
           "MB_PER_MEMORY", "summary"]


if __name__ == "__main__":
    main()
