"""Strict reading of the small comma-separated trace files that the loaders accept (Azure LLM,
RayCloudSim): the header must be one of the known layouts and every line must have exactly its
fields, so that a line number in an error is the file's own; the fields come back as stripped
text for each loader to parse and check.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd


def read_table(path: Path, layouts: Mapping[tuple[str, ...], str], rows: str,
               error: type[ValueError]) -> tuple[tuple[str, ...], pd.DataFrame]:
    """Checks the header and the field count of every line of ``path``.

    Args:
        path: The file.
        layouts: The headers accepted (column names), each with its name for the message.
        rows: What one line after the header holds ("request", "task"), for the message.
        error: The loader's format error, raised with file, line and what is wrong.

    Returns:
        The header's columns and the fields as stripped text, one row per line.
    """
    raw = path.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n")  # tolerate CRLF and trailing newlines
    text = raw.decode("utf-8-sig", errors="replace")  # utf-8-sig drops a byte-order mark
    expected = " or ".join(f"{','.join(columns)!r} ({name})" for columns, name in layouts.items())
    if not text.strip():
        raise error(f"{path}: empty file; expected the header {expected} and one line per {rows}")
    header, _, body = text.partition("\n")
    columns = tuple(name.strip() for name in header.split(","))
    if columns not in layouts:
        raise error(f"{path}: line 1: unknown header {header!r}; expected {expected}")
    if not body:
        raise error(f"{path}: no {rows}s after the header line")
    lines = pd.Series(body.split("\n"))
    commas = lines.str.count(",").to_numpy()
    wrong = np.flatnonzero(commas != len(columns) - 1)
    if wrong.size:
        row = int(wrong[0])
        raise error(f"{path}: line {row + 2}: expected {len(columns)} comma-separated fields "
                    f"({', '.join(columns)}), found {commas[row] + 1}: {lines.iat[row][:120]!r}")
    # QUOTE_NONE and "\n" as the only terminator keep pandas' rows identical to the lines checked above.
    frame = pd.read_csv(io.StringIO(body), header=None, names=list(columns), dtype=str,
                        keep_default_na=False, na_filter=False, quoting=csv.QUOTE_NONE,
                        lineterminator="\n", skip_blank_lines=False)
    return columns, frame.apply(lambda column: column.str.strip())


def fail_first(error: type[ValueError], path: Path, bad: np.ndarray, text: pd.Series, reason: str) -> None:
    """Raises ``error`` for the first row flagged in ``bad``, if any, naming its line and field."""
    rows = np.flatnonzero(bad)
    if rows.size:
        row = int(rows[0])
        raise error(f"{path}: line {row + 2}, field {text.name!r}: {reason}, got {text.iat[row]!r}")
