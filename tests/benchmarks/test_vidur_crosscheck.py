"""The Vidur cross-check's claims on a small workload (skipped without the ``vidur`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("vidur", reason="the vidur extra is not installed")

from benchmarks import vidur_crosscheck as crosscheck  # noqa: E402
from schedgym.envs.llm.generator import sample_instance  # noqa: E402
from schedgym.envs.llm.vidur import run_native  # noqa: E402


def test_with_vidurs_token_limit_schedgyms_fcfs_is_vidurs_vllm() -> None:
    # Bursts of long prompts, where the two prefill limits pick different batches.
    instance = sample_instance(np.random.default_rng(3), num_requests=80, rate=3.5, cv=3.0)
    vidur = run_native(instance, "vllm")
    result = {"ttft": vidur.ttft, "tpot": vidur.tpot, "e2e": vidur.e2e}
    aligned = crosscheck.agreement(
        result, crosscheck.schedgym_metrics(instance, crosscheck.SumLimitFCFS()))
    assert all(row["abs_p99"] == 0.0 for row in aligned)
    padded = crosscheck.agreement(result, crosscheck.schedgym_metrics(
        instance, crosscheck.baselines.make(crosscheck.ENV_ID, "fcfs")))
    assert any(row["differ"] > 0 for row in padded)


def test_the_benchmark_runs_on_the_generator_without_the_trace(capsys) -> None:
    assert crosscheck.main(["--trace", str(Path("no-such-trace.csv")), "--requests", "30",
                            "--schedgym-repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "30 requests" in out and out.count("| adapter |") == 4  # three metrics and the speed
