"""The leaderboard harness and the evaluate.py CLI."""

from __future__ import annotations

import dataclasses
import functools
import re
import signal
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from schedgym import baselines
from schedgym import evaluate
from schedgym.policies.evaluation import evaluate as run_leaderboard
from schedgym.policies.evaluation import (KEY_COLUMNS, ResultsFile, leaderboard, replay,
                                         result_columns, run_episode)
from schedgym.data.instance_sets import InstanceSet, load_named
from schedgym.envs.vm.env import VMRescheduleEnv

ENV_ID = "schedgym/VMReschedule-v1"


def _small_set(count: int) -> InstanceSet:
    full = VMRescheduleEnv.load_instance_set("small-test")
    return InstanceSet(full.name, full.env_kwargs, full.instances[:count])


def test_rows_per_episode_and_replayable_actions() -> None:
    schedulers = {name: functools.partial(baselines.make, ENV_ID, name) for name in ("random", "greedy")}
    results = run_leaderboard(ENV_ID, _small_set(3), schedulers, seeds=[0, 1], progress=False)
    assert len(results) == 3 * 2 * 2
    assert {"env_id", "instance_set", "instance", "policy", "seed", "fragment_rate", "wall_s",
            "actions"} <= set(results)
    assert (results["wall_s"] > 0).all()
    env = gym.make(ENV_ID, **_small_set(3).env_kwargs)
    instances = {inst.name: inst for inst in _small_set(3).instances}
    for row in results.itertuples():
        metrics = replay(env, instances[row.instance], row.seed, [int(a) for a in row.actions.split()])
        assert metrics["fragment_rate"] == pytest.approx(row.fragment_rate)
        assert metrics["migrations"] == row.migrations


def test_llm_baselines_run_headless_with_the_metrics_actions_and_state_of_stepping_the_env() -> None:
    llm = "schedgym/LLMServe-v0"
    full = load_named("llm", "tenants-flood").instances[0]
    per_request = ("arrival", "prompt_tokens", "output_tokens", "max_new_tokens", "tenant",
                   "ttft_slo", "tpot_slo")
    instance = dataclasses.replace(full, **{name: getattr(full, name)[:8] for name in per_request})
    for name in ("random", "fcfs", "vtc"):
        env = gym.make(llm, window=4)
        llm_env, played = env.unwrapped, []
        finish = llm_env.finish_headless
        llm_env.finish_headless = lambda scheduler: played.append(finish(scheduler)) or played[-1]
        fast = run_episode(env, baselines.make(llm, name), instance, seed=1)
        assert len(played) == 1 and played[0] is not None, name  # the headless path played it
        fast_obs = {key: value.copy() for key, value in llm_env.observation().items()}
        slow = run_episode(env, baselines.make(llm, name), instance, seed=1, headless=False)
        assert fast.actions == slow.actions, name
        np.testing.assert_equal(fast.metrics, slow.metrics)
        np.testing.assert_equal(fast_obs, llm_env.observation())  # the same final state
        np.testing.assert_equal(replay(env, instance, 1, fast.actions), fast.metrics)


def test_leaderboard_reports_mean_and_std_per_policy() -> None:
    results = pd.DataFrame(
        {"policy": ["a", "a", "b"], "fragment_rate": [0.2, 0.4, 0.5], "wall_s": [100.0, 300.0, 2.0],
         "solver_status": ["optimal", "feasible", ""]}
    )
    table = leaderboard(results, ["fragment_rate"])
    lines = table.splitlines()
    assert lines[0] == "| policy | episodes | fragment_rate | wall_s |"
    assert lines[2] == "| a | 2 | 0.3000 ± 0.1000 | 200.0 ± 100.0 |"
    assert lines[3] == "| b | 1 | 0.5000 ± 0.0000 | 2.00 ± 0.00 |"
    assert "a feasible × 1" in table and "a optimal × 1" in table


def test_leaderboard_shows_the_bound_and_the_gap_to_it() -> None:
    results = pd.DataFrame(
        {"policy": ["a", "a", "b"], "fragment_rate": [0.2, 0.4, 0.5],
         "fr_lower_bound": [0.1, 0.1, 0.5], "wall_s": [1.0, 1.0, 1.0], "solver_status": [""] * 3}
    )
    bounds = {"fragment_rate": "fr_lower_bound"}
    lines = leaderboard(results, ["fragment_rate"], bounds).splitlines()
    assert lines[0] == ("| policy | episodes | fragment_rate | fr_lower_bound | fragment_rate gap "
                        "| wall_s |")
    assert lines[2] == ("| a | 2 | 0.3000 ± 0.1000 | 0.1000 ± 0.0000 | 0.2000 ± 0.1000 "
                        "| 1.00 ± 0.00 |")
    assert lines[3] == ("| b | 1 | 0.5000 ± 0.0000 | 0.5000 ± 0.0000 | 0.0000 ± 0.0000 "
                        "| 1.00 ± 0.00 |")
    # Without the bound column (an env without bounds), the table is the plain one.
    plain = leaderboard(results.drop(columns="fr_lower_bound"), ["fragment_rate"], bounds)
    assert plain.splitlines()[0] == "| policy | episodes | fragment_rate | wall_s |"


def test_cli_prints_the_leaderboard_and_writes_csv(tmp_path, capsys) -> None:
    out = tmp_path / "results.csv"
    code = evaluate.main(["--env", ENV_ID, "--instances", "small-test,small-val", "--policies",
                          "random,greedy", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "on small-test (20 instances" in printed and "on small-val (20 instances" in printed
    assert printed.count("| greedy | 20 |") == 2 and printed.count("| random | 20 |") == 2
    rows = pd.read_csv(out)
    assert len(rows) == 80 and set(rows["policy"]) == {"random", "greedy"}
    assert rows.groupby("instance_set").size().to_dict() == {"small-test": 40, "small-val": 40}
    # Every VM row carries its instance's proven bound, which no policy beats; the table shows
    # the bound and each policy's gap to it.
    assert (rows["fr_lower_bound"] <= rows["fragment_rate"] + 1e-12).all()
    assert (rows.groupby(["instance_set", "instance"])["fr_lower_bound"].nunique() == 1).all()
    assert (rows["fr_lower_bound"] > 0).any()
    assert printed.count("| fr_lower_bound | fragment_rate gap | wall_s |") == 2


def _cli_failure(capsys, argv: list[str]):
    """What evaluate.py printed for ``argv``; it must exit 2 with ``PROG: error: ...``, no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--env", ENV_ID, *argv])
    assert exit_info.value.code == 2
    printed = capsys.readouterr()
    assert ": error: " in printed.err and "Traceback" not in printed.err
    return printed


def _cli_error(capsys, argv: list[str]) -> str:
    return _cli_failure(capsys, argv).err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--instances", "nope-test", "--policies", "greedy"], "no instance set 'nope-test'"),
        (["--instances", "small-test", "--policies", "magic"], "unknown policy 'magic'"),
        (["--instances", "small-test", "--resume"], "--resume needs --out"),
    ],
)
def test_cli_rejects_bad_names(capsys, argv, message) -> None:
    assert message in _cli_error(capsys, argv)


@pytest.mark.parametrize("suffix", [".zip", ".onnx"])
def test_cli_rejects_corrupt_policy_files_with_their_name(tmp_path, capsys, suffix) -> None:
    bad = tmp_path / f"model{suffix}"
    bad.write_bytes(b"not a model")
    assert f"{bad} is " in _cli_error(capsys, ["--instances", "small-test", "--policies", str(bad)])


def test_cli_rejects_a_policy_trained_for_another_env(capsys) -> None:
    err = _cli_error(capsys, ["--instances", "small-test", "--policies", "pretrained:soc"])
    assert f"soc.onnx is a policy for schedgym/SoCDAG-v0, not for {ENV_ID}" in err


def test_cli_refuses_a_policy_of_another_size_before_any_episode(capsys) -> None:
    printed = _cli_failure(capsys, ["--instances", "small-test,medium-test", "--policies", "greedy,pretrained:vm",
                                    "--no-progress"])
    assert "pretrained:vm cannot run on medium-test" in printed.err
    assert "| greedy |" not in printed.out, "no set may run before the check"


# --- the results file -----------------------------------------------------------------------

COLUMNS = result_columns(VMRescheduleEnv.leaderboard_metrics)


def _row(instance: str, seed: int = 0) -> dict:
    metrics = dict.fromkeys(VMRescheduleEnv.leaderboard_metrics, 0.5)
    return {"env_id": ENV_ID, "instance_set": "small-test", "instance": instance, "policy": "greedy", "seed": seed,
            **metrics, "wall_s": 0.01, "solver_status": "", "actions": "3 7 0"}


def test_results_file_writes_the_header_once_and_each_key_once(tmp_path) -> None:
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS) as first, ResultsFile(path, COLUMNS, resume=True) as second:
        assert first.append(_row("a"))
        assert not second.append(_row("a")), "the other writer's row must be seen under the lock"
        assert second.append(_row("b"))
        assert not first.append(_row("b"))
        assert (first.written, second.written) == (1, 1)
        rows = first.read()
    assert path.read_text().count("env_id,") == 1
    assert list(rows.columns) == COLUMNS and list(rows["instance"]) == ["a", "b"]
    assert rows["solver_status"].tolist() == ["", ""] and rows["actions"].tolist() == ["3 7 0"] * 2


def test_results_file_cuts_an_incomplete_last_line_with_a_warning(tmp_path) -> None:
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS) as results:
        results.append(_row("a"))
    complete = path.read_bytes()
    path.write_bytes(complete + b"schedgym/VMReschedule-v1,small-te")  # a writer killed mid-row
    with pytest.warns(UserWarning, match="dropped an incomplete last line"):
        results = ResultsFile(path, COLUMNS, resume=True)
    with results:
        assert path.read_bytes() == complete and results.keys == {(ENV_ID, "small-test", "a", "greedy", "0")}
        results.append(_row("b"))
    assert len(pd.read_csv(path)) == 2


def test_results_file_resumes_over_rows_with_long_action_sequences(tmp_path) -> None:
    path = tmp_path / "results.csv"
    long_row = {**_row("a"), "actions": " ".join(["123"] * 100_000)}  # 400 kB, as an LLM episode's
    with ResultsFile(path, COLUMNS) as results:
        results.append(long_row)
    with ResultsFile(path, COLUMNS, resume=True) as results:
        assert results.keys == {(ENV_ID, "small-test", "a", "greedy", "0")}
        assert results.read()["actions"][0] == long_row["actions"]


def test_results_file_refuses_rows_without_resume_and_other_columns(tmp_path) -> None:
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS) as results:
        results.append(_row("a"))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=f"{path} already holds 1 rows: pass --resume"):
        ResultsFile(path, COLUMNS)
    with pytest.raises(ValueError, match="has the columns 'env_id,.*this run writes 'env_id,.*makespan"):
        ResultsFile(path, [*COLUMNS[:5], "makespan", *COLUMNS[-3:]], resume=True)
    assert path.read_bytes() == before
    path.write_bytes(before + b"spliced,row\n")
    with pytest.raises(ValueError, match=f"line 3 has 2 fields, its header {len(COLUMNS)}: the file is damaged"):
        ResultsFile(path, COLUMNS, resume=True)


def test_cli_refuses_an_existing_results_file_without_resume(tmp_path, capsys) -> None:
    out = tmp_path / "results.csv"
    argv = ["--instances", "small-test", "--policies", "greedy", "--out", str(out), "--no-progress"]
    assert evaluate.main(["--env", ENV_ID, *argv]) == 0
    assert f"{out}: wrote 20 new rows, 0 already present" in capsys.readouterr().out
    before = out.read_bytes()
    err = _cli_error(capsys, argv)
    assert f"{out} already holds 20 rows: pass --resume" in err
    assert out.read_bytes() == before


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "schedgym.evaluate", "--env", ENV_ID, "--instances", "small-test",
            "--no-progress", *argv]


def _data_lines(path) -> int:
    return path.read_bytes().count(b"\n") - 1 if path.exists() else 0


def test_a_killed_run_keeps_complete_rows_and_resume_completes_it(tmp_path) -> None:
    out = tmp_path / "results.csv"
    command = _cli("--policies", "random,greedy", "--seeds", "0,1,2,3,4", "--out", str(out))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # a bound for a broken run, not a measurement
    while _data_lines(out) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()  # SIGKILL: no handler, no flush, no cleanup
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    process.stderr.close()
    kept = pd.read_csv(out)
    assert 3 <= len(kept) < 200 and out.read_bytes().endswith(b"\n")
    assert kept.drop(columns="solver_status").notna().all().all(), "only complete rows"

    with open(out, "ab") as handle:  # the worst case: a kill inside a row's write
        handle.write(out.read_bytes().splitlines(keepends=True)[-1][:40])
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert "dropped an incomplete last line" in resumed.stderr
    assert f"wrote {200 - len(kept)} new rows, {len(kept)} already present" in resumed.stdout
    assert "| random | 100 |" in resumed.stdout and "| greedy | 100 |" in resumed.stdout
    final = pd.read_csv(out)
    assert len(final) == 200 and not final.duplicated(list(KEY_COLUMNS)).any()
    pd.testing.assert_frame_equal(final.iloc[:len(kept)], kept)


def test_concurrent_runs_append_to_one_file_without_duplicates(tmp_path) -> None:
    out = tmp_path / "results.csv"
    commands = [_cli("--policies", "random,greedy", "--seeds", "0,1", "--out", str(out), "--resume"),
                _cli("--policies", "greedy,random", "--seeds", "1,2", "--out", str(out), "--resume")]
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in outputs]
    rows = pd.read_csv(out)
    assert out.read_text().count("env_id,") == 1
    assert len(rows) == 20 * 2 * 3 and not rows.duplicated(list(KEY_COLUMNS)).any()
    assert set(rows["seed"]) == {0, 1, 2} and set(rows["policy"]) == {"random", "greedy"}
    written = [int(re.search(r"wrote (\d+) new rows, (\d+) already present", stdout)[1]) for stdout, _ in outputs]
    assert sum(written) == len(rows)
    for stdout, _ in outputs:
        assert "| random | 40 |" in stdout and "| greedy | 40 |" in stdout
