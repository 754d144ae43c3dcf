"""A real train.py run killed with SIGKILL at several points and resumed each time: it completes,
loses at most one checkpoint interval per kill, logs every step once (eval_curve.json and
TensorBoard), keeps its wall time and imitation record, and a finished run is left untouched."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import train
from schedgym.policies import runtime
from schedgym.policies.checkpoint import read_state

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs POSIX signals and /proc")

TRAIN = Path(__file__).resolve().parents[2] / "train.py"
TIMESTEPS, ROLLOUT, INTERVAL, EVAL_FREQ = 512, 32, 64, 128
TINY = [
    "--env", "schedgym/VMReschedule-v1", "--timesteps", str(TIMESTEPS), "--seed", "5", "--no-progress",
    "--set", "n_envs=2", "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32", "--set", "ppo.n_epochs=1",
    "--set", "policy.width=8", "--set", "policy.depth=1", "--set", f"checkpoint_freq={INTERVAL}",
    "--set", f"eval.freq={EVAL_FREQ}", "--set", "eval.instances=null", "--set", "eval.seeds=[1000000]",
    "--set", "instance_pool.size=4", "--set", "imitation.expert=greedy", "--set", "imitation.expert_kwargs={}",
    "--set", "imitation.episodes=1", "--set", "imitation.epochs=1",
]
RESUME = ["--env", "schedgym/VMReschedule-v1", "--no-progress", "--resume"]
TIMEOUT_S = 120


def _start(out: Path, args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, str(TRAIN), "--out", str(out), *args], stdout=handle,
                                stderr=subprocess.STDOUT)


def _kill_when(process: subprocess.Popen, log: Path, ready: Callable[[], bool]) -> None:
    """SIGKILLs ``process`` as soon as ``ready()`` holds (polled)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not ready():
        assert process.poll() is None, f"the run ended before the kill point:\n{log.read_text()}"
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _stop(pid: int) -> None:
    """SIGSTOPs ``pid`` and waits until every thread of it is stopped."""
    os.kill(pid, signal.SIGSTOP)
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.0005)


def _kill_inside_a_checkpoint_write(process: subprocess.Popen, out: Path, log: Path, stale: set[Path]) -> None:
    """SIGKILLs ``process`` while the temporary file of a ``last_model.zip`` write exists (other
    than the ``stale`` ones of an earlier kill): it is frozen (SIGSTOP) the moment one is seen,
    killed if the temporary is still there, and let go (SIGCONT) to try the next one otherwise."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        assert process.poll() is None, f"no checkpoint write caught before the run ended:\n{log.read_text()}"
        assert time.monotonic() < deadline, log.read_text()
        if set(out.glob(".last_model.zip.*")) - stale:
            _stop(process.pid)
            if set(out.glob(".last_model.zip.*")) - stale:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
            os.kill(process.pid, signal.SIGCONT)
        time.sleep(0.0005)  # a checkpoint write lasts milliseconds


def _scalars(out: Path) -> list[dict[str, list[int]]]:
    """Per event file: the logged steps of each scalar tag."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = []
    for path in sorted((out / "tb").rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        files.append({tag: [event.step for event in accumulator.Scalars(tag)]
                      for tag in accumulator.Tags()["scalars"]})
    return files


def _max_logged_step(out: Path) -> int:
    """The highest step in the TensorBoard logs: a lower bound of the progress of the run."""
    return max((max(steps) for file in _scalars(out) for steps in file.values()), default=0)


def _curve(out: Path) -> list[dict]:
    return json.loads((out / "eval_curve.json").read_text())


def _snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    return {str(path.relative_to(out)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(out.rglob("*")) if path.is_file()}


def test_killed_three_times_and_resumed(tmp_path, capsys):
    out = tmp_path / "run"
    checkpoint = out / "last_model.zip"

    # 1. Killed while training (rollouts and updates), past the validation at 128, whose checkpoint
    #    alone would lose more than one interval.
    first = _start(out, TINY, tmp_path / "1.log")
    _kill_when(first, tmp_path / "1.log",
               lambda: checkpoint.exists() and _max_logged_step(out) >= EVAL_FREQ + 2 * ROLLOUT)
    progress = _max_logged_step(out)
    restored = read_state(checkpoint)
    assert restored.timesteps >= progress - INTERVAL
    assert restored.imitation is not None and restored.imitation["expert"] == "greedy"

    # 2. Resumed, then killed inside a checkpoint write: the old checkpoint is intact.
    stale = set(out.glob(".last_model.zip.*"))
    second = _start(out, RESUME, tmp_path / "2.log")
    _kill_inside_a_checkpoint_write(second, out, tmp_path / "2.log", stale)
    progress = _max_logged_step(out)
    second_state = read_state(checkpoint)
    assert second_state.timesteps >= max(progress - INTERVAL, restored.timesteps)

    # 3. Resumed, then killed once the final validation is written, while exporting.
    third = _start(out, RESUME, tmp_path / "3.log")
    _kill_when(third, tmp_path / "3.log",
               lambda: (out / "eval_curve.json").exists() and _curve(out)[-1]["timesteps"] == TIMESTEPS)
    assert not (out / "summary.json").exists()

    # 4. Resumed to the end (in this process: no kill to come).
    assert train.main(["--out", str(out), *RESUME]) == 0
    final = read_state(checkpoint)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timesteps"] == final.timesteps == TIMESTEPS
    assert runtime.load(out / "model.onnx").metadata["timesteps"] == TIMESTEPS
    assert not [path for path in out.rglob(".*")], "temporaries left behind"

    curve = _curve(out)
    steps = [row["timesteps"] for row in curve]
    assert steps == list(range(0, TIMESTEPS + 1, EVAL_FREQ)) == [row["timesteps"] for row in final.curve]
    assert curve[:len(restored.curve)] == restored.curve  # the first part's rows, wall times included
    walls = [row["wall_s"] for row in curve]
    assert walls == sorted(walls) and len(set(walls)) == len(walls)
    assert summary["wall_s"] == final.wall_s >= walls[-1] and summary["wall_s"] > second_state.wall_s
    assert summary["imitation"] == restored.imitation

    files = _scalars(out)
    logged: dict[str, list[int]] = {}
    for file in files:
        for tag, tag_steps in file.items():
            logged.setdefault(tag, []).extend(tag_steps)
    assert len(files) >= 2  # the parts wrote their own event files
    assert sorted(logged["val/fragment_rate"]) == steps
    assert sorted(logged["time/fps"]) == list(range(ROLLOUT, TIMESTEPS + 1, ROLLOUT))  # each rollout once
    for tag, tag_steps in logged.items():
        assert len(set(tag_steps)) == len(tag_steps), tag

    # 5. Resuming the finished run changes nothing.
    files_before = _snapshot(out)
    capsys.readouterr()
    assert train.main(["--out", str(out), *RESUME]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert _snapshot(out) == files_before
