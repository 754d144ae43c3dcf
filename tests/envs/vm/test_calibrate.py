"""``python -m schedgym.envs.vm.calibrate`` fits request tables to a trace in the official layout
(a hand-made one, written with the loader tests' helpers) and the env generates from them."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401
from schedgym.envs.validation import ArgumentError
from schedgym.envs.vm.calibrate import fit_marginal, main, normal_scores_correlation
from schedgym.envs.vm.requests import RequestTables
from tests.data.test_google_cluster import task, write_part

# 20 running tasks on 4 machines: CPU 0.0625 × 10, 0.125 × 5, then 5 distinct values; memory
# 0.05 × 8, 0.1 × 6, then 6 distinct values. One task finishes before the snapshot at 500 us.
CPU = [0.0625] * 10 + [0.125] * 5 + [0.01, 0.02, 0.2, 0.3, 0.03]
MEM = [0.05] * 8 + [0.1] * 6 + [0.01, 0.02, 0.03, 0.2, 0.25, 0.04]


def _write_trace(root: Path) -> Path:
    write_part(root / "machine_events" / "part-00000-of-00001.csv.gz",
               [f"0,{m},0,P,0.5,0.5" for m in range(1, 5)])
    lines = [task(100, job, 0, str(1 + job % 4), 1, cpu=str(c), mem=str(m))
             for job, (c, m) in enumerate(zip(CPU, MEM))]
    lines += [task(200, 99, 0, "1", 1, cpu="0.0625", mem="0.05"), task(400, 99, 0, "1", 4)]
    lines += [task(900, 98, 0, "", 0, cpu="0.5", mem="0.5")]  # submitted after 500 us only
    write_part(root / "task_events" / "part-00000-of-00001.csv.gz", lines)
    return root


def test_calibrate_writes_the_masses_and_knots_of_the_running_tasks(tmp_path: Path, capsys) -> None:
    trace, out = _write_trace(tmp_path / "trace"), tmp_path / "out" / "tables.json"
    assert main([str(trace), "--out", str(out), "--time", "0.0005", "--masses", "2"]) == 0
    tables = RequestTables.load(out)
    assert tables.cpu_masses == ((0.0625, 0.5), (0.125, 0.25))
    assert tables.mem_masses == ((0.05, 0.4), (0.1, 0.3))
    # The remainder: the 5 other CPU requests' quantiles (0%: min, 50%: median, 100%: max).
    knots = dict(tables.cpu_remainder)
    assert (knots[0.0], knots[0.5], knots[1.0]) == (0.01, 0.03, 0.3)
    assert dict(tables.mem_remainder)[1.0] == 0.25
    expected = normal_scores_correlation(np.array(CPU), np.array(MEM))
    assert tables.copula_correlation == pytest.approx(expected) and expected > 0.3
    assert "20 running tasks" in tables.source
    printed = capsys.readouterr().out
    assert "CPU: 2 point masses covering 75.0%" in printed
    assert "memory: 2 point masses covering 70.0%" in printed
    assert [p.name for p in out.parent.iterdir()] == ["tables.json"]  # written atomically

    # The env generates from the fitted tables: every CPU request is 8 or 16 cores, or one of the
    # remainder's range (0.01-0.3 CPU: 2-39 cores).
    env = gym.make("schedgym/VMReschedule-v2", size="small", request_tables=out)
    env.reset(seed=0)
    cores = env.unwrapped.state.instance.vm_cpu
    assert np.isin(cores, [8, 16]).mean() > 0.5 and cores.min() >= 2 and cores.max() <= 40


def test_fit_marginal_skips_values_seen_once_and_breaks_ties_by_value() -> None:
    masses, knots = fit_marginal(np.array([0.3, 0.3, 0.2, 0.2, 0.1, 0.4]), masses=3)
    assert masses == ((0.2, 2 / 6), (0.3, 2 / 6))  # 0.1 and 0.4 occur once: no mass
    assert knots[0] == (0.0, 0.1) and knots[-1] == (1.0, 0.4)


def test_calibrate_reports_a_bad_trace_directory(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "none"), "--out", str(tmp_path / "t.json")]) == 2
    assert "trace directory not found" in capsys.readouterr().err
    assert not (tmp_path / "t.json").exists()


def test_env_refuses_bad_request_tables_naming_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "tables.json"
    path.write_text(json.dumps({"format": 1, "cpu_masses": []}))
    missing = r"request_tables=.*tables.json: missing field 'cpu_remainder'"
    with pytest.raises(ArgumentError, match=missing):
        gym.make("schedgym/VMReschedule-v2", request_tables=path)
    with pytest.raises(ArgumentError, match=r"request_tables must be the path of an existing file"):
        gym.make("schedgym/VMReschedule-v2", request_tables=tmp_path / "none.json")
