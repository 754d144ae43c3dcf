"""Tests for data.raycloudsim and data.iot_tasks: a hand-written CSV with the figures worked out
by hand, the window and rate scaling, the device rule, and a table of malformed files."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from schedgym.data.iot_tasks import DEADLINE_FACTORS, TaskStream, stable_keys
from schedgym.data.raycloudsim import COLUMNS, TraceFormatError, load_tasks_csv
from schedgym.envs.iot.topology import SCALES, make_topology

HEADER = ",".join(COLUMNS)
# Lines 2-5 of the file (the header is line 1).
ROWS = [
    "t0,0.0,0,270,1000.0,100,30,Bulk,Mobile",
    "t1,0.41,1,80,50.0,20,89,SmallTextual,Nodes",
    "t2,1.82,2,220,900.0,90,56,Medical,Acuator",
    "t3,1.82,7,300,250.0,150,48,Abrupt,Sensor",
]


def write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "tasks.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_figures_follow_the_documented_rules(tmp_path: Path) -> None:
    stream = load_tasks_csv(write(tmp_path, ROWS))
    assert stream.arrival.tolist() == [0.0, 0.41, 1.82, 1.82]
    # TaskSize kbit → bits; cycles = bits × CyclesPerBit.
    assert stream.input_bits.tolist() == [270e3, 80e3, 220e3, 300e3]
    assert stream.cycles.tolist() == [270e6, 4e6, 198e6, 75e6]
    assert stream.deadline_s.tolist() == [30.0, 89.0, 56.0, 48.0]
    assert stream.qos.tolist() == [2, 1, 0, 0]  # Bulk, SmallTextual, Medical, Abrupt
    assert stream.memory_mb.tolist() == [62.5] * 4
    assert np.allclose(stream.output_bits, 0.125 * stream.input_bits)
    assert stream.key.tolist() == [zlib.crc32(str(i).encode()) for i in (0, 1, 2, 7)]


def test_window_and_rate_scale(tmp_path: Path) -> None:
    stream = load_tasks_csv(write(tmp_path, ROWS), start=0.4, duration=1.0, rate_scale=2.0)
    assert np.allclose(stream.arrival, [0.005])  # only 0.41 is in [0.4, 1.4)
    stream = load_tasks_csv(write(tmp_path, ROWS), start=0.4, rate_scale=2.0)
    assert np.allclose(stream.arrival, [0.005, 0.71, 0.71]) and stream.qos.tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match=r"no tasks arrive in the window \[5.0, inf\)"):
        load_tasks_csv(write(tmp_path, ROWS), start=5.0)
    for bad in ({"rate_scale": 0.0}, {"start": -1.0}, {"duration": 0.0}, {"memory_mb": -1.0},
                {"output_ratio": float("nan")}, {"data_type_qos": {"Bulk": 3}}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            load_tasks_csv(write(tmp_path, ROWS), **bad)


def test_memory_output_and_qos_mapping_are_arguments(tmp_path: Path) -> None:
    mapping = {"Bulk": 0, "SmallTextual": 0, "Medical": 2, "Abrupt": 1}
    stream = load_tasks_csv(write(tmp_path, ROWS), memory_mb=10.0, output_ratio=0.5,
                            data_type_qos=mapping)
    assert stream.qos.tolist() == [0, 0, 2, 1] and stream.memory_mb.tolist() == [10.0] * 4
    assert stream.output_bits.tolist() == [135e3, 40e3, 110e3, 150e3]


def test_devices_and_deadlines_on_a_topology(tmp_path: Path) -> None:
    topology = make_topology(np.random.default_rng(0), SCALES["small"])
    stream = load_tasks_csv(write(tmp_path, ROWS))
    instance = stream.on(topology, name="csv")
    devices = topology.devices
    expected = [devices[zlib.crc32(str(i).encode()) % len(devices)] for i in (0, 1, 2, 7)]
    assert instance.device.tolist() == expected and instance.name == "csv"
    assert instance.deadline_s.tolist() == [30.0, 89.0, 56.0, 48.0]  # the file's DDL
    # Without file deadlines, the generator's rule: factor[qos] × cycles / device frequency.
    derived = TaskStream(**{**stream.__dict__, "deadline_s": None}).on(topology)
    local = stream.cycles / topology.freq_hz[derived.device]
    assert np.allclose(derived.deadline_s, np.asarray(DEADLINE_FACTORS)[stream.qos] * local)
    assert stream.head(2).on(topology).num_tasks == 2
    with pytest.raises(ValueError, match="num_tasks=5, but the window holds only 4 tasks"):
        stream.head(5)


def test_the_hash_spreads_tasks_evenly_and_stably() -> None:
    keys = stable_keys(str(i) for i in range(4000))
    counts = np.bincount(keys % 8, minlength=8)
    assert counts.min() > 400 and counts.max() < 600  # 500 each if even
    assert np.array_equal(keys, stable_keys(str(i) for i in range(4000)))
    assert stable_keys(["123"])[0] == 2286445522  # CRC-32 of b"123", the same everywhere


def test_crlf_and_a_byte_order_mark_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "tasks.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([HEADER, *ROWS]) + "\r\n").encode("utf-8"))
    assert load_tasks_csv(path).num_tasks == 4


# (rows or None for the ROWS, header or None, line named, field named or None, pattern)
MALFORMED = [
    ([], None, 1, None, r"no tasks after the header line"),
    (None, "TaskName,GenerationTime,TaskID,TaskSize", 1, None, r"line 1: unknown header"),
    (None, HEADER.replace("DDL", "DDL (s)"), 1, None, r"unknown header .* expected 'TaskName,"),
    ([*ROWS[:2], "t2,1.82,2,220,900.0,90,56,Medical"], None, 4, None,
     r"expected 9 comma-separated fields .*found 8"),
    ([ROWS[0], "t1,soon,1,80,50.0,20,89,SmallTextual,Nodes"], None, 3, "GenerationTime",
     r"expected a finite number, got 'soon'"),
    ([ROWS[0], "t1,-1,1,80,50.0,20,89,SmallTextual,Nodes"], None, 3, "GenerationTime",
     r"expected a number >= 0, got '-1'"),
    ([ROWS[1], ROWS[0]], None, 3, "GenerationTime",
     r"'0.0' is earlier than '0.41' on line 2; tasks must be in arrival order"),
    ([ROWS[0], "t1,0.41,1.5,80,50.0,20,89,SmallTextual,Nodes"], None, 3, "TaskID",
     r"expected a whole number, got '1.5'"),
    ([ROWS[0], ROWS[1], "t2,1.82,0,220,900.0,90,56,Medical,Acuator"], None, 4, "TaskID",
     r"'0' is also the task ID on line 2; task IDs must be unique"),
    ([ROWS[0], "t1,0.41,1,0,50.0,20,89,SmallTextual,Nodes"], None, 3, "TaskSize",
     r"expected a number > 0, got '0'"),
    ([ROWS[0], "t1,0.41,1,80,-5,20,89,SmallTextual,Nodes"], None, 3, "CyclesPerBit",
     r"expected a number > 0, got '-5'"),
    ([ROWS[0], "t1,0.41,1,80,50.0,20,inf,SmallTextual,Nodes"], None, 3, "DDL",
     r"expected a finite number, got 'inf'"),
    ([ROWS[0], "t1,0.41,1,80,50.0,20,,SmallTextual,Nodes"], None, 3, "DDL",
     r"expected a finite number, got ''"),
    ([ROWS[0], "t1,0.41,1,80,50.0,20,89,Video,Nodes"], None, 3, "DataType",
     r"expected a data type of \[.*'Bulk'.*\], got 'Video'"),
]


@pytest.mark.parametrize(("rows", "header", "line", "field", "pattern"), MALFORMED,
                         ids=[case[4][:40] for case in MALFORMED])
def test_malformed_file_is_refused_naming_where(tmp_path: Path, rows: list[str] | None,
                                                header: str | None, line: int, field: str | None,
                                                pattern: str) -> None:
    path = write(tmp_path, ROWS if rows is None else rows, HEADER if header is None else header)
    with pytest.raises(TraceFormatError) as caught:
        load_tasks_csv(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message
    if rows != []:
        assert f"line {line}" in message, message
    if field is not None:
        assert f"field {field!r}" in message, message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(TraceFormatError, match="empty file"):
        load_tasks_csv(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError):
        load_tasks_csv(tmp_path / "missing.csv")
