"""Run folders that cannot be resumed are named with what to do; TensorBoard events after a
checkpoint are dropped; the checkpoint interval is checked."""

import json
import shutil
import struct
import zipfile

import pytest

import train
from schedgym.policies.checkpoint import RunFolderError, drop_events_after, read_state, repair
from schedgym.policies.training import DEFAULT_CHECKPOINT_FREQ, checkpoint_freq

RESUME = ["--env", "schedgym/VMReschedule-v1", "--no-progress", "--resume"]


def _rewrite_data(path, change):
    """Rewrites the ``data`` JSON of the SB3 zip ``path`` through ``change``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    change(data)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path):
    """Flips a byte in the middle of the stored weights (``policy.pth``), as a bad disk would."""
    content = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("policy.pth")
    name_length, extra_length = struct.unpack_from("<HH", content, info.header_offset + 26)  # local header
    content[info.header_offset + 30 + name_length + extra_length + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(content))


DAMAGES = {
    "truncated checkpoint": ("last_model.zip", _truncate, "last_model.zip is damaged (not a valid zip file"),
    "corrupt checkpoint": ("last_model.zip", _flip_a_byte, "last_model.zip is damaged (policy.pth fails its CRC"),
    "checkpoint without state": ("last_model.zip", lambda p: _rewrite_data(p, lambda d: d.pop("schedgym_run")),
                                 "last_model.zip holds no training state"),
    "checkpoint state and model disagree": (
        "last_model.zip", lambda p: _rewrite_data(p, lambda d: d.update(num_timesteps=1)),
        "last_model.zip is damaged (its state says 256 timesteps, its model 1)"),
    "missing checkpoint": ("last_model.zip", lambda p: p.unlink(), "last_model.zip is missing, but"),
    "bad YAML": ("config.yaml", lambda p: p.write_text("seed: [3\n"), "config.yaml is damaged (not valid YAML"),
    "not a config": ("config.yaml", lambda p: p.write_text("- 1\n"), "config.yaml is damaged (not a train.py config"),
    "missing config": ("config.yaml", lambda p: p.unlink(), "config.yaml is missing"),
    "bad summary": ("summary.json", lambda p: p.write_text('{"timesteps": '), "summary.json is damaged (not JSON"),
}


def _snapshot(out):
    return {path: path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_run_folder_is_named_and_left_as_it_is(tiny_run, tmp_path, capsys, damage):
    name, spoil, message = DAMAGES[damage]
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    spoil(out / name)
    before = _snapshot(out)
    assert train.main(["--out", str(out), *RESUME]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and ": error: " in error and "Traceback" not in error
    assert f"{out}/{message}" in error
    assert "restore the file" in error or "delete it" in error or "start a new run" in error
    assert _snapshot(out) == before


def test_resuming_as_another_env_is_refused(tiny_run, capsys):
    assert train.main(["--out", str(tiny_run), "--env", "schedgym/SoCDAG-v0", "--resume"]) == 2
    assert f"{tiny_run} trains schedgym/VMReschedule-v1, not schedgym/SoCDAG-v0" in capsys.readouterr().err


def test_a_best_model_of_another_step_is_refused(tiny_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    state = read_state(out / "last_model.zip")
    state.best_timesteps = 128  # as if the best validation were an earlier one
    shutil.copy(out / "last_model.zip", out / "best_model.zip")  # but best_model.zip holds step 256
    with pytest.raises(RunFolderError, match=r"best_model.zip holds the model of step 256, but .* step 128"):
        repair(out, state)
    _truncate(out / "best_model.zip")
    with pytest.raises(RunFolderError, match=r"best_model.zip is damaged \(not a valid zip file"):
        repair(out, state)


def test_events_after_the_checkpoint_and_a_torn_record_are_dropped(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "ppo_1"))
    for step in range(6):
        writer.add_scalar("val/m", float(step), step)
    writer.close()
    (events,) = (tmp_path / "ppo_1").iterdir()
    with open(events, "ab") as handle:
        handle.write(b"\x40\x00\x00")  # a record header cut short by a kill

    def steps():
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        return [event.step for event in accumulator.Scalars("val/m")]

    drop_events_after(tmp_path, 3)
    assert steps() == [0, 1, 2, 3]
    written = events.stat().st_mtime_ns
    drop_events_after(tmp_path, 3)
    assert events.stat().st_mtime_ns == written  # nothing to drop: the file is not rewritten
    assert [path.name for path in (tmp_path / "ppo_1").iterdir()] == [events.name]


def test_checkpoint_freq_is_a_positive_number_of_timesteps():
    assert checkpoint_freq({}) == DEFAULT_CHECKPOINT_FREQ
    assert checkpoint_freq({"checkpoint_freq": 64}) == 64
    for bad in (0, -5, 1.5, "10k", True):
        with pytest.raises(ValueError, match=rf"checkpoint_freq must be a positive number of timesteps, got {bad!r}"):
            checkpoint_freq({"checkpoint_freq": bad})
