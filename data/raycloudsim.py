"""RayCloudSim task CSVs (Zhang et al., RayCloudSim, MIT; the "Pakistan" benchmark's
``eval/benchmarks/Pakistan/data/Tuple{30K,50K,100K}/{trainset,testset}.csv``, derived from the
IoT-Compute-Dataset of Aazam et al., IEEE T-SUSC 2022, which has no licence file: a user may read
their own copy, SchedGym ships none).

Layout: a header line, then one task per line::

    TaskName,GenerationTime,TaskID,TaskSize,CyclesPerBit,TransBitRate,DDL,DataType,DeviceType
    t0,0.0,0,270,1000.0,100,30,Bulk,Mobile

Units (``../shared/reference/iot_edge.md``): ``GenerationTime`` and ``DDL`` in seconds,
``TaskSize`` in kilobits, ``TransBitRate`` in kbit/s. The task on a topology
(:meth:`data.iot_tasks.TaskStream.on`):

* ``arrival`` = ``GenerationTime`` in the window (:mod:`data.iot_tasks`);
* ``input_bits`` = ``TaskSize`` × 1000; ``cycles`` = ``input_bits × CyclesPerBit`` (RayCloudSim's
  ``task_size · cycles_per_bit``);
* ``deadline_s`` = ``DDL``. RayCloudSim bounds the time before execution (transfer + wait) by it;
  the env bounds the whole response, so the same figure is slightly stricter here;
* ``qos`` from ``DataType`` (:data:`DATA_TYPE_QOS`, an *assumption*: medical and abrupt-event
  data critical, bulk and large transfers best effort, the rest standard); another mapping may be
  passed, and a data type it lacks is an error;
* ``device``: ``devices[crc32(TaskID) % D]`` (the file tells the kind of device, ``DeviceType``,
  but not which one; the hash spreads tasks evenly and stably over the topology's devices);
* ``memory_mb`` and ``output_bits`` are not in the file: the defaults of :mod:`data.iot_tasks`.

``TaskName``, ``TransBitRate`` (the env's transfers take the route's bottleneck bandwidth) and
``DeviceType`` must be present but are not used or validated.

Every problem raises :class:`TraceFormatError` naming the file and, where it applies, the 1-based
line (the header is line 1), the field and the bad value: an unknown header, a line with another
number of fields, a value that does not parse or is out of range (times finite ≥ 0, sizes, cycles
per bit and deadlines > 0, task IDs whole numbers ≥ 0), arrivals out of order (never sorted
silently: that could hide a concatenated file), a repeated task ID, an unknown data type.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from schedgym.data.csv_table import fail_first, read_table
from schedgym.data.iot_tasks import (
    DEFAULT_MEMORY_MB,
    DEFAULT_OUTPUT_RATIO,
    TaskStream,
    check_figure,
    check_window,
    stable_keys,
    window_mask,
)

COLUMNS = ("TaskName", "GenerationTime", "TaskID", "TaskSize", "CyclesPerBit", "TransBitRate",
           "DDL", "DataType", "DeviceType")
#: QoS class of each data type of the Pakistan benchmark (module docstring).
DATA_TYPE_QOS: dict[str, int] = {
    "Medical": 0, "Abrupt": 0,
    "LocationBased": 1, "Multimedia": 1, "SmallTextual": 1,
    "Bulk": 2, "Large": 2,
}
BITS_PER_KILOBIT = 1000.0
_EXACT_INTEGER_LIMIT = 2.0**53


class TraceFormatError(ValueError):
    """A file does not follow the RayCloudSim task layout; the message says where and why."""


_fail_first = partial(fail_first, TraceFormatError)


def load_tasks_csv(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    rate_scale: float = 1.0,
    memory_mb: float = DEFAULT_MEMORY_MB,
    output_ratio: float = DEFAULT_OUTPUT_RATIO,
    data_type_qos: Mapping[str, int] = DATA_TYPE_QOS,
) -> TaskStream:
    """Reads a RayCloudSim task CSV and returns the tasks of one window.

    Args:
        path: The CSV file (module docstring).
        start: Window start, seconds of ``GenerationTime``.
        duration: Window length in seconds; None runs to the end of the file.
        rate_scale: Speed-up of the arrivals (inter-arrival times are divided by it).
        memory_mb: Memory of every task, MB.
        output_ratio: Output size as a share of the input.
        data_type_qos: QoS class (0, 1 or 2) of each ``DataType``.

    Returns:
        The window's tasks; put them on a topology with :meth:`TaskStream.on`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TraceFormatError: The file is malformed (file, line, field and value named).
        ValueError: A bad argument, or a window without tasks.
    """
    path = Path(path)
    check_window(str(path), start, duration, rate_scale)
    check_figure("memory_mb", memory_mb)
    check_figure("output_ratio", output_ratio)
    for data_type, qos in data_type_qos.items():
        if isinstance(qos, bool) or qos not in (0, 1, 2):
            raise ValueError(
                f"data_type_qos[{data_type!r}] must be a QoS class 0, 1 or 2, got {qos!r}")
    _, frame = read_table(path, {COLUMNS: "RayCloudSim's task CSV"}, "task", TraceFormatError)
    seconds = _numbers(path, frame["GenerationTime"], positive=False)
    earlier = np.flatnonzero(np.diff(seconds) < 0) + 1
    if earlier.size:
        row = int(earlier[0])
        text = frame["GenerationTime"]
        raise TraceFormatError(
            f"{path}: line {row + 2}, field 'GenerationTime': {text.iat[row]!r} is earlier than "
            f"{text.iat[row - 1]!r} on line {row + 1}; tasks must be in arrival order")
    task_id = _task_ids(path, frame["TaskID"])
    size_kbit = _numbers(path, frame["TaskSize"], positive=True)
    cycles_per_bit = _numbers(path, frame["CyclesPerBit"], positive=True)
    deadline = _numbers(path, frame["DDL"], positive=True)
    known = frame["DataType"].isin(list(data_type_qos)).to_numpy()
    _fail_first(path, ~known, frame["DataType"], f"expected a data type of {sorted(data_type_qos)}")
    qos = frame["DataType"].map(dict(data_type_qos)).to_numpy(np.int64)

    inside = window_mask(str(path), seconds, start, duration)
    input_bits = size_kbit[inside] * BITS_PER_KILOBIT
    return TaskStream(
        arrival=(seconds[inside] - start) / rate_scale,
        cycles=input_bits * cycles_per_bit[inside],
        input_bits=input_bits,
        memory_mb=np.full(int(inside.sum()), float(memory_mb)),
        output_bits=input_bits * output_ratio,
        qos=qos[inside],
        key=stable_keys(str(i) for i in task_id[inside]),
        deadline_s=deadline[inside],
        source=str(path),
    )


def _numbers(path: Path, text: pd.Series, positive: bool) -> np.ndarray:
    """A numeric field as float64: finite and ≥ 0, or > 0 if ``positive``."""
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    _fail_first(path, ~np.isfinite(values), text, "expected a finite number")
    _fail_first(path, values <= 0 if positive else values < 0, text,
                "expected a number > 0" if positive else "expected a number >= 0")
    return values


def _task_ids(path: Path, text: pd.Series) -> np.ndarray:
    """Task IDs as int64: whole numbers ≥ 0, each on one line only."""
    values = _numbers(path, text, positive=False)
    _fail_first(path, (values != np.floor(values)) | (values >= _EXACT_INTEGER_LIMIT), text,
                "expected a whole number")
    ids = values.astype(np.int64)
    repeated = np.flatnonzero(pd.Series(ids).duplicated().to_numpy())
    if repeated.size:
        later = int(repeated[0])
        earlier = int(np.flatnonzero(ids == ids[later])[0])
        raise TraceFormatError(f"{path}: line {later + 2}, field 'TaskID': {text.iat[later]!r} is "
                               f"also the task ID on line {earlier + 2}; task IDs must be unique")
    return ids
