"""Snapshot of a Google cluster-data 2011 trace: the machines alive and the tasks running at one time.

Reads the official ``clusterdata-2011-2`` layout described in Reiss, Wilkes, Hellerstein,
"Google cluster-usage traces: format + schema", 2011. A trace directory holds ``machine_events/`` and
``task_events/``; each holds ``part-NNNNN-of-NNNNN.csv.gz`` (or plain ``.csv``) files: CSV without a
header, read in sorted name order. Times are microseconds (0 = before the trace began); CPU and
memory are normalised so that the largest machine has 1.0.

Semantics of :func:`load_snapshot` at time ``t`` (events after ``t`` are ignored):

* Events are ordered by timestamp, ties by their order in the files.
* A machine is alive if its last event at or before ``t`` is an ADD or UPDATE, not a REMOVE, and it
  was ADDed since its last REMOVE. Its platform, CPU and memory are the latest non-empty values
  from its ADD/UPDATE events since its last REMOVE: a REMOVE forgets the capacity, so a machine
  re-added with empty fields has unknown capacity (and is skipped).
* A task (job ID, task index) follows the schema's state machine: SCHEDULE makes it run on the
  event's machine; SUBMIT, EVICT, FAIL, FINISH, KILL and LOST make it not run; UPDATE_PENDING and
  UPDATE_RUNNING leave that unchanged. It runs at ``t`` if its last SCHEDULE is later than its last
  other state change. Its requests, priority and different-machines flag are the latest non-empty
  values of any of its events. An empty flag means no restriction; an empty priority becomes -1.

Rules for bad input, which every loader of this package follows:

* **Errors** (:class:`TraceFormatError`, naming the file and, where it applies, the 1-based line,
  the field and the value): what makes a file unreadable or its meaning as a whole doubtful. A
  line without the table's number of fields; a value that does not parse or lies outside its
  field's range (event types, normalised values in [0, 1], a machine capacity of 0, integers of
  2**53 or more); gzip problems; part files whose times go backwards from one part to the next
  (the loader folds parts in name order and stops at the first part after ``t``, so a misnamed part
  would silently drop or reorder events); a table whose parts hold no events at all.
* **Tolerated irregularities** (counted, never silent): what concerns one machine or task and has
  one reasonable resolution. Each is applied as documented, counted in the snapshot (``skipped``
  for machines and tasks left out, ``irregularities`` for events resolved), and every load with a
  non-zero count issues one :class:`TraceWarning` giving the counts and, for events, the file and
  line of the first one. Promote it to an error with ``warnings.simplefilter("error", TraceWarning)``.
  The irregular events (:data:`IRREGULARITIES`) are transitions the state machine does not allow:
  the later event wins for SCHEDULE or SUBMIT (a task scheduled again while running moves to the
  new machine; one submitted while running stops running), and an UPDATE never changes whether a
  task runs or a machine is alive (its values still apply). Left out (:data:`SKIP_REASONS`):
  machines of unknown capacity, tasks of unknown requests, and running tasks whose machine is
  removed, of unknown capacity or unknown at ``t``.
* Columns the snapshot does not use (missing info, user, scheduling class, disk request) must be
  present but are not validated. Integers are handled as float64 internally, exact below 2**53
  (the trace's IDs and timestamps are far below); the timestamp 2**63 - 1, which the schema uses
  for events after the end of the trace window, is read as later than any ``t``.
* Parts after the first one that starts after ``t`` are not read, so neither are they checked.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import warnings
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

_MACHINE_ADD, _MACHINE_REMOVE, _MACHINE_UPDATE = 0, 1, 2
_MACHINE_EVENT_MAX = 2
_TASK_SUBMIT, _TASK_SCHEDULE = 0, 1
_TASK_UPDATE_PENDING, _TASK_UPDATE_RUNNING = 7, 8
_TASK_EVENT_MAX = 8  # SUBMIT ... UPDATE_RUNNING
# Whether a task runs after each event type; NaN: the event (an UPDATE) does not change it.
_RUNS_AFTER = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan, np.nan])

_TASK_KEY = ["job_id", "task_index"]
_TASK_STATE = [
    "runs",
    "machine_id",
    "cpu_request",
    "memory_request",
    "different_machines",
    "priority",
]

_PART_NAME = re.compile(r"part-.+\.csv(\.gz)?")
_PART_PATTERN = "part-*.csv.gz or part-*.csv"
_EXACT_INTEGER_LIMIT = 2.0**53
_AFTER_TRACE_WINDOW = "9223372036854775807"  # 2**63 - 1: "after the end of the trace window"
_CAPACITY_TOLERANCE = 1e-9  # normalised values are rounded in the trace; allow float noise above 1.0
_GZIP_MAGIC = b"\x1f\x8b"
_NEWLINE = ord("\n")
_COMMA = ord(",")

SKIP_REASONS = (
    "machines_missing_capacity",
    "tasks_missing_request",
    "tasks_on_removed_machine",
    "tasks_on_machine_missing_capacity",
    "tasks_on_unknown_machine",
)

# Irregular task events: (event type, whether it is irregular when the task runs or when it does not).
_IRREGULAR_TASK_EVENTS = {
    "schedule_while_running": (_TASK_SCHEDULE, True),
    "submit_while_running": (_TASK_SUBMIT, True),
    "update_pending_while_running": (_TASK_UPDATE_PENDING, True),
    "update_running_while_not_running": (_TASK_UPDATE_RUNNING, False),
}
IRREGULARITIES = (*_IRREGULAR_TASK_EVENTS, "machine_update_while_removed")

_DESCRIPTIONS = {
    "machines_missing_capacity": "machines of unknown CPU or memory left out",
    "tasks_missing_request": "running tasks of unknown CPU or memory request left out",
    "tasks_on_removed_machine": "running tasks on a removed machine left out",
    "tasks_on_machine_missing_capacity": "running tasks on a machine of unknown capacity left out",
    "tasks_on_unknown_machine": "running tasks on a machine without events by then left out",
    "schedule_while_running": "SCHEDULE events of running tasks (moved to the later machine)",
    "submit_while_running": "SUBMIT events of running tasks (no longer running)",
    "update_pending_while_running": "UPDATE_PENDING events of running tasks (state unchanged)",
    "update_running_while_not_running": "UPDATE_RUNNING events of tasks not running (state unchanged)",
    "machine_update_while_removed": "UPDATE events of machines not added since removal (still removed)",
}


class TraceFormatError(ValueError):
    """A trace file does not follow the clusterdata-2011 format; the message says where and why."""


class TraceWarning(UserWarning):
    """A trace holds tolerated irregularities; the message counts them (see the module docstring)."""


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
        skipped: How many machines or running tasks were left out, per reason (every key of
            :data:`SKIP_REASONS`, zero included). A task counts under its first reason in that
            order.
        irregularities: How many events at or before ``time_us`` were irregular and resolved, per
            kind (every key of :data:`IRREGULARITIES`, zero included).
        trace_dir: The directory read.
    """

    time_us: int
    machines: pd.DataFrame
    tasks: pd.DataFrame
    skipped: dict[str, int]
    irregularities: dict[str, int]
    trace_dir: Path


@dataclass
class _Occurrences:
    """Counts of irregular events per kind, and where the first of each kind was (file order)."""

    counts: dict[str, int]
    first: dict[str, tuple[int, int]]  # kind -> (part index, line)

    @classmethod
    def empty(cls) -> _Occurrences:
        return cls({kind: 0 for kind in IRREGULARITIES}, {})

    def add(self, kind: str, count: int, part: int, line: int) -> None:
        if count:
            self.counts[kind] += int(count)
            self.first[kind] = min(self.first.get(kind, (part, line)), (part, line))


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
        TraceFormatError: A part file is malformed (the message names file, line, field and
            value), parts are out of time order, or a table holds no events.
        ValueError: ``time_us`` is negative or not below 2**53.

    Warns:
        TraceWarning: If any machine or task was left out or any event was irregular.
    """
    if time_us is not None and not 0 <= time_us < _EXACT_INTEGER_LIMIT:
        raise ValueError(f"time_us must be >= 0 and below 2**53 microseconds, got {time_us}")
    root = Path(trace_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: trace directory not found")
    # Find both folders' parts before reading anything, so layout mistakes surface immediately.
    machine_parts = _part_files(root / "machine_events")
    task_parts = _part_files(root / "task_events")

    found = _Occurrences.empty()
    state, end_us = _task_state(task_parts, time_us, found)
    time_us = end_us if time_us is None else time_us
    machines, machine_status = _machines_at(machine_parts, time_us, found)
    tasks, skipped = _running_tasks(state, machines, machine_status)
    snapshot = ClusterSnapshot(
        time_us=int(time_us),
        machines=machines,
        tasks=tasks,
        skipped={"machines_missing_capacity": int((machine_status == "missing_capacity").sum()),
                 **skipped},
        irregularities=dict(found.counts),
        trace_dir=root,
    )
    _warn(snapshot, found, {"machine": machine_parts, "task": task_parts})
    return snapshot


def read_task_events(
    trace_dir: str | os.PathLike, time_us: int | None = None
) -> tuple[pd.DataFrame, list[Path]]:
    """The task events of a trace directory at or before ``time_us``, for loaders that need the
    events themselves (the IoT task stream of ``data.iot_google``). Only ``task_events/`` is read.

    Every part up to the first that starts after ``time_us`` is read and checked by this module's
    rules (the errors of :func:`load_snapshot`); events after the end of the trace window are left
    out, as there.

    Args:
        trace_dir: Directory holding ``task_events/``.
        time_us: Last time read, microseconds; None reads every part.

    Returns:
        The events in time order (ties in file order), columns ``timestamp`` (float64 us),
        ``job_id``, ``task_index``, ``event_type`` (int64), ``machine_id``, ``priority``,
        ``cpu_request``, ``memory_request``, ``different_machines`` (float64, NaN where empty),
        ``part`` (index into the second value) and ``line`` (1-based); and the part files.

    Raises:
        FileNotFoundError: ``trace_dir`` or ``task_events/`` is missing or has no part files.
        TraceFormatError: A part is malformed, parts are out of time order, or all are empty.
    """
    root = Path(trace_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: trace directory not found")
    parts = _part_files(root / "task_events")
    frames = list(_read_events(parts, TASK_COLUMNS, _parse_task_events, time_us))
    return pd.concat(frames, ignore_index=True), parts


def _warn(snapshot: ClusterSnapshot, found: _Occurrences, parts: dict[str, list[Path]]) -> None:
    """Issues one TraceWarning with every non-zero count of the snapshot, if there is one."""
    counts = {**snapshot.skipped, **snapshot.irregularities}
    if not any(counts.values()):
        return
    items = []
    for kind, count in counts.items():
        if not count:
            continue
        item = f"{_DESCRIPTIONS[kind]}: {count}"
        if kind in found.first:
            part, line = found.first[kind]
            table = "machine" if kind.startswith("machine_") else "task"
            item += f", first at {parts[table][part]}: line {line}"
        items.append(item)
    warnings.warn(
        f"{snapshot.trace_dir}: snapshot at t={snapshot.time_us} us: " + "; ".join(items)
        + " (rules: schedgym.data.google_cluster)",
        TraceWarning,
        stacklevel=3,
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
        self,
        column: str,
        *,
        optional: bool = False,
        maximum: int | None = None,
        exempt: np.ndarray | None = None,
    ) -> np.ndarray:
        """Parses a non-negative integer field below 2**53 (exact in float64).

        Args:
            column: Field name.
            optional: Whether the field may be empty (then NaN in the result).
            maximum: Largest valid value (event types), if bounded.
            exempt: Boolean array of lines not to check (special values the caller replaces).

        Returns:
            float64 values, NaN where empty.
        """
        empty, values = self._empty_and_numbers(column)
        checked = np.ones(len(values), bool) if exempt is None else ~exempt
        if not optional:
            self.fail_first(checked & empty, column, "required field is empty")
        whole = np.isfinite(values) & (values == np.floor(values)) & (values >= 0)
        self.fail_first(checked & ~empty & ~whole, column, "expected a non-negative integer")
        self.fail_first(
            checked & (values >= _EXACT_INTEGER_LIMIT), column,
            "expected an integer below 2**53 (integers are held as float64, exact only below)",
        )
        if maximum is not None:
            self.fail_first(values > maximum, column, f"expected a value from 0 to {maximum}")
        return values

    def timestamps(self) -> np.ndarray:
        """Parses the timestamp field: float64 microseconds, +inf for "after the trace window"."""
        after_window = (self.frame["timestamp"] == _AFTER_TRACE_WINDOW).to_numpy(dtype=bool)
        values = self.integers("timestamp", exempt=after_window)
        values[after_window] = np.inf
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
    events = pd.DataFrame(
        {
            "timestamp": fields.timestamps(),
            "machine_id": fields.integers("machine_id").astype(np.int64),
            "event_type": fields.integers("event_type", maximum=_MACHINE_EVENT_MAX).astype(np.int64),
            "platform": fields.text("platform"),
            "cpu": fields.fractions("cpu"),
            "memory": fields.fractions("memory"),
        }
    )
    # ADD and UPDATE describe a machine; a capacity of 0 would be no machine at all.
    describes = (events["event_type"] != _MACHINE_REMOVE).to_numpy()
    for column in ("cpu", "memory"):
        zero = describes & (events[column] == 0).to_numpy()
        fields.fail_first(zero, column, "a machine's capacity must be above 0")
    return events


def _parse_task_events(fields: _Fields) -> pd.DataFrame:
    """Validates and types the task_events fields the snapshot uses."""
    events = pd.DataFrame(
        {
            "timestamp": fields.timestamps(),
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
    """Yields each part's events at or before ``time_us`` (all if None), sorted by timestamp, with
    their ``part`` (index into ``parts``) and 1-based ``line``.

    The sort is stable, so simultaneous events keep their file order. Events after the end of the
    trace window (timestamp 2**63 - 1) are never yielded. Yields at least one frame.

    Raises:
        TraceFormatError: If a part has an event earlier than the last event of the part before,
            or if every part is empty.
    """
    previous_end, previous_path, lines = -np.inf, None, 0
    for index, path in enumerate(parts):
        events = parse(_read_fields(path, columns))
        lines += len(events)
        events["part"] = index
        events["line"] = np.arange(1, len(events) + 1)
        timestamps = events["timestamp"].to_numpy()
        in_window = np.isfinite(timestamps)
        early = np.flatnonzero(in_window & (timestamps < previous_end))
        if early.size:
            row = int(early[0])
            raise TraceFormatError(
                f"{path}: line {row + 1}, field 'timestamp' (column 1): {timestamps[row]:.0f} is "
                f"earlier than the last event of {previous_path.name} ({previous_end:.0f}); part "
                "files must be in time order when sorted by name, as in the official trace"
            )
        events = events[in_window].sort_values("timestamp", kind="stable")
        yield events if time_us is None else events[events["timestamp"] <= time_us]
        if len(events):
            previous_end, previous_path = events["timestamp"].iat[-1], path
            # Parts are in time order: once one starts after time_us, the rest do too.
            if time_us is not None and events["timestamp"].iat[0] > time_us:
                return
    if not lines:
        raise TraceFormatError(
            f"{parts[0].parent}: its {len(parts)} part file(s) hold no events "
            "(an interrupted download or the wrong folder?)"
        )


def _runs_before(events: pd.DataFrame) -> np.ndarray:
    """Whether each task runs just before each of its events (1.0 / 0.0), as far as ``events``
    (one part, in time order) tell; NaN where that depends on earlier parts."""
    n = len(events)
    rows = np.arange(n)
    jobs, indices = events["job_id"].to_numpy(), events["task_index"].to_numpy()
    order = np.lexsort((rows, indices, jobs))  # task by task, each in time order
    jobs, indices = jobs[order], indices[order]
    first = np.ones(n, bool)
    first[1:] = (jobs[1:] != jobs[:-1]) | (indices[1:] != indices[:-1])
    group_start = np.maximum.accumulate(np.where(first, rows, 0))
    change = _RUNS_AFTER[events["event_type"].to_numpy()[order]]
    last_change = np.maximum.accumulate(np.where(np.isnan(change), -1, rows))
    after = np.where(last_change >= group_start, change[np.maximum(last_change, 0)], np.nan)
    before = np.empty(n)
    before[1:] = after[:-1]
    before[first] = np.nan
    result = np.empty(n)
    result[order] = before
    return result


def _first_location(events: pd.DataFrame) -> tuple[int, int]:
    """(part, line) of the first of ``events`` in file order."""
    first = events[["part", "line"]].sort_values(["part", "line"]).iloc[0]
    return int(first["part"]), int(first["line"])


def _count_irregular(flagged: pd.DataFrame, runs: np.ndarray, found: _Occurrences) -> None:
    """Adds the irregular events among ``flagged`` (columns event_type, part, line and, if
    present, count) given whether their task ran just before each (``runs``, 1.0 / 0.0)."""
    counts = flagged["count"] if "count" in flagged else pd.Series(1, index=flagged.index)
    for kind, (event_type, when_running) in _IRREGULAR_TASK_EVENTS.items():
        bad = ((flagged["event_type"] == event_type) & (runs == float(when_running))).to_numpy()
        if bad.any():
            found.add(kind, counts[bad].sum(), *_first_location(flagged[bad]))


def _task_state(
    parts: Sequence[Path], time_us: int | None, found: _Occurrences
) -> tuple[pd.DataFrame, int]:
    """Folds task events into one row per task: whether it runs at the end, the machine of its
    last SCHEDULE (NaN if none), and the latest non-empty values; irregular events go to ``found``.

    Each part is reduced on its own first, so memory follows the number of tasks rather than of
    events. Within a part, whether a task ran before an event is known once the part has changed
    its state; the events before that (at most one state change and some updates per task) are
    judged after all parts are read, from the state each task had when the part began.

    Returns:
        The state indexed by (job_id, task_index), and the latest timestamp read.

    Raises:
        TraceFormatError: If ``time_us`` is None and no event has a time within the trace window.
    """
    summaries, undecided = [], []
    end_us: int | None = None
    for events in _read_events(parts, TASK_COLUMNS, _parse_task_events, time_us):
        if len(events):
            end_us = max(end_us or 0, int(events["timestamp"].iat[-1]))
        runs = _runs_before(events)
        known = ~np.isnan(runs)
        _count_irregular(events[known], runs[known], found)
        may_be_irregular = events["event_type"].isin([t for t, _ in _IRREGULAR_TASK_EVENTS.values()])
        undecided.append(
            events[~known & may_be_irregular.to_numpy()]
            .groupby([*_TASK_KEY, "event_type", "part"], sort=False)["line"]
            .agg(["size", "min"])
            .rename(columns={"size": "count", "min": "line"})
            .reset_index()
        )
        scheduled_on = events["machine_id"].where(events["event_type"] == _TASK_SCHEDULE)
        runs_after = _RUNS_AFTER[events["event_type"].to_numpy()]
        # groupby.last skips NaN per column: the latest non-empty value, or the latest state change.
        by_task = events.assign(machine_id=scheduled_on, runs=runs_after).groupby(_TASK_KEY, sort=False)
        summaries.append(by_task[[*_TASK_STATE, "part"]].last())
    if end_us is None and time_us is None:
        raise TraceFormatError(f"{parts[0].parent}: no events within the trace window, so pass time_us")
    per_part = pd.concat(summaries)
    _count_undecided(pd.concat(undecided, ignore_index=True), per_part, found)
    state = per_part.groupby(level=_TASK_KEY, sort=False)[_TASK_STATE].last()
    return state, end_us if time_us is None else time_us


def _count_undecided(undecided: pd.DataFrame, per_part: pd.DataFrame, found: _Occurrences) -> None:
    """Judges the events whose task state came from earlier parts (see :func:`_task_state`)."""
    if undecided.empty:
        return
    by_task = per_part.groupby(level=_TASK_KEY, sort=False)["runs"]
    # State after each part (forward-filled over parts that left it unchanged), then at its start.
    after = by_task.ffill()
    at_start = after.groupby(level=_TASK_KEY, sort=False).shift(1).fillna(0.0)
    start = pd.DataFrame({"part": per_part["part"].to_numpy(), "runs": at_start.to_numpy()},
                         index=per_part.index).reset_index()
    judged = undecided.merge(start, on=[*_TASK_KEY, "part"], how="left", validate="many_to_one")
    _count_irregular(judged, judged["runs"].to_numpy(), found)


def _machines_at(
    parts: Sequence[Path], time_us: int, found: _Occurrences
) -> tuple[pd.DataFrame, pd.Series]:
    """The machines alive at ``time_us`` with known capacity, and the status of every machine
    with events by then (indexed by ID): "alive", "missing_capacity" or "removed"."""
    events = pd.concat(list(_read_events(parts, MACHINE_COLUMNS, _parse_machine_events, time_us)),
                       ignore_index=True)
    machine, kind = events["machine_id"], events["event_type"]
    removed = (kind == _MACHINE_REMOVE).astype(np.int64)
    # An event's epoch counts the REMOVEs before it; the current epoch follows the last REMOVE.
    epoch = removed.groupby(machine).cumsum() - removed
    current = epoch == removed.groupby(machine).transform("sum")
    added = (kind == _MACHINE_ADD).astype(np.int64).groupby([machine, epoch]).cummax() == 1
    stray = ((kind == _MACHINE_UPDATE) & ~added).to_numpy()
    if stray.any():
        found.add("machine_update_while_removed", int(stray.sum()), *_first_location(events[stray]))
    latest = events[current].groupby("machine_id", sort=True)[["platform", "cpu", "memory"]].last()
    alive = added[current].groupby(machine[current], sort=True).any()
    known = latest["cpu"].notna() & latest["memory"].notna()
    status = pd.Series("removed", index=pd.Index(machine.unique(), name="machine_id"))
    status[alive.index[alive & ~known]] = "missing_capacity"
    status[alive.index[alive & known]] = "alive"
    machines = latest.loc[alive & known].reset_index()
    machines["platform"] = machines["platform"].fillna("").astype(str)
    return machines, status


def _running_tasks(
    state: pd.DataFrame, machines: pd.DataFrame, machine_status: pd.Series
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Selects the running tasks placeable on ``machines``; counts the others per reason."""
    running = state[state["runs"] == 1.0]  # so it has a SCHEDULE, which always names a machine
    missing_request = running["cpu_request"].isna() | running["memory_request"].isna()
    status = running["machine_id"].astype(np.int64).map(machine_status)
    kept = running[~missing_request & (status == "alive")].reset_index()
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
    placed = ~missing_request
    skipped = {
        "tasks_missing_request": int(missing_request.sum()),
        "tasks_on_removed_machine": int((placed & (status == "removed")).sum()),
        "tasks_on_machine_missing_capacity": int((placed & (status == "missing_capacity")).sum()),
        "tasks_on_unknown_machine": int((placed & status.isna()).sum()),
    }
    return tasks, skipped
