"""Snapshot of a Google cluster-data 2011 trace: the machines alive and the tasks running at one time.

Reads the official ``clusterdata-2011-2`` layout described in Reiss, Wilkes, Hellerstein,
"Google cluster-usage traces: format + schema", 2011. A trace directory holds ``machine_events/`` and
``task_events/``; each holds ``part-NNNNN-of-NNNNN.csv.gz`` (or plain ``.csv``) files: CSV without a
header, read in sorted name order. Times are microseconds (0 = before the trace began); CPU and
memory are normalised so that the largest machine has 1.0.

Semantics of :func:`load_snapshot` at time ``t`` (events after ``t`` are ignored):

* A machine is alive if its last event at or before ``t`` is an ADD or UPDATE, not a REMOVE; its
  platform, CPU and memory are the latest non-empty values from its ADD/UPDATE events.
* Events are ordered by timestamp, ties by their order in the files. A task (job ID, task index)
  runs at ``t`` if its last event at or before ``t`` is SCHEDULE or UPDATE_RUNNING and it has been
  scheduled at least once; its machine is the one of its last SCHEDULE, and its requests,
  priority and different-machines flag are the latest non-empty values of any of its events.
  An empty flag means no restriction; an empty priority becomes -1.
* Part files are assumed to be in time order, as in the official trace: reading stops after the
  first part that starts after ``t``.

Every problem in the files raises :class:`TraceFormatError` naming the file and, where it applies,
the 1-based line, the field and the bad value. Columns the snapshot does not use (missing info,
user, scheduling class, disk request) must be present but are not validated. Integers are handled
as float64 internally, which is exact for the trace's IDs and timestamps (all below 2**53).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MACHINE_COLUMNS = ("timestamp", "machine_id", "event_type", "platform", "cpu", "memory")
TASK_COLUMNS = (
    "timestamp",
    "missing_info",
    "job_id",
    "task_index",
    "machine_id",
    "event_type",
    "user",
    "scheduling_class",
    "priority",
    "cpu_request",
    "memory_request",
    "disk_request",
    "different_machines",
)

_MACHINE_REMOVE = 1
_MACHINE_EVENT_MAX = 2  # ADD, REMOVE, UPDATE
_TASK_SCHEDULE = 1
_TASK_UPDATE_RUNNING = 8
_TASK_EVENT_MAX = 8  # SUBMIT ... UPDATE_RUNNING

_TASK_KEY = ["job_id", "task_index"]
_TASK_STATE = [
    "event_type",
    "machine_id",
    "cpu_request",
    "memory_request",
    "different_machines",
    "priority",
]

_PART_NAME = re.compile(r"part-.+\.csv(\.gz)?")
_PART_PATTERN = "part-*.csv.gz or part-*.csv"
_EXACT_INTEGER_LIMIT = 2.0**53
_CAPACITY_TOLERANCE = 1e-9  # normalised values are rounded in the trace; allow float noise above 1.0
_GZIP_MAGIC = b"\x1f\x8b"
_NEWLINE = ord("\n")
_COMMA = ord(",")

SKIP_REASONS = (
    "machines_missing_capacity",
    "tasks_without_schedule",
    "tasks_missing_request",
    "tasks_on_unknown_machine",
)


class TraceFormatError(ValueError):
    """A trace file does not follow the clusterdata-2011 format; the message says where and why."""


@dataclass(frozen=True)
class ClusterSnapshot:
    """The cluster at one instant of a trace.

    Attributes:
        time_us: Snapshot time in microseconds of trace time.
        machines: One row per machine alive at ``time_us`` with known CPU and memory, sorted by
            ``machine_id``; columns ``machine_id`` (int64), ``platform`` (str, "" if never given),
            ``cpu`` and ``memory`` (float64, normalised).
        tasks: One row per task running at ``time_us`` on a machine in ``machines`` with known
            requests, sorted by (``machine_id``, ``job_id``, ``task_index``); columns ``job_id``,
            ``task_index``, ``machine_id`` (int64), ``cpu_request``, ``memory_request`` (float64),
            ``different_machines`` (bool) and ``priority`` (int64, -1 if never given).
        skipped: How many machines or tasks were dropped, per reason (every key of
            :data:`SKIP_REASONS`, zero included). A dropped task counts under its first reason in
            the order: never scheduled, missing request, machine not in ``machines``.
    """

    time_us: int
    machines: pd.DataFrame
    tasks: pd.DataFrame
    skipped: dict[str, int]


def load_snapshot(trace_dir: str | os.PathLike, time_us: int | None = None) -> ClusterSnapshot:
    """Reads a clusterdata-2011 trace directory and returns the cluster at ``time_us``.

    Args:
        trace_dir: Directory holding ``machine_events/`` and ``task_events/``.
        time_us: Snapshot time in microseconds; None means the end of the task_events files read
            (their latest timestamp).

    Returns:
        The snapshot; see :class:`ClusterSnapshot` and the module docstring for the semantics.

    Raises:
        FileNotFoundError: ``trace_dir`` or one of its two folders is missing, or a folder has no
            part files.
        TraceFormatError: A part file is malformed (the message names file, line, field and value),
            or ``time_us`` is None and task_events holds no events.
        ValueError: ``time_us`` is negative.
    """
    if time_us is not None and time_us < 0:
        raise ValueError(f"time_us must be >= 0, got {time_us}")
    root = Path(trace_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: trace directory not found")
    # Find both folders' parts before reading anything, so layout mistakes surface immediately.
    machine_parts = _part_files(root / "machine_events")
    task_parts = _part_files(root / "task_events")

    state, end_us = _task_state(task_parts, time_us)
    if time_us is None:
        if end_us is None:
            raise TraceFormatError(f"{root / 'task_events'}: no events, so pass time_us explicitly")
        time_us = end_us
    machines, machines_skipped = _machines_at(machine_parts, time_us)
    tasks, skipped = _running_tasks(state, machines)
    return ClusterSnapshot(
        time_us=int(time_us),
        machines=machines,
        tasks=tasks,
        skipped={"machines_missing_capacity": machines_skipped, **skipped},
    )


def _part_files(folder: Path) -> list[Path]:
    """Lists a table folder's part files in name order, which is time order in the trace."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: folder not found (a trace directory needs machine_events/ and task_events/)"
        )
    parts = sorted(p for p in folder.iterdir() if p.is_file() and _PART_NAME.fullmatch(p.name))
    if not parts:
        raise FileNotFoundError(f"{folder}: no part files; expected files named {_PART_PATTERN}")
    # A part kept both compressed and decompressed would count every event twice.
    stems = [path.name.removesuffix(".gz") for path in parts]
    doubled = sorted({stem for stem in stems if stems.count(stem) > 1})
    if doubled:
        raise TraceFormatError(
            f"{folder}: {doubled[0]} and {doubled[0]}.gz are both present; keep only one"
        )
    return parts


def _read_bytes(path: Path) -> bytes:
    """Returns a part's decompressed content, with corrupt gzip reported as a TraceFormatError."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            try:
                return stream.read()
            except (OSError, EOFError, zlib.error) as exc:
                raise TraceFormatError(f"{path}: not a valid gzip file ({exc})") from exc
    raw = path.read_bytes()
    if raw.startswith(_GZIP_MAGIC):
        raise TraceFormatError(f"{path}: content is gzip-compressed; name the file .csv.gz")
    return raw


class _Fields:
    """The raw text fields of one part file, with validators that report the first bad line."""

    def __init__(self, path: Path, columns: Sequence[str], frame: pd.DataFrame) -> None:
        self.path = path
        self.columns = list(columns)
        self.frame = frame

    def fail_first(self, bad: np.ndarray, column: str, reason: str) -> None:
        """Raises a TraceFormatError for the first row flagged in ``bad``, if any.

        Args:
            bad: Boolean array, one entry per line of the file.
            column: Name of the field checked.
            reason: What the field should have held.
        """
        rows = np.flatnonzero(bad)
        if rows.size:
            row = int(rows[0])
            value = self.frame[column].iat[row]
            number = self.columns.index(column) + 1
            raise TraceFormatError(
                f"{self.path}: line {row + 1}, field {column!r} (column {number}): "
                f"{reason}, got {value!r}"
            )

    def _empty_and_numbers(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        text = self.frame[column]
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return (text == "").to_numpy(dtype=bool), numbers

    def integers(
        self, column: str, *, optional: bool = False, maximum: int | None = None
    ) -> np.ndarray:
        """Parses a non-negative integer field.

        Args:
            column: Field name.
            optional: Whether the field may be empty (then NaN in the result).
            maximum: Largest valid value (event types), if bounded.

        Returns:
            float64 values, NaN where empty.
        """
        empty, values = self._empty_and_numbers(column)
        if not optional:
            self.fail_first(empty, column, "required field is empty")
        whole = np.isfinite(values) & (values == np.floor(values))
        valid = whole & (values >= 0) & (values < _EXACT_INTEGER_LIMIT)
        self.fail_first(~empty & ~valid, column, "expected a non-negative integer")
        if maximum is not None:
            self.fail_first(values > maximum, column, f"expected a value from 0 to {maximum}")
        return values

    def fractions(self, column: str) -> np.ndarray:
        """Parses an optional normalised CPU or memory field; returns float64, NaN where empty."""
        empty, values = self._empty_and_numbers(column)
        self.fail_first(~empty & np.isnan(values), column, "expected a number")
        in_range = (values >= 0) & (values <= 1.0 + _CAPACITY_TOLERANCE)
        self.fail_first(~empty & ~in_range, column, "expected a normalised value in [0, 1]")
        return np.minimum(values, 1.0)

    def flags(self, column: str) -> np.ndarray:
        """Parses an optional 0/1 field; returns float64 0.0/1.0, NaN where empty."""
        text = self.frame[column]
        valid = text.isin(("", "0", "1")).to_numpy(dtype=bool)
        self.fail_first(~valid, column, "expected 0, 1 or empty")
        empty = (text == "").to_numpy(dtype=bool)
        return np.where(empty, np.nan, (text == "1").to_numpy(dtype=np.float64))

    def text(self, column: str) -> pd.Series:
        """Returns a string field with empty values as missing."""
        text = self.frame[column]
        return text.where(text != "")


def _read_fields(path: Path, columns: Sequence[str]) -> _Fields:
    """Reads one part file as text fields after checking every line has ``len(columns)`` fields."""
    raw = _read_bytes(path)
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")  # tolerate files converted to Windows line endings
    buf = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(buf == _NEWLINE)
    if buf.size and buf[-1] != _NEWLINE:
        ends = np.append(ends, buf.size)  # last line without a trailing newline
    # Count commas per line without a Python loop: each comma belongs to the next line end.
    commas = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == _COMMA)), minlength=ends.size)
    wrong = np.flatnonzero(commas != len(columns) - 1)
    if wrong.size:
        line = int(wrong[0])
        start = int(ends[line - 1]) + 1 if line else 0
        text = raw[start : int(ends[line])].decode("utf-8", "replace")
        _raise_column_count(path, columns, line + 1, text)
    if not ends.size:
        frame = pd.DataFrame({column: pd.Series(dtype=str) for column in columns})
    else:
        # QUOTE_NONE and "\n" only as terminator keep pandas' rows identical to the lines counted above.
        frame = pd.read_csv(
            io.BytesIO(raw),
            header=None,
            names=list(columns),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            lineterminator="\n",
            skip_blank_lines=False,
            encoding_errors="replace",
        )
    return _Fields(path, columns, frame)


def _raise_column_count(path: Path, columns: Sequence[str], line_number: int, line: str) -> None:
    """Raises the TraceFormatError for a line with the wrong number of fields."""
    found = line.count(",") + 1
    if found < len(columns):
        detail = f"fields from {columns[found]!r} on are missing"
    else:
        detail = f"unexpected fields after {columns[-1]!r}"
    shown = line if len(line) <= 120 else line[:117] + "..."
    raise TraceFormatError(
        f"{path}: line {line_number}: expected {len(columns)} comma-separated fields "
        f"({', '.join(columns)}), found {found}; {detail}: {shown!r}"
    )


def _parse_machine_events(fields: _Fields) -> pd.DataFrame:
    """Validates and types the machine_events fields."""
    return pd.DataFrame(
        {
            "timestamp": fields.integers("timestamp"),
            "machine_id": fields.integers("machine_id").astype(np.int64),
            "event_type": fields.integers("event_type", maximum=_MACHINE_EVENT_MAX).astype(np.int64),
            "platform": fields.text("platform"),
            "cpu": fields.fractions("cpu"),
            "memory": fields.fractions("memory"),
        }
    )


def _parse_task_events(fields: _Fields) -> pd.DataFrame:
    """Validates and types the task_events fields the snapshot uses."""
    events = pd.DataFrame(
        {
            "timestamp": fields.integers("timestamp"),
            "job_id": fields.integers("job_id").astype(np.int64),
            "task_index": fields.integers("task_index").astype(np.int64),
            "machine_id": fields.integers("machine_id", optional=True),
            "event_type": fields.integers("event_type", maximum=_TASK_EVENT_MAX).astype(np.int64),
            "priority": fields.integers("priority", optional=True),
            "cpu_request": fields.fractions("cpu_request"),
            "memory_request": fields.fractions("memory_request"),
            "different_machines": fields.flags("different_machines"),
        }
    )
    # SUBMIT and pending events legitimately lack a machine; a SCHEDULE without one is unusable.
    unplaced = (events["event_type"] == _TASK_SCHEDULE) & events["machine_id"].isna()
    fields.fail_first(unplaced.to_numpy(), "machine_id", "required on a SCHEDULE event but empty")
    return events


def _read_events(
    parts: Sequence[Path],
    columns: Sequence[str],
    parse: Callable[[_Fields], pd.DataFrame],
    time_us: int | None,
) -> Iterator[pd.DataFrame]:
    """Yields each part's events at or before ``time_us`` (all if None), sorted by timestamp.

    The sort is stable, so simultaneous events keep their file order. Yields at least one frame.
    """
    for path in parts:
        events = parse(_read_fields(path, columns)).sort_values("timestamp", kind="stable")
        if time_us is None:
            yield events
            continue
        yield events[events["timestamp"] <= time_us]
        # Parts are in time order: once one starts after time_us, the rest do too.
        if len(events) and events["timestamp"].iat[0] > time_us:
            return


def _task_state(parts: Sequence[Path], time_us: int | None) -> tuple[pd.DataFrame, int | None]:
    """Folds task events into one row per task: last event type and latest non-empty values.

    ``machine_id`` in the result is that of the task's last SCHEDULE (NaN if none). Each part is
    reduced on its own first, so memory follows the number of tasks rather than of events.

    Returns:
        The state indexed by (job_id, task_index), and the latest timestamp read (None if none).
    """
    summaries = []
    end_us: int | None = None
    for events in _read_events(parts, TASK_COLUMNS, _parse_task_events, time_us):
        if len(events):
            end_us = max(end_us or 0, int(events["timestamp"].iat[-1]))
        scheduled_on = events["machine_id"].where(events["event_type"] == _TASK_SCHEDULE)
        # groupby.last skips NaN per column: the latest non-empty value, event type never empty.
        by_task = events.assign(machine_id=scheduled_on).groupby(_TASK_KEY, sort=False)
        summaries.append(by_task[_TASK_STATE].last())
    return pd.concat(summaries).groupby(level=_TASK_KEY, sort=False).last(), end_us


def _machines_at(parts: Sequence[Path], time_us: int) -> tuple[pd.DataFrame, int]:
    """Returns the machines alive at ``time_us`` with known capacity, and how many lacked it."""
    events = pd.concat(list(_read_events(parts, MACHINE_COLUMNS, _parse_machine_events, time_us)))
    removed = events["event_type"] == _MACHINE_REMOVE
    latest = (
        events.assign(
            platform=events["platform"].mask(removed),
            cpu=events["cpu"].mask(removed),
            memory=events["memory"].mask(removed),
        )
        .groupby("machine_id", sort=True)
        .last()
    )
    alive = latest[latest["event_type"] != _MACHINE_REMOVE]
    known = alive["cpu"].notna() & alive["memory"].notna()
    machines = alive.loc[known, ["platform", "cpu", "memory"]].reset_index()
    machines["platform"] = machines["platform"].fillna("").astype(str)
    return machines, int((~known).sum())


def _running_tasks(state: pd.DataFrame, machines: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Selects the running tasks placeable on ``machines``; counts the others per reason."""
    running = state[state["event_type"].isin((_TASK_SCHEDULE, _TASK_UPDATE_RUNNING))]
    no_schedule = running["machine_id"].isna()
    missing_request = ~no_schedule & (running["cpu_request"].isna() | running["memory_request"].isna())
    placed = running["machine_id"].isin(machines["machine_id"])
    unknown_machine = ~no_schedule & ~missing_request & ~placed
    kept = running[~(no_schedule | missing_request | unknown_machine)].reset_index()
    tasks = pd.DataFrame(
        {
            "job_id": kept["job_id"].astype(np.int64),
            "task_index": kept["task_index"].astype(np.int64),
            "machine_id": kept["machine_id"].astype(np.int64),
            "cpu_request": kept["cpu_request"].astype(np.float64),
            "memory_request": kept["memory_request"].astype(np.float64),
            "different_machines": kept["different_machines"].fillna(0.0) == 1.0,
            "priority": kept["priority"].fillna(-1).astype(np.int64),
        }
    )
    tasks = tasks.sort_values(["machine_id", "job_id", "task_index"], kind="stable", ignore_index=True)
    skipped = {
        "tasks_without_schedule": int(no_schedule.sum()),
        "tasks_missing_request": int(missing_request.sum()),
        "tasks_on_unknown_machine": int(unknown_machine.sum()),
    }
    return tasks, skipped
