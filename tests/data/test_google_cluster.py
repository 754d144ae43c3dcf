"""Tests for data.google_cluster: snapshot semantics on a small hand-made trace, then bad files."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schedgym.data.google_cluster import (
    IRREGULARITIES,
    SKIP_REASONS,
    ClusterSnapshot,
    TraceFormatError,
    TraceWarning,
    load_snapshot,
)

# The shared fixture holds one of several irregularities on purpose; tests about the warning itself
# catch it with pytest.warns, the others ignore it.
pytestmark = pytest.mark.filterwarnings("ignore::schedgym.data.google_cluster.TraceWarning")

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
    with pytest.warns(TraceWarning) as caught:
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
        "tasks_missing_request": 1,  # 15
        "tasks_on_removed_machine": 1,  # 16 on m2
        "tasks_on_machine_missing_capacity": 1,  # 17 on m4
        "tasks_on_unknown_machine": 0,
    }
    assert tuple(snap.skipped) == SKIP_REASONS
    # Job 19 has an UPDATE_RUNNING but was never scheduled: it does not run.
    assert snap.irregularities == {kind: int(kind == "update_running_while_not_running") for kind in IRREGULARITIES}
    assert snap.trace_dir == trace
    # One warning with every non-zero count, and where the first irregular event is.
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "snapshot at t=1000 us" in message
    assert "running tasks on a removed machine left out: 1" in message
    assert f"UPDATE_RUNNING events of tasks not running (state unchanged): 1, first at " \
           f"{trace / 'task_events' / TASK_PARTS[0]}: line 14" in message


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


def test_capacity_tolerance(tmp_path: Path) -> None:
    root = write_trace(
        tmp_path / "t",
        machine_lines=["0,7,0,P,1.0000000001,1"],
        task_lines=([task(0, 1, 0, "7", 1, cpu="0.1", mem="0.1")],),
        task_parts=("part-00000-of-00001.csv",),
    )

    snap = load_snapshot(root, 10)
    pd.testing.assert_frame_equal(snap.machines, machines_frame([(7, "P", 1.0, 1.0)]))  # clipped
    assert snap.tasks["machine_id"].tolist() == [7]


@pytest.mark.parametrize("time_us", [-1, 2**53])
def test_time_outside_the_exact_range_rejected(trace: Path, time_us: int) -> None:
    with pytest.raises(ValueError, match="time_us must be >= 0 and below 2\\*\\*53"):
        load_snapshot(trace, time_us)


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


# --------------------------------------------------------------------------------------------
# Inputs that would silently lose or invent data: each is refused or counted (module docstring).

ONE_MACHINE = ["0,1,0,P,0.5,0.5", "0,2,0,P,0.5,0.5"]


def tiny_trace(root: Path, machine_lines: list[str], *task_parts: list[str]) -> Path:
    """A trace of plain .csv parts: one machine_events part and the given task_events parts."""
    write_part(root / "machine_events" / "part-00000-of-00001.csv", machine_lines)
    for index, lines in enumerate(task_parts):
        write_part(root / "task_events" / f"part-{index:05d}-of-{len(task_parts):05d}.csv", lines)
    return root


def snapshot_and_warning(root: Path, time_us: int | None = None) -> tuple[ClusterSnapshot, str]:
    with pytest.warns(TraceWarning) as caught:
        snap = load_snapshot(root, time_us)
    assert len(caught) == 1
    return snap, str(caught[0].message)


def only(kind: str, count: int = 1) -> dict[str, int]:
    return {key: count if key == kind else 0 for key in IRREGULARITIES}


def test_clean_trace_warns_nothing(tmp_path: Path) -> None:
    root = tiny_trace(tmp_path, ONE_MACHINE, [task(0, 1, 0, "1", 1, cpu="0.1", mem="0.1")])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TraceWarning)
        snap = load_snapshot(root)
    assert snap.irregularities == only("schedule_while_running", 0)
    assert not any(snap.skipped.values())


@pytest.mark.parametrize("split", [False, True], ids=["one_part", "across_parts"])
def test_schedule_of_a_running_task_moves_it_and_is_counted(tmp_path: Path, split: bool) -> None:
    first = task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1")
    second = task(200, 1, 0, "2", 1)  # no EVICT in between
    parts = ([first], [second]) if split else ([first, second],)
    snap, message = snapshot_and_warning(tiny_trace(tmp_path, ONE_MACHINE, *parts), 300)

    assert snap.tasks["machine_id"].tolist() == [2]
    assert snap.irregularities == only("schedule_while_running")
    where = f"part-0000{int(split)}-of-0000{len(parts)}.csv: line {1 if split else 2}"
    assert "SCHEDULE events of running tasks (moved to the later machine): 1, first at" in message
    assert where in message


def test_schedule_after_an_evict_is_regular(tmp_path: Path) -> None:
    lines = [task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1"), task(150, 1, 0, "1", 2),
             task(150, 1, 0, "", 0), task(200, 1, 0, "2", 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", TraceWarning)
        snap = load_snapshot(tiny_trace(tmp_path, ONE_MACHINE, lines), 300)
    assert snap.tasks["machine_id"].tolist() == [2]


@pytest.mark.parametrize(
    "later, kind, runs",
    [
        (task(200, 1, 0, "", 0), "submit_while_running", False),  # the later event wins
        (task(200, 1, 0, "", 7, cpu="0.2"), "update_pending_while_running", True),
    ],
    ids=["submit", "update_pending"],
)
def test_other_events_of_a_running_task(tmp_path: Path, later: str, kind: str, runs: bool) -> None:
    lines = [task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1"), later]
    snap, _ = snapshot_and_warning(tiny_trace(tmp_path, ONE_MACHINE, lines), 300)

    assert snap.irregularities == only(kind)
    assert snap.tasks["job_id"].tolist() == ([1] if runs else [])
    if runs:
        assert snap.tasks["cpu_request"].tolist() == [0.2]  # an update's values still apply


@pytest.mark.parametrize("split", [False, True], ids=["one_part", "across_parts"])
def test_update_running_after_an_evict_does_not_revive_the_task(tmp_path: Path, split: bool) -> None:
    ran = [task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1"), task(150, 1, 0, "1", 2)]
    update = [task(200, 1, 0, "1", 8)]
    parts = (ran, update) if split else (ran + update,)
    snap, _ = snapshot_and_warning(tiny_trace(tmp_path, ONE_MACHINE, *parts), 300)

    assert snap.tasks.empty
    assert snap.irregularities == only("update_running_while_not_running")


def test_parts_out_of_time_order_are_refused(tmp_path: Path) -> None:
    # Part 0 ends at 900; part 1 holds earlier events (its FINISH would be lost or misordered).
    later = [task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1"), task(900, 2, 0, "1", 1, cpu="0.1", mem="0.1")]
    earlier = [task(50, 3, 0, "2", 1, cpu="0.1", mem="0.1"), task(500, 1, 0, "1", 4)]
    root = tiny_trace(tmp_path, ONE_MACHINE, later, earlier)

    with pytest.raises(TraceFormatError) as error:
        load_snapshot(root, 1000)
    message = str(error.value)
    assert "part-00001-of-00002.csv: line 1, field 'timestamp' (column 1): 50 is earlier than the " \
           "last event of part-00000-of-00002.csv (900)" in message
    assert "time order" in message


def test_parts_meeting_at_one_time_are_in_order(tmp_path: Path) -> None:
    root = tiny_trace(tmp_path, ONE_MACHINE, [task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1")],
                      [task(100, 1, 0, "1", 4)])  # a tie across parts keeps file order
    assert load_snapshot(root, 200).tasks.empty


def test_machine_events_out_of_time_order_are_refused(tmp_path: Path) -> None:
    write_part(tmp_path / "machine_events" / "part-00000-of-00002.csv", ["0,1,0,P,0.5,0.5", "300,1,1,P,,"])
    write_part(tmp_path / "machine_events" / "part-00001-of-00002.csv", ["200,2,0,P,0.5,0.5"])
    write_part(tmp_path / "task_events" / "part-00000-of-00001.csv", [task(0, 1, 0, "2", 0)])

    with pytest.raises(TraceFormatError, match=r"part-00001-of-00002\.csv: line 1, field 'timestamp'"):
        load_snapshot(tmp_path, 400)


def test_re_added_machine_does_not_reuse_its_old_capacity(tmp_path: Path) -> None:
    machines = ["0,1,0,P,0.5,0.5", "100,1,1,P,,", "200,1,0,,,", "0,2,0,P,0.5,0.5", "100,2,1,P,,",
                "200,2,0,Q,0.25,"]
    machines = sorted(machines, key=lambda line: int(line.split(",")[0]))
    tasks = [task(300, 1, 0, "1", 1, cpu="0.1", mem="0.1"), task(300, 2, 0, "2", 1, cpu="0.1", mem="0.1")]
    snap, message = snapshot_and_warning(tiny_trace(tmp_path, machines, tasks), 400)

    assert snap.machines.empty  # m1 re-added without capacity, m2 without memory
    assert snap.skipped["machines_missing_capacity"] == 2
    assert snap.skipped["tasks_on_machine_missing_capacity"] == 2
    assert "machines of unknown CPU or memory left out: 2" in message


def test_re_added_machine_takes_its_new_capacity(tmp_path: Path) -> None:
    machines = ["0,1,0,P,0.5,0.5", "100,1,1,P,,", "200,1,0,Q,1,0.25"]
    snap = load_snapshot(tiny_trace(tmp_path, machines, [task(0, 1, 0, "", 0)]), 300)
    pd.testing.assert_frame_equal(snap.machines, machines_frame([(1, "Q", 1.0, 0.25)]))


def test_update_of_a_removed_machine_does_not_revive_it(tmp_path: Path) -> None:
    machines = ["0,1,0,P,0.5,0.5", "0,2,0,P,0.5,0.5", "100,1,1,P,,", "200,1,2,P,0.5,0.5"]
    tasks = [task(300, 1, 0, "1", 1, cpu="0.1", mem="0.1")]
    snap, message = snapshot_and_warning(tiny_trace(tmp_path, machines, tasks), 400)

    assert snap.machines["machine_id"].tolist() == [2]
    assert snap.irregularities == only("machine_update_while_removed")
    assert snap.skipped["tasks_on_removed_machine"] == 1
    assert "machine_events/part-00000-of-00001.csv: line 4" in message


@pytest.mark.parametrize("field, line", [("cpu", "0,2,0,P,0,0.5"), ("memory", "0,2,0,P,0.5,0.0")])
def test_machine_with_zero_capacity_is_refused(tmp_path: Path, field: str, line: str) -> None:
    root = tiny_trace(tmp_path, ["0,1,0,P,0.5,0.5", line], [task(0, 1, 0, "", 0)])
    with pytest.raises(TraceFormatError) as error:
        load_snapshot(root, 10)
    assert f"part-00000-of-00001.csv: line 2, field {field!r}" in str(error.value)
    assert "capacity must be above 0" in str(error.value)


def test_remove_may_carry_a_zero_capacity(tmp_path: Path) -> None:
    root = tiny_trace(tmp_path, ["0,1,0,P,0.5,0.5", "0,2,0,P,0.5,0.5", "5,2,1,P,0,0"],
                      [task(0, 1, 0, "", 0)])
    assert load_snapshot(root, 10).machines["machine_id"].tolist() == [1]


def test_tasks_on_removed_or_unknown_machines_are_counted(tmp_path: Path) -> None:
    machines = ["0,1,0,P,0.5,0.5", "0,2,0,P,0.5,0.5", "200,2,1,P,,"]
    tasks = [task(100, 1, 0, "2", 1, cpu="0.1", mem="0.1"), task(100, 2, 0, "9", 1, cpu="0.1", mem="0.1"),
             task(100, 3, 0, "1", 1, cpu="0.1", mem="0.1")]
    snap, message = snapshot_and_warning(tiny_trace(tmp_path, machines, tasks), 300)

    assert snap.tasks["job_id"].tolist() == [3]
    assert snap.skipped["tasks_on_removed_machine"] == 1
    assert snap.skipped["tasks_on_unknown_machine"] == 1
    assert "running tasks on a removed machine left out: 1" in message
    assert "running tasks on a machine without events by then left out: 1" in message


@pytest.mark.parametrize("table", ["machine_events", "task_events"])
def test_table_without_events_is_refused(tmp_path: Path, table: str) -> None:
    root = tiny_trace(tmp_path, ONE_MACHINE, [task(0, 1, 0, "", 0)])
    for part in (root / table).iterdir():
        part.write_bytes(b"")

    with pytest.raises(TraceFormatError, match=f"{table}: its 1 part file\\(s\\) hold no events"):
        load_snapshot(root, 10)


def test_timestamp_after_the_trace_window(tmp_path: Path) -> None:
    lines = [task(100, 1, 0, "1", 1, cpu="0.1", mem="0.1"), task(2**63 - 1, 1, 0, "1", 4)]
    root = tiny_trace(tmp_path, ONE_MACHINE, lines)

    snap = load_snapshot(root)  # the end of the task events is the last time inside the window
    assert snap.time_us == 100
    assert snap.tasks["job_id"].tolist() == [1]  # its FINISH comes after any snapshot time
    assert load_snapshot(root, 2**53 - 1).tasks["job_id"].tolist() == [1]


@pytest.mark.parametrize("value", [2**53, 2**63, 2**63 - 2])
def test_integer_too_large_for_float64_is_refused(tmp_path: Path, value: int) -> None:
    root = tiny_trace(tmp_path, ONE_MACHINE, [task(value, 1, 0, "", 0)])
    with pytest.raises(TraceFormatError) as error:
        load_snapshot(root, 10)
    message = str(error.value)
    assert "line 1, field 'timestamp' (column 1): expected an integer below 2**53" in message
    assert repr(str(value)) in message


def test_job_id_too_large_for_float64_is_refused(tmp_path: Path) -> None:
    root = tiny_trace(tmp_path, ONE_MACHINE, [task(0, 2**53 + 1, 0, "", 0)])
    with pytest.raises(TraceFormatError, match="field 'job_id' .*below 2\\*\\*53"):
        load_snapshot(root, 10)


def reference_state(events: list[tuple[int, int, int, int]]) -> tuple[set, dict[str, int]]:
    """The state machine of the module docstring, one event at a time: (job, machine) of the
    running tasks and the irregular event counts. Events are (time, job, machine, type)."""
    runs: dict[int, int] = {}  # job -> machine of a running task (task index 0 throughout)
    counts = dict.fromkeys(IRREGULARITIES, 0)
    for _, job, machine, kind in events:
        running = job in runs
        if kind == 1:
            counts["schedule_while_running"] += running
            runs[job] = machine
        elif kind == 0:
            counts["submit_while_running"] += running
            runs.pop(job, None)
        elif kind == 7:
            counts["update_pending_while_running"] += running
        elif kind == 8:
            counts["update_running_while_not_running"] += not running
        else:
            runs.pop(job, None)
    return set(runs.items()), counts


@pytest.mark.parametrize("seed", range(20))
def test_task_states_match_a_sequential_reference(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(0, 50, size=80))  # many ties, kept in file order
    events = [(int(t), int(rng.integers(6)), int(rng.integers(1, 3)), int(rng.integers(9)))
              for t in times]
    cuts = np.sort(rng.choice(np.arange(1, len(events)), size=int(rng.integers(0, 4)), replace=False))
    parts = [
        [task(t, job, 0, str(machine) if kind == 1 else "", kind, cpu="0.1", mem="0.1")
         for t, job, machine, kind in events[a:b]]
        for a, b in zip([0, *cuts], [*cuts, len(events)])
    ]
    root = tiny_trace(tmp_path, ONE_MACHINE, *parts)

    snap = load_snapshot(root, 100)
    running, counts = reference_state(events)
    assert set(zip(snap.tasks["job_id"], snap.tasks["machine_id"])) == running
    assert snap.irregularities == counts
