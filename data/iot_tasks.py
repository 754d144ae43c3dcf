"""IoT task streams read from files, before they are put on a topology.

The loaders (:mod:`data.raycloudsim`, :mod:`data.iot_google`) return a :class:`TaskStream`: the
tasks' arrivals, work, sizes and QoS classes, and a stable per-task key that picks the task's
device once a topology is known (:meth:`TaskStream.on`). A stream can so be replayed on a topology
file or on every generated topology of one scale.

Shared rules:

* Device: ``devices[key % D]``, the topology's devices in index order, ``key`` a CRC-32
  (``zlib.crc32``, the same on every platform and run, unlike Python's ``hash``) of text the
  loader names (the task ID, the job ID).
* Deadline: given by the file, or else the generator's rule (``envs.iot.generator``):
  ``TaskDistribution.deadline_factors[qos]`` (1.5 / 3 / 10) times the task's run time on its own
  device, ``cycles / freq_hz[device]``.
* Figures a file does not give: memory :data:`DEFAULT_MEMORY_MB` (62.5 MB, the mean of the
  generator's uniform 25-100 MB, offloading-gym's range) and output :data:`DEFAULT_OUTPUT_RATIO`
  (0.125 of the input, the mean of the generator's 5-20%, an assumption there); each loader
  takes them as arguments.
* Window: tasks arriving in ``[start, start + duration)`` of file time, measured from ``start``
  and divided by ``rate_scale`` (2.0 doubles the arrival rate), as in :mod:`data.azure_llm`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from schedgym.envs.iot.generator import TaskDistribution
from schedgym.envs.iot.types import IoTInstance, Topology

_GENERATOR = TaskDistribution()
DEFAULT_MEMORY_MB = sum(_GENERATOR.memory_mb) / 2  # 62.5 MB
DEFAULT_OUTPUT_RATIO = sum(_GENERATOR.output_ratio) / 2  # 0.125
DEADLINE_FACTORS = _GENERATOR.deadline_factors


@dataclass(frozen=True)
class TaskStream:
    """Tasks of a file window, in arrival order, not yet on a topology. M = tasks.

    Attributes:
        arrival: (M,) float64 s since the window start after rate scaling; non-decreasing.
        cycles: (M,) float64 > 0, CPU cycles of one core.
        input_bits: (M,) float64 ≥ 0, sent to where the task runs.
        memory_mb: (M,) float64 ≥ 0, held where it runs.
        output_bits: (M,) float64 ≥ 0, returned to the device.
        qos: (M,) int64 QoS class, 0 critical, 1 standard, 2 best effort.
        key: (M,) int64 CRC-32 that picks the device (module docstring).
        deadline_s: (M,) float64 s relative to arrival, or None: the generator's rule.
        source: The file or directory read.
    """

    arrival: np.ndarray
    cycles: np.ndarray
    input_bits: np.ndarray
    memory_mb: np.ndarray
    output_bits: np.ndarray
    qos: np.ndarray
    key: np.ndarray
    deadline_s: np.ndarray | None
    source: str

    @property
    def num_tasks(self) -> int:
        return int(self.arrival.shape[0])

    def head(self, count: int) -> TaskStream:
        """The first ``count`` tasks.

        Raises:
            ValueError: If the stream has fewer.
        """
        if count > self.num_tasks:
            raise ValueError(f"{self.source}: num_tasks={count}, but the window holds only "
                             f"{self.num_tasks} tasks")
        fields = ("arrival", "cycles", "input_bits", "memory_mb", "output_bits", "qos", "key")
        cut = {name: getattr(self, name)[:count] for name in fields}
        deadline = None if self.deadline_s is None else self.deadline_s[:count]
        return replace(self, **cut, deadline_s=deadline)

    def on(self, topology: Topology, name: str = "") -> IoTInstance:
        """The stream as a workload on ``topology`` (devices and deadlines: module docstring)."""
        devices = topology.devices
        device = devices[self.key % len(devices)].astype(np.int64)
        if self.deadline_s is None:
            local_run_s = self.cycles / topology.freq_hz[device]
            deadline = np.asarray(DEADLINE_FACTORS)[self.qos] * local_run_s
        else:
            deadline = self.deadline_s
        instance = IoTInstance(topology, self.arrival, device, self.input_bits, self.cycles,
                               self.memory_mb, self.output_bits, deadline, self.qos, name=name)
        instance.validate()
        return instance


def stable_keys(texts: Iterable[str]) -> np.ndarray:
    """CRC-32 of each text's UTF-8 bytes, (N,) int64: stable across runs and platforms."""
    return np.fromiter((zlib.crc32(text.encode("utf-8")) for text in texts), np.int64)


def check_window(source: str, start: float, duration: float | None, rate_scale: float) -> None:
    """Refuses a bad window or rate scale, naming ``source``.

    Raises:
        ValueError: ``start`` not finite ≥ 0, ``duration`` not None or finite > 0, ``rate_scale``
            not finite > 0.
    """
    if not _is_number(start, positive=False):
        raise ValueError(f"{source}: start must be a finite number of seconds >= 0, got {start!r}")
    if duration is not None and not _is_number(duration, positive=True):
        raise ValueError(f"{source}: duration must be None or finite seconds > 0, got {duration!r}")
    if not _is_number(rate_scale, positive=True):
        raise ValueError(f"{source}: rate_scale must be finite and > 0 (2.0 doubles the rate), "
                         f"got {rate_scale!r}")


def window_mask(source: str, seconds: np.ndarray, start: float,
                duration: float | None) -> np.ndarray:
    """Which of ``seconds`` (file time) lie in ``[start, start + duration)``.

    Raises:
        ValueError: If none does.
    """
    end = math.inf if duration is None else start + duration
    inside = (seconds >= start) & (seconds < end)
    if not inside.any():
        span = f"[{seconds.min():.6f}, {seconds.max():.6f}] s" if len(seconds) else "no tasks"
        raise ValueError(
            f"{source}: no tasks arrive in the window [{start}, {end}) s; the file spans {span}")
    return inside


def check_figure(name: str, value: float, positive: bool = False) -> None:
    """Refuses a loader's scale or default figure that is not a finite number ≥ 0 (> 0 if
    ``positive``).

    Raises:
        ValueError: Naming ``name`` and the value.
    """
    if not _is_number(value, positive):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _is_number(value: object, positive: bool) -> bool:
    """Whether ``value`` is a real number (not a bool), finite and ≥ 0 (> 0 if ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return math.isfinite(value) and (value > 0 if positive else value >= 0)


__all__ = ["TaskStream", "stable_keys", "check_window", "window_mask", "check_figure",
           "DEFAULT_MEMORY_MB", "DEFAULT_OUTPUT_RATIO", "DEADLINE_FACTORS"]
