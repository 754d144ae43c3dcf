"""Tests for data.google_cluster: snapshot semantics on a small hand-made trace, then bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from schedgym.data.google_cluster import SKIP_REASONS, ClusterSnapshot, TraceFormatError, load_snapshot

MACHINE_PART = "part-00000-of-00001.csv.gz"
TASK_PARTS = ("part-00000-of-00002.csv.gz", "part-00001-of-00002.csv")

# machine_events: timestamp, machine ID, event type (0 ADD, 1 REMOVE, 2 UPDATE), platform, CPUs, memory.
MACHINE_LINES = [
    "0,1,0,P1,0.5,0.5",
    "0,2,0,P2,1,1",
    "0,3,0,P1,0.25,0.25",
    "0,4,0,P1,,0.5",  # CPU unknown: never in a snapshot
    "400,2,1,P2,1,1",  # m2 removed
    "500,1,2,,,0.75",  # m1 update: memory only, platform kept
    "1500,3,2,P1,0.5,0.25",
    "2000,5,0,P3,0.5,0.5",
]


def task(
    ts: int | str,
    job: int | str,
    index: int,
    machine: str,
    event: int | str,
    prio: str = "9",
    cpu: str = "",
    mem: str = "",
    diff: str = "",
) -> str:
    """One task_events line; missing info, user, scheduling class and disk request are filler."""
    return f"{ts},,{job},{index},{machine},{event},user{job},2,{prio},{cpu},{mem},0.001,{diff}"


# task_events in two time-ordered parts. Event types: 0 SUBMIT, 1 SCHEDULE, 2 EVICT, 4 FINISH,
# 8 UPDATE_RUNNING.
TASK_LINES = (
    [
        task(0, 10, 0, "", 0, cpu="0.1", mem="0.1"),
        task(0, 10, 0, "1", 1, cpu="0.1", mem="0.1"),
        task(100, 10, 1, "", 0, cpu="0.2", mem="0.2"),
        task(100, 10, 1, "1", 1, cpu="0.2", mem="0.2"),  # finishes at 600
        task(100, 11, 0, "1", 1, prio="2", cpu="0.0625", mem="0.05"),  # evicted, then on m3
        task(100, 14, 0, "1", 1, prio="0", cpu="0.05", mem="0.02"),  # UPDATE_RUNNING at 800
        task(100, 15, 0, "3", 1, cpu="", mem="0.01"),  # no CPU request
        task(100, 16, 0, "2", 1, cpu="0.1", mem="0.1"),  # m2 is removed at 400
        task(100, 17, 0, "4", 1, cpu="0.1", mem="0.1"),  # m4 has no known CPU
        task(100, 18, 0, "1", 1, prio="", cpu="0.03", mem="0.04"),  # no priority
        task(200, 13, 0, "3", 1, cpu="0.125", mem="0.1", diff="1"),
        task(300, 11, 0, "1", 2, prio="2"),
        task(300, 11, 0, "", 0, prio="2"),  # same time as the EVICT, later in the file
        task(400, 19, 0, "", 8, cpu="0.1", mem="0.1"),  # running without any SCHEDULE
    ],
    [
        task(600, 10, 1, "1", 4),
        task(700, 11, 0, "3", 1, prio="2"),
        task(800, 14, 0, "1", 8, prio="0", cpu="0.08", mem=""),
        task(900, 12, 0, "", 0, cpu="0.1", mem="0.2"),
        task(1200, 12, 0, "3", 1),  # after t=1000
        task(1600, 10, 0, "1", 4),  # last task event: the default snapshot time
    ],
)

TASK_COLUMNS_OUT = {
    "job_id": "int64",
    "task_index": "int64",
    "machine_id": "int64",
    "cpu_request": "float64",
    "memory_request": "float64",
    "different_machines": "bool",
    "priority": "int64",
}


def write_part(path: Path, lines: list[str], newline: str = "\n") -> None:
    """Writes lines as a part file, gzip-compressed if the name ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = "".join(line + newline for line in lines).encode()
    path.write_bytes(gzip.compress(content) if path.name.endswith(".gz") else content)


def write_trace(
    root: Path,
    machine_lines: list[str] = MACHINE_LINES,
    task_lines: tuple[list[str], ...] = TASK_LINES,
    task_parts: tuple[str, ...] = TASK_PARTS,
) -> Path:
    """Writes a trace directory (machine_events in one .gz part); returns it."""
    write_part(root / "machine_events" / MACHINE_PART, machine_lines)
    for name, lines in zip(task_parts, task_lines, strict=True):
        write_part(root / "task_events" / name, lines)
    return root


def machines_frame(rows: list[tuple[int, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["machine_id", "platform", "cpu", "memory"])
    return frame.astype({"machine_id": "int64", "platform": str, "cpu": "float64", "memory": "float64"})


def tasks_frame(rows: list[tuple[int, int, int, float, float, bool, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(TASK_COLUMNS_OUT)).astype(TASK_COLUMNS_OUT)


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return write_trace(tmp_path / "trace")


def test_snapshot_at_time(trace: Path) -> None:
    snap = load_snapshot(trace, 1000)

    assert isinstance(snap, ClusterSnapshot)
    assert snap.time_us == 1000
    expected_machines = machines_frame([(1, "P1", 0.5, 0.75), (3, "P1", 0.25, 0.25)])
    pd.testing.assert_frame_equal(snap.machines, expected_machines)
    expected_tasks = tasks_frame(
        [
            (10, 0, 1, 0.1, 0.1, False, 9),
            (14, 0, 1, 0.08, 0.02, False, 0),  # CPU from UPDATE_RUNNING, memory kept
            (18, 0, 1, 0.03, 0.04, False, -1),
            (11, 0, 3, 0.0625, 0.05, False, 2),  # evicted from m1, rescheduled on m3
            (13, 0, 3, 0.125, 0.1, True, 9),
        ]
    )
    pd.testing.assert_frame_equal(snap.tasks, expected_tasks)
    assert snap.skipped == {
        "machines_missing_capacity": 1,  # m4
        "tasks_without_schedule": 1,  # 19
        "tasks_missing_request": 1,  # 15
        "tasks_on_unknown_machine": 2,  # 16 on removed m2, 17 on m4
    }
    assert tuple(snap.skipped) == SKIP_REASONS


def test_default_time_is_end_of_task_events(trace: Path) -> None:
    snap = load_snapshot(trace)

    assert snap.time_us == 1600
    # m3's CPU update at 1500 applies; m5 is added only at 2000.
    expected_machines = machines_frame([(1, "P1", 0.5, 0.75), (3, "P1", 0.5, 0.25)])
    pd.testing.assert_frame_equal(snap.machines, expected_machines)
    running = list(zip(snap.tasks["job_id"], snap.tasks["machine_id"], strict=True))
    assert running == [(14, 1), (18, 1), (11, 3), (12, 3), (13, 3)]  # job 10 finished at 1600


def test_early_times(trace: Path) -> None:
    start = load_snapshot(trace, 0)
    assert start.machines["machine_id"].tolist() == [1, 2, 3]
    assert start.machines["memory"].tolist() == [0.5, 1.0, 0.25]  # before m1's update
    pd.testing.assert_frame_equal(start.tasks, tasks_frame([(10, 0, 1, 0.1, 0.1, False, 9)]))

    # At 300 job 11 was evicted then resubmitted in the same microsecond: pending, not running.
    # m2 is still alive, so job 16 runs.
    after_evict = load_snapshot(trace, 300)
    assert after_evict.tasks["job_id"].tolist() == [10, 10, 14, 18, 16, 13]


def test_plain_csv_and_crlf_give_the_same_snapshot(trace: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    write_part(plain / "machine_events" / "part-00000-of-00001.csv", MACHINE_LINES, newline="\r\n")
    write_part(plain / "task_events" / "part-00000-of-00002.csv", TASK_LINES[0])
    write_part(plain / "task_events" / "part-00001-of-00002.csv", TASK_LINES[1], newline="\r\n")

    expected, got = load_snapshot(trace, 1000), load_snapshot(plain, 1000)
    pd.testing.assert_frame_equal(got.machines, expected.machines)
    pd.testing.assert_frame_equal(got.tasks, expected.tasks)
    assert got.skipped == expected.skipped


def test_parts_starting_after_time_are_not_read(trace: Path) -> None:
    write_part(trace / "task_events" / "part-00002-of-00002.csv", ["garbage"])

    # The second part starts at 600, so for t=500 reading stops there and never meets the garbage.
    assert load_snapshot(trace, 500).time_us == 500
    with pytest.raises(TraceFormatError, match="part-00002-of-00002.csv: line 1"):
        load_snapshot(trace, 1000)


def test_capacity_tolerance_and_empty_task_events(tmp_path: Path) -> None:
    root = write_trace(
        tmp_path / "t",
        machine_lines=["0,7,0,P,1.0000000001,1"],
        task_lines=([],),
        task_parts=("part-00000-of-00001.csv",),
    )

    snap = load_snapshot(root, 10)
    pd.testing.assert_frame_equal(snap.machines, machines_frame([(7, "P", 1.0, 1.0)]))  # clipped
    pd.testing.assert_frame_equal(snap.tasks, tasks_frame([]))
    with pytest.raises(TraceFormatError, match="task_events: no events"):
        load_snapshot(root)


def test_negative_time_rejected(trace: Path) -> None:
    with pytest.raises(ValueError, match="time_us must be >= 0"):
        load_snapshot(trace, -1)


# id: (table, 0-based line index, replacement line, fragments the message must contain)
BAD_LINES = {
    "machine_too_few_columns": (
        "machine", 1, "0,2,0,P2,1", ["line 2", "expected 6", "found 5", "'memory'"]
    ),
    "task_too_many_columns": (
        "task", 0, task(0, 10, 0, "", 0) + ",x", ["line 1", "found 14", "'different_machines'"]
    ),
    "machine_bad_timestamp": (
        "machine", 2, "1x0,3,0,P1,0.25,0.25", ["line 3", "'timestamp'", "'1x0'"]
    ),
    "task_fractional_timestamp": (
        "task", 2, task("0.5", 10, 1, "", 0), ["line 3", "'timestamp'", "'0.5'"]
    ),
    "task_empty_job_id": (
        "task", 4, task(100, "", 0, "1", 1), ["line 5", "'job_id'", "required field is empty"]
    ),
    "machine_bad_event_type": (
        "machine", 4, "400,2,3,P2,1,1", ["line 5", "'event_type'", "'3'"]
    ),
    "task_event_type_out_of_range": (
        "task", 3, task(100, 10, 1, "1", 9), ["line 4", "'event_type'", "'9'"]
    ),
    "task_non_integer_event_type": (
        "task", 3, task(100, 10, 1, "1", "S"), ["line 4", "'event_type'", "'S'"]
    ),
    "machine_cpu_above_one": (
        "machine", 0, "0,1,0,P1,1.5,0.5", ["line 1", "'cpu'", "'1.5'"]
    ),
    "machine_memory_not_numeric": (
        "machine", 2, "0,3,0,P1,0.25,lots", ["line 3", "'memory'", "'lots'"]
    ),
    "task_negative_memory": (
        "task", 5, task(100, 14, 0, "1", 1, mem="-0.02"), ["line 6", "'memory_request'", "'-0.02'"]
    ),
    "task_bad_restriction_flag": (
        "task", 10, task(200, 13, 0, "3", 1, diff="2"), ["line 11", "'different_machines'", "'2'"]
    ),
    "task_schedule_without_machine": (
        "task", 1, task(0, 10, 0, "", 1), ["line 2", "'machine_id'", "SCHEDULE"]
    ),
    "task_bad_priority": (
        "task", 9, task(100, 18, 0, "1", 1, prio="high"), ["line 10", "'priority'", "'high'"]
    ),
}


@pytest.mark.parametrize("case", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_bad_line_names_file_line_field_and_value(
    tmp_path: Path, case: tuple[str, int, str, list[str]]
) -> None:
    table, index, line, fragments = case
    if table == "machine":
        lines = MACHINE_LINES[:index] + [line] + MACHINE_LINES[index + 1 :]
        root, part = write_trace(tmp_path / "t", machine_lines=lines), MACHINE_PART
    else:
        lines = TASK_LINES[0][:index] + [line] + TASK_LINES[0][index + 1 :]
        root, part = write_trace(tmp_path / "t", task_lines=(lines, TASK_LINES[1])), TASK_PARTS[0]

    with pytest.raises(TraceFormatError) as error:
        load_snapshot(root, 1000)
    message = str(error.value)
    assert part in message
    for fragment in fragments:
        assert fragment in message


def test_corrupt_gzip(trace: Path) -> None:
    part = trace / "machine_events" / MACHINE_PART
    part.write_bytes(part.read_bytes()[:-12])  # truncated download

    with pytest.raises(TraceFormatError, match=f"{MACHINE_PART}: not a valid gzip file"):
        load_snapshot(trace, 1000)


def test_gz_name_without_gzip_content(trace: Path) -> None:
    (trace / "task_events" / TASK_PARTS[0]).write_text("\n".join(TASK_LINES[0]))

    with pytest.raises(TraceFormatError, match=f"{TASK_PARTS[0]}: not a valid gzip file"):
        load_snapshot(trace, 1000)


def test_gzip_content_named_csv(trace: Path) -> None:
    (trace / "task_events" / TASK_PARTS[1]).write_bytes(gzip.compress(b"1,2,3\n"))

    with pytest.raises(TraceFormatError, match=f"{TASK_PARTS[1]}: content is gzip-compressed"):
        load_snapshot(trace, 1000)


def test_missing_trace_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere: trace directory not found"):
        load_snapshot(tmp_path / "nowhere")


@pytest.mark.parametrize("folder", ["machine_events", "task_events"])
def test_missing_folder(trace: Path, folder: str) -> None:
    for part in (trace / folder).iterdir():
        part.unlink()
    (trace / folder).rmdir()

    with pytest.raises(FileNotFoundError, match=f"{folder}: folder not found"):
        load_snapshot(trace)


def test_folder_without_part_files(trace: Path) -> None:
    (trace / "machine_events" / MACHINE_PART).rename(trace / "machine_events" / "machines.csv.gz")

    with pytest.raises(FileNotFoundError) as error:
        load_snapshot(trace)
    assert "machine_events: no part files" in str(error.value)
    assert "part-*.csv.gz or part-*.csv" in str(error.value)


def test_part_both_compressed_and_plain(trace: Path) -> None:
    write_part(trace / "task_events" / TASK_PARTS[0].removesuffix(".gz"), TASK_LINES[0])

    with pytest.raises(TraceFormatError, match="part-00000-of-00002.csv.gz are both present"):
        load_snapshot(trace)
