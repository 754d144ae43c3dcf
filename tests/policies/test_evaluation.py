"""The leaderboard harness and the evaluate.py CLI."""

from __future__ import annotations

import functools

import gymnasium as gym
import pandas as pd
import pytest

from schedgym import baselines
from schedgym import evaluate
from schedgym.policies.evaluation import evaluate as run_leaderboard
from schedgym.policies.evaluation import leaderboard, replay
from schedgym.data.instance_sets import InstanceSet
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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--instances", "nope-test", "--policies", "greedy"], "no instance set 'nope-test'"),
        (["--instances", "small-test", "--policies", "magic"], "unknown policy 'magic'"),
    ],
)
def test_cli_rejects_bad_names(argv, message) -> None:
    with pytest.raises(SystemExit, match=message):
        evaluate.main(["--env", ENV_ID, *argv])


@pytest.mark.parametrize("suffix", [".zip", ".onnx"])
def test_cli_rejects_corrupt_policy_files_with_their_name(tmp_path, suffix) -> None:
    bad = tmp_path / f"model{suffix}"
    bad.write_bytes(b"not a model")
    with pytest.raises(SystemExit, match=f"model\\{suffix} is not a"):
        evaluate.main(["--env", ENV_ID, "--instances", "small-test", "--policies", str(bad)])


def test_cli_rejects_a_policy_trained_for_another_env() -> None:
    with pytest.raises(SystemExit, match="trained for schedgym/SoCDAG-v0"):
        evaluate.main(["--env", ENV_ID, "--instances", "small-test", "--policies", "pretrained:soc"])


def test_cli_refuses_a_policy_of_another_size_before_any_episode(capsys) -> None:
    with pytest.raises(SystemExit, match="pretrained:vm cannot run on medium-test"):
        evaluate.main(["--env", ENV_ID, "--instances", "small-test,medium-test", "--policies",
                       "greedy,pretrained:vm", "--no-progress"])
    assert "| greedy |" not in capsys.readouterr().out, "no set may run before the check"
