"""Tests for data.azure_llm: both layouts, windows and rate scaling, every malformation, the real trace."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schedgym.data.azure_llm import Trace, TraceFormatError, load_trace
from schedgym.envs.llm.generator import instance_from_trace

# The shared copy of the conversation trace (not part of the project): ../shared/ beside the repository.
CONV_CSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "azure_llm_2023" / "conv.csv"

ORIGINAL_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens"
RELATIVE_HEADER = "arrived_at,num_prefill_tokens,num_decode_tokens"
# The same five requests in both layouts; the last two cross midnight 100 ns apart.
ORIGINAL_ROWS = [
    "2023-11-16 18:15:46.6805900,374,44",
    "2023-11-16 18:15:50.9951690,396,109",
    "2023-11-16 18:15:50.9951690,879,55",
    "2023-11-16 23:59:59.9999999,91,16",
    "2023-11-17 00:00:00.0000000,2048,1",
]
RELATIVE_ROWS = ["0.0,374,44", "4.314579,396,109", "4.314579,879,55", "20653.3194099,91,16",
                 "20653.31941,2048,1"]


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def relative_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "relative.csv", RELATIVE_HEADER, RELATIVE_ROWS)


@pytest.fixture
def conv_csv() -> Path:
    if not CONV_CSV.is_file():
        pytest.skip(f"the shared Azure conversation trace is not at {CONV_CSV}")
    return CONV_CSV


def test_both_layouts_give_the_same_arrays(tmp_path: Path, relative_csv: Path) -> None:
    original = load_trace(write(tmp_path / "original.csv", ORIGINAL_HEADER, ORIGINAL_ROWS))
    relative = load_trace(relative_csv)
    for field in ("arrival", "prompt_tokens", "output_tokens"):
        np.testing.assert_array_equal(getattr(original, field), getattr(relative, field))
    assert original.arrival.dtype == np.float64 and original.prompt_tokens.dtype == np.int64
    np.testing.assert_array_equal(relative.prompt_tokens, [374, 396, 879, 91, 2048])
    # 7-digit fractions are exact: the midnight pair is 100 ns apart, equal times stay equal.
    assert original.arrival[4] - original.arrival[3] == pytest.approx(1e-7, abs=1e-9)
    assert original.arrival[1] == original.arrival[2]
    assert original.source == str(tmp_path / "original.csv")


def test_window_and_rate_scale(relative_csv: Path) -> None:
    full = load_trace(relative_csv)
    window = load_trace(relative_csv, start=4.0, duration=20000.0)
    # [4, 20004) holds requests 1 and 2, measured from the window start.
    np.testing.assert_allclose(window.arrival, full.arrival[1:3] - 4.0)
    np.testing.assert_array_equal(window.prompt_tokens, [396, 879])
    doubled = load_trace(relative_csv, start=4.0, rate_scale=2.0)
    np.testing.assert_allclose(doubled.arrival, (full.arrival[1:] - 4.0) / 2.0)
    assert load_trace(relative_csv, start=4.314579).num_requests == 4  # the start is inclusive


def test_tolerates_crlf_a_byte_order_mark_and_spaces(tmp_path: Path, relative_csv: Path) -> None:
    messy = tmp_path / "messy.csv"
    content = "\ufeff" + "\r\n".join([" arrived_at, num_prefill_tokens ,num_decode_tokens",
                                       *(row.replace(",", ", ") for row in RELATIVE_ROWS)]) + "\r\n\r\n"
    messy.write_bytes(content.encode("utf-8"))
    clean, read = load_trace(relative_csv), load_trace(messy)
    np.testing.assert_array_equal(read.arrival, clean.arrival)
    np.testing.assert_array_equal(read.output_tokens, clean.output_tokens)


FIRST = "0.0,374,44"
STAMP = "2023-11-16 18:15:46.6805900"
WHOLE, POSITIVE, FINITE = "expected a whole number of tokens", "expected at least 1 token", "expected a finite number"
FIELDS = "expected 3 comma-separated fields"


@pytest.mark.parametrize(
    ("header", "rows", "where"),
    [
        (RELATIVE_HEADER, [FIRST, "1.0,x,5"], rf"line 3, field 'num_prefill_tokens': {WHOLE}, got 'x'"),
        (RELATIVE_HEADER, [FIRST, "1.0,12.5,5"], rf"line 3, field 'num_prefill_tokens': {WHOLE}, got '12.5'"),
        (RELATIVE_HEADER, [FIRST, "1.0,10,"], rf"line 3, field 'num_decode_tokens': {WHOLE}, got ''"),
        (RELATIVE_HEADER, [FIRST, "1.0,10,-3"], rf"line 3, field 'num_decode_tokens': {POSITIVE}, got '-3'"),
        (RELATIVE_HEADER, [FIRST, "1.0,10,5", "2.0,0,5"], rf"line 4, field 'num_prefill_tokens': {POSITIVE}, got '0'"),
        (ORIGINAL_HEADER, [f"{STAMP},1,0"], rf"line 2, field 'GeneratedTokens': {POSITIVE}, got '0'"),
        (RELATIVE_HEADER, [FIRST, "inf,10,5"], rf"line 3, field 'arrived_at': {FINITE} of seconds, got 'inf'"),
        (RELATIVE_HEADER, ["nan,374,44"], rf"line 2, field 'arrived_at': {FINITE} of seconds, got 'nan'"),
        (RELATIVE_HEADER, [FIRST, "2.0,10,5", "1.5,10,5"],
         r"line 4, field 'arrived_at': '1.5' is earlier than '2.0' on line 3; requests must be in arrival order"),
        (ORIGINAL_HEADER, [f"{STAMP},374,44", "2023-11-16 18:15:46.6805899,10,5"],
         rf"line 3, field 'TIMESTAMP': '2023-11-16 18:15:46.6805899' is earlier than '{STAMP}' on line 2"),
        (ORIGINAL_HEADER, [f"{STAMP},374,44", "2023-13-40 25:00:00,10,5"],
         r"line 3, field 'TIMESTAMP': expected a timestamp .*, got '2023-13-40 25:00:00'"),
        (RELATIVE_HEADER, [FIRST, "1.0,10"], rf"line 3: {FIELDS} .*, found 2: '1.0,10'"),
        (RELATIVE_HEADER, [FIRST, "", "2.0,10,5"], rf"line 3: {FIELDS} .*, found 1: ''"),
        (RELATIVE_HEADER, [f"{FIRST},7"], rf"line 2: {FIELDS} .*, found 4"),
        ("time,prompt,output", [FIRST],
         r"line 1: unknown header 'time,prompt,output'; expected 'TIMESTAMP,ContextTokens,GeneratedTokens' "
         r"\(original Azure layout\) or 'arrived_at,num_prefill_tokens,num_decode_tokens' \(Vidur's layout\)"),
        (RELATIVE_HEADER, [], r"no requests after the header line"),
    ],
)
def test_malformed_files_name_file_line_field_and_value(tmp_path: Path, header: str, rows: list[str],
                                                         where: str) -> None:
    path = write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(TraceFormatError, match=rf"^{re.escape(str(path))}: {where}"):
        load_trace(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(TraceFormatError, match=rf"^{re.escape(str(empty))}: empty file"):
        load_trace(empty)
    with pytest.raises(FileNotFoundError):
        load_trace(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rate_scale": 0.0}, "rate_scale must be finite and > 0 .*got 0.0"),
        ({"rate_scale": float("nan")}, "rate_scale must be finite and > 0 .*got nan"),
        ({"rate_scale": -2.0}, "rate_scale must be finite and > 0 .*got -2.0"),
        ({"start": -1.0}, "start must be a finite number of seconds ≥ 0, got -1.0"),
        ({"duration": 0.0}, "duration must be None or finite seconds > 0, got 0.0"),
        ({"start": 5.0, "duration": 10.0},
         r"no requests in the window \[5.0, 15.0\) s; the trace spans \[0, 20653.319410\] s"),
        ({"start": 1e6}, r"no requests in the window \[1000000.0, inf\) s"),
    ],
)
def test_bad_arguments_and_empty_windows(relative_csv: Path, arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(str(relative_csv))}: {message}"):
        load_trace(relative_csv, **arguments)


def test_the_real_conversation_trace(conv_csv: Path) -> None:
    trace = load_trace(conv_csv)
    assert isinstance(trace, Trace) and trace.num_requests == 19_366
    assert trace.num_requests / trace.arrival[-1] == pytest.approx(5.53, rel=0.01)  # Traces table: 5.53 req/s
    assert trace.prompt_tokens.mean() == pytest.approx(1155, rel=0.01)
    assert trace.output_tokens.mean() == pytest.approx(211, rel=0.01)
    gaps = np.diff(trace.arrival)
    assert gaps.std() / gaps.mean() == pytest.approx(1.09, rel=0.02)
    table = pd.read_csv(conv_csv)
    np.testing.assert_array_equal(trace.prompt_tokens, table["num_prefill_tokens"])


def test_a_real_window_at_double_rate_becomes_an_instance(conv_csv: Path) -> None:
    full = load_trace(conv_csv)
    window = load_trace(conv_csv, start=600.0, duration=300.0, rate_scale=2.0)
    inside = (full.arrival >= 600.0) & (full.arrival < 900.0)
    assert window.num_requests == inside.sum()
    assert window.arrival.max() < 150.0
    np.testing.assert_array_equal(window.output_tokens, full.output_tokens[inside])
    over = int(((window.prompt_tokens + window.output_tokens) > 4096).sum())
    assert over > 0
    expected = rf"{over} of {window.num_requests} requests have prompt \+ output > max_model_len=4096"
    with pytest.warns(UserWarning, match=expected):
        instance = instance_from_trace(window, name="conv-window")
    assert instance.num_requests == window.num_requests and instance.arrival[0] == 0.0
    assert np.all(instance.prompt_tokens + instance.max_new_tokens <= 4096)
