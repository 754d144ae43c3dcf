"""Azure LLM inference traces 2023 (Patel et al., "Splitwise", ISCA 2024; Azure Public Dataset,
CC-BY 4.0): one request per line with its arrival time, prompt length and generated length.

Two layouts are read, told apart by the header line:

* original, ``TIMESTAMP,ContextTokens,GeneratedTokens``: absolute timestamps such as
  ``2023-11-16 18:15:46.6805900`` (up to 9 fractional digits, parsed exactly to the nanosecond);
* Vidur's copy, ``arrived_at,num_prefill_tokens,num_decode_tokens``: seconds as decimals.

Trace time is seconds since the first row in both. Rows must already be in arrival order: a
timestamp earlier than the one before is an error, not something to sort, since silent
reordering could hide a corrupt or concatenated file. Equal timestamps are allowed. Token counts
must be whole numbers ≥ 1.

Every problem in a file raises :class:`TraceFormatError` naming the file and, where it applies,
the 1-based line (the header is line 1), the field and the bad value. Parsing and validation are
vectorised (pandas and numpy), so a file of tens of thousands of rows loads in milliseconds.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from schedgym.data.csv_table import fail_first, read_table

ORIGINAL_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
RELATIVE_COLUMNS = ("arrived_at", "num_prefill_tokens", "num_decode_tokens")
_LAYOUTS = {ORIGINAL_COLUMNS: "original Azure layout", RELATIVE_COLUMNS: "Vidur's layout"}
_NANOSECONDS = 1e9


class TraceFormatError(ValueError):
    """A file does not follow either Azure LLM trace layout; the message says where and why."""


_fail_first = partial(fail_first, TraceFormatError)


@dataclass(frozen=True)
class Trace:
    """The requests of a trace window, in arrival order.

    Attributes:
        arrival: (R,) float64 seconds since the window start, after rate scaling; non-decreasing.
        prompt_tokens: (R,) int64 ≥ 1, the prompt (context) length.
        output_tokens: (R,) int64 ≥ 1, the generated length.
        source: The file read.
    """

    arrival: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str

    @property
    def num_requests(self) -> int:
        return int(self.arrival.shape[0])


def load_trace(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    rate_scale: float = 1.0,
) -> Trace:
    """Reads an Azure LLM trace file and returns the requests of one window.

    Args:
        path: CSV file in either layout (see the module docstring).
        start: Window start, seconds of trace time (since the first row).
        duration: Window length in seconds of trace time; None runs to the end of the file. The
            window is ``[start, start + duration)``.
        rate_scale: Speed-up of the arrival process: inter-arrival times are divided by it, so 2.0
            doubles the request rate. Applied after the window is cut.

    Returns:
        The window's requests, arrivals measured from ``start`` and divided by ``rate_scale``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TraceFormatError: The file is malformed; the message names file, line, field and value.
        ValueError: A bad ``start``, ``duration`` or ``rate_scale``, or a window without requests.
    """
    path = Path(path)
    _check_window_arguments(path, start, duration, rate_scale)
    columns, frame = read_table(path, _LAYOUTS, "request", TraceFormatError)
    seconds = _trace_seconds(path, columns[0], frame[columns[0]])
    prompt = _token_counts(path, columns[1], frame[columns[1]])
    output = _token_counts(path, columns[2], frame[columns[2]])
    end = math.inf if duration is None else start + duration
    inside = (seconds >= start) & (seconds < end)
    if not inside.any():
        raise ValueError(
            f"{path}: no requests in the window [{start}, {end}) s; the trace spans "
            f"[0, {seconds[-1]:.6f}] s"
        )
    return Trace(
        arrival=(seconds[inside] - start) / rate_scale,
        prompt_tokens=prompt[inside],
        output_tokens=output[inside],
        source=str(path),
    )


def _check_window_arguments(path: Path, start: float, duration: float | None, rate_scale: float) -> None:
    if not (math.isfinite(start) and start >= 0):
        raise ValueError(f"{path}: start must be a finite number of seconds ≥ 0, got {start!r}")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"{path}: duration must be None or finite seconds > 0, got {duration!r}")
    if not (math.isfinite(rate_scale) and rate_scale > 0):
        raise ValueError(f"{path}: rate_scale must be finite and > 0 (2.0 doubles the rate), got {rate_scale!r}")


def _trace_seconds(path: Path, column: str, text: pd.Series) -> np.ndarray:
    """Arrival times as float64 seconds since the first row; checks they are finite and ordered."""
    if column == "TIMESTAMP":
        # utc=True: naive stamps (the Azure files) are read as UTC, offsets are honoured.
        stamps = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        _fail_first(path, stamps.isna().to_numpy(), text,
                    "expected a timestamp such as '2023-11-16 18:15:46.6805900'")
        # Integer nanoseconds keep the 7-digit fractions exact before the one conversion to float.
        nanoseconds = stamps.dt.tz_localize(None).dt.as_unit("ns").astype(np.int64).to_numpy()
        seconds = (nanoseconds - nanoseconds[0]) / _NANOSECONDS
    else:
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        _fail_first(path, ~np.isfinite(values), text, "expected a finite number of seconds")
        seconds = values - values[0]
    earlier = np.flatnonzero(np.diff(seconds) < 0) + 1
    if earlier.size:
        row = int(earlier[0])
        raise TraceFormatError(
            f"{path}: line {row + 2}, field {column!r}: {text.iat[row]!r} is earlier than "
            f"{text.iat[row - 1]!r} on line {row + 1}; requests must be in arrival order"
        )
    return seconds


def _token_counts(path: Path, column: str, text: pd.Series) -> np.ndarray:
    """A token-count field as int64, each a whole number ≥ 1."""
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    whole = np.isfinite(values) & (values == np.floor(values)) & (values < 2.0**53)
    _fail_first(path, ~whole, text, "expected a whole number of tokens")
    _fail_first(path, values < 1, text, "expected at least 1 token")
    return values.astype(np.int64)
