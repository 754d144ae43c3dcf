"""Tests for data.iot_google: the IoT task stream of a hand-made Google 2011 trace, with every
rule (arrival, run, work, sizes, QoS, device) and every left-out reason worked out by hand."""

from __future__ import annotations

import math
import re
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from schedgym.data import iot_google
from schedgym.data.google_cluster import TraceFormatError, TraceWarning
from schedgym.data.iot_google import load_google_tasks

# The shared sample of the trace (not part of the project), if present beside the repository.
SHARED_TRACE = Path(__file__).resolve().parents[2].parent / "shared/data/google_cluster_2011"
EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "iot" / "example_topology.yaml"

SUBMIT, SCHEDULE, EVICT, FINISH, UPDATE_RUNNING = 0, 1, 2, 4, 8


def event(seconds: float, job: int, index: int, kind: int, machine: str = "", prio: str = "9",
          cpu: str = "0.1", mem: str = "0.1") -> tuple[float, str]:
    """(time, task_events line); missing info, user, scheduling class and disk are filler."""
    if kind == SCHEDULE and not machine:
        machine = "1"
    line = f"{int(seconds * 1e6)},,{job},{index},{machine},{kind},user,2,{prio},{cpu},{mem},0.001,"
    return seconds, line


EVENTS = [
    event(0, 1, 0, SUBMIT), event(0, 1, 0, SCHEDULE), event(30, 1, 0, FINISH),  # before the trace
    # (2, 0): the median task, one minute: the generator's geometric-mean cycles and input.
    event(1, 2, 0, SUBMIT, cpu="0.0625", mem="0.0477"), event(2, 2, 0, SCHEDULE, cpu="", mem=""),
    event(62, 2, 0, FINISH, cpu="", mem=""),
    # (3, 0): evicted once; the run that finished is 10 s long. Free priority: best effort.
    event(3, 3, 0, SUBMIT, prio="0", cpu="0.2", mem="0.02"),
    event(4, 3, 0, SCHEDULE, "2", "", "", ""),
    event(5, 3, 0, EVICT, "2", "", "", ""), event(5, 3, 0, SUBMIT, "", "", "", ""),
    event(10, 3, 0, SCHEDULE, "3", "", "", ""), event(20, 3, 0, FINISH, "3", "", "", ""),
    event(3, 3, 1, SUBMIT), event(4, 3, 1, SCHEDULE),  # never finishes
    event(5, 4, 0, SUBMIT), event(6, 4, 0, FINISH),  # finishes unscheduled
    event(5.5, 5, 0, SUBMIT, cpu=""), event(6, 5, 0, SCHEDULE, cpu=""),
    event(7, 5, 0, FINISH, cpu=""),
    event(6, 6, 0, SUBMIT, prio=""), event(6.5, 6, 0, SCHEDULE, prio=""),
    event(8, 6, 0, FINISH, prio=""),
    event(7, 7, 0, SUBMIT, cpu="0"), event(7.5, 7, 0, SCHEDULE, cpu="0"),
    event(9, 7, 0, FINISH, cpu="0"),
    event(7, 8, 0, SCHEDULE), event(10, 8, 0, FINISH),  # no SUBMIT: submitted before the read
    # (9, 0): middle priority, a 1 s run.
    event(8, 9, 0, SUBMIT, prio="5", mem="0.05"), event(8, 9, 0, SCHEDULE, prio="5", mem="0.05"),
    event(9, 9, 0, FINISH, prio="5", mem="0.05"),
    # (2, 1): the same job as (2, 0); its CPU request is updated to 0.125 while it runs 2 s.
    event(9, 2, 1, SUBMIT, prio="11"), event(9.5, 2, 1, SCHEDULE, prio="11"),
    event(10, 2, 1, UPDATE_RUNNING, prio="11", cpu="0.125"),
    event(11.5, 2, 1, FINISH, prio="11", cpu=""),
]
C, B, M = iot_google.CYCLES_PER_CPU_SECOND, iot_google.BITS_PER_MEMORY, iot_google.MB_PER_MEMORY


def write_trace(root: Path, events: list[tuple[float, str]] = EVENTS, split_s: float = 6.0) -> Path:
    """Two time-ordered parts: the events up to ``split_s`` and the rest."""
    ordered = [line for _, line in sorted(events, key=lambda item: item[0])]
    first = sum(1 for seconds, _ in events if seconds <= split_s)
    folder = root / "task_events"
    folder.mkdir(parents=True)
    for name, lines in (("part-00000-of-00002.csv", ordered[:first]),
                        ("part-00001-of-00002.csv", ordered[first:])):
        (folder / name).write_text("".join(line + "\n" for line in lines))
    return root


def load_quietly(root: Path, **kwargs) -> iot_google.TaskStream:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        return load_google_tasks(root, **kwargs)


def test_stream_figures_follow_the_documented_rules(tmp_path: Path) -> None:
    stream = load_quietly(write_trace(tmp_path / "trace"))
    # Kept, in arrival order: (2, 0) at 1 s, (3, 0) at 3 s, (9, 0) at 8 s, (2, 1) at 9 s.
    assert stream.arrival.tolist() == [1.0, 3.0, 8.0, 9.0]
    assert np.allclose(stream.cycles, [C * 0.0625 * 60, C * 0.2 * 10, C * 0.1 * 1, C * 0.125 * 2])
    assert math.isclose(stream.cycles[0], math.sqrt(1e7 * 3e8))  # the generator's geometric mean
    assert np.allclose(stream.input_bits, [B * 0.0477, B * 0.02, B * 0.05, B * 0.1])
    assert math.isclose(stream.input_bits[0], math.sqrt(1e4 * 2e5))
    assert np.allclose(stream.memory_mb, [62.5, M * 0.02, M * 0.05, M * 0.1])
    assert np.allclose(stream.output_bits, 0.125 * stream.input_bits)
    assert stream.qos.tolist() == [0, 2, 1, 0]  # priorities 9, 0, 5, 11
    assert stream.key.tolist() == [zlib.crc32(str(job).encode()) for job in (2, 3, 9, 2)]
    assert stream.deadline_s is None  # the generator's rule, applied on a topology


def test_summary_reports_count_rate_and_shares(tmp_path: Path) -> None:
    text = iot_google.summary(load_quietly(write_trace(tmp_path / "trace")))
    assert "4 tasks over 8.0 s (0.375 tasks/s)" in text  # arrivals 1, 3, 8, 9 s
    assert "QoS shares (critical, standard, best effort): 0.500, 0.250, 0.250" in text
    assert f"cycles: min {C * 0.1 * 1:.3g}," in text and f"max {C * 0.0625 * 60:.3g}" in text


def test_every_left_out_task_is_counted_in_one_warning(tmp_path: Path) -> None:
    root = write_trace(tmp_path / "trace")
    with pytest.warns(TraceWarning) as caught:
        load_google_tasks(root)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"{root}: of 10 tasks submitted in the window, left out "), message
    part0, part1 = (root / "task_events" / f"part-0000{i}-of-00002.csv" for i in (0, 1))
    for description, where in (
        ("first event is not a SUBMIT (submitted before the events read): 1", f"{part1}: line 4"),
        ("without a FINISH by the window end: 1", f"{part0}: line 6;"),
        ("with a FINISH but no SCHEDULE before it: 1", f"{part0}: line 11;"),
        ("of unknown CPU or memory request: 1", f"{part0}: line 12;"),
        ("of unknown priority: 1", f"{part0}: line 15;"),
        ("of zero work (CPU request 0 or a zero-length run): 1", f"{part1}: line 3 "),
    ):
        pattern = re.escape(description) + ", first at " + re.escape(where)
        assert re.search(pattern, message), description


def test_window_rate_scale_and_unfinished_runs(tmp_path: Path) -> None:
    # Events up to 9.5 s are read: only (9, 0) of the arrivals in [2.5, 9.5) has finished by then.
    stream = load_quietly(write_trace(tmp_path / "trace"), start=2.5, duration=7.0, rate_scale=2.0)
    assert stream.arrival.tolist() == [(8.0 - 2.5) / 2] and stream.qos.tolist() == [1]
    with pytest.warns(TraceWarning, match=r"without a FINISH by the window end: 3"):
        load_google_tasks(tmp_path / "trace", start=2.5, duration=7.0)
    with pytest.raises(ValueError, match=r"no tasks arrive in the window \[100.0, inf\)"):
        load_quietly(tmp_path / "trace", start=100.0)
    for bad in ({"rate_scale": 0.0}, {"cycles_per_cpu_second": 0.0}, {"bits_per_memory": -1.0},
                {"mb_per_memory": math.inf}, {"output_ratio": math.nan}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            load_google_tasks(tmp_path / "trace", **bad)


def test_a_window_without_usable_tasks_is_an_error(tmp_path: Path) -> None:
    root = write_trace(tmp_path / "trace", [event(3, 3, 1, SUBMIT), event(4, 3, 1, SCHEDULE)])
    with pytest.raises(ValueError, match="none of the 1 tasks submitted in the window is usable"):
        load_quietly(root)


def test_on_a_topology_the_deadline_is_the_generators_rule(tmp_path: Path) -> None:
    from schedgym.data.iot_topology import load_topology
    from schedgym.data.iot_tasks import DEADLINE_FACTORS

    topology = load_topology(EXAMPLE)
    stream = load_quietly(write_trace(tmp_path / "trace"))
    instance = stream.on(topology)
    devices = topology.devices
    expected = [devices[zlib.crc32(str(job).encode()) % 4] for job in (2, 3, 9, 2)]
    assert instance.device.tolist() == expected
    local = stream.cycles / topology.freq_hz[instance.device]
    assert np.allclose(instance.deadline_s, np.asarray(DEADLINE_FACTORS)[stream.qos] * local)


def test_format_errors_name_file_line_field_and_value(tmp_path: Path) -> None:
    root = write_trace(tmp_path / "prio", [*EVENTS[:3], event(40, 10, 0, SUBMIT, prio="12")])
    message = (r"part-00001-of-00002.csv: line 2, field 'priority' \(column 9\): "
               r"expected a value from 0 to 11, got 12")
    with pytest.raises(TraceFormatError, match=message):
        load_google_tasks(root)
    root = write_trace(tmp_path / "short", [*EVENTS[:3], (40, "40000000,,10,0,,0,user,2")])
    message = r"part-00001-of-00002.csv: line 2: expected 13 comma-separated"
    with pytest.raises(TraceFormatError, match=message):
        load_google_tasks(root)
    with pytest.raises(FileNotFoundError, match="task_events"):
        load_google_tasks(tmp_path)


def test_shared_trace_sample_gives_a_valid_stream() -> None:
    if not (SHARED_TRACE / "task_events").is_dir():
        pytest.skip(f"the shared Google 2011 trace sample is not at {SHARED_TRACE}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        stream = load_google_tasks(SHARED_TRACE, duration=3600.0)
    assert stream.num_tasks > 0 and np.all(np.diff(stream.arrival) >= 0)
    assert np.all(stream.cycles > 0) and np.all(np.isfinite(stream.input_bits))
    assert set(np.unique(stream.qos)) <= {0, 1, 2}
