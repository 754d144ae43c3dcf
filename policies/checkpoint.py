"""The durable state of a training run folder, and how a killed run resumes from it.

A checkpoint is ``last_model.zip``: the SB3 model with a :class:`RunState` inside the same zip
(the model attribute ``schedgym_run``), so the weights, the timesteps done, the validation curve,
the wall time and the imitation record are replaced together by one atomic rename. A run killed
at any moment therefore resumes from a consistent checkpoint and loses at most the steps since it.

The other files are derived from the checkpoints and put right on resume (:func:`repair`):
``eval_curve.json`` is the state's curve, ``best_model.zip`` a copy of the checkpoint of the best
validation, TensorBoard events after the checkpoint are dropped (the resumed run logs those steps
again), and the temporaries of interrupted atomic writes are removed.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import yaml

from schedgym.data.files import atomic_path, write_bytes_atomic, write_json_atomic

CHECKPOINT = "last_model.zip"
BEST = "best_model.zip"
CURVE = "eval_curve.json"
CONFIG = "config.yaml"
SUMMARY = "summary.json"
ONNX = "model.onnx"
PLOT = "eval_curve.png"
#: Files of a run folder that only exist once the run has written a checkpoint.
RUN_OUTPUTS = (BEST, CURVE, SUMMARY, ONNX, PLOT)
#: The model attribute that carries the :class:`RunState` inside a checkpoint.
STATE_ATTRIBUTE = "schedgym_run"
EVENTS_GLOB = "events.out.tfevents.*"


class RunFolderError(ValueError):
    """A run folder that cannot be resumed as it is; the message names the file and what to do."""


def _damaged(path: Path, reason: str) -> RunFolderError:
    return RunFolderError(f"{path} is damaged ({reason}); restore the file or delete the run folder")


def _missing(path: Path) -> RunFolderError:
    return RunFolderError(f"{path} is missing; restore the file or delete the run folder")


@dataclasses.dataclass
class RunState:
    """What a run needs to continue besides the model, saved inside each checkpoint.

    Attributes:
        timesteps: Env steps done at the checkpoint (the model's ``num_timesteps``).
        wall_s: Wall seconds of the run up to the checkpoint, summed over resumed parts.
        curve: The validation rows so far (``timesteps``, ``wall_s``, metrics), one per step.
        best_timesteps: Step of the best validation, whose checkpoint ``best_model.zip`` copies.
        imitation: The warm start's record (``imitation.warm_start``), or None.
    """

    timesteps: int = 0
    wall_s: float = 0.0
    curve: list[dict[str, float]] = dataclasses.field(default_factory=list)
    best_timesteps: int | None = None
    imitation: dict[str, Any] | None = None

    @property
    def last_validation(self) -> int | None:
        """Step of the latest validation, or None before the first."""
        return int(self.curve[-1]["timesteps"]) if self.curve else None

    def best_row(self) -> dict[str, float] | None:
        """The validation row of ``best_timesteps``."""
        return next((row for row in self.curve if row["timesteps"] == self.best_timesteps), None)


# ------------------------------------------------------------------------------- writing

def save_checkpoint(model: Any, state: RunState, out: Path) -> None:
    """Writes ``model`` with ``state`` inside to ``out/last_model.zip``, atomically."""
    setattr(model, STATE_ATTRIBUTE, dataclasses.asdict(state))
    with atomic_path(out / CHECKPOINT) as temporary:  # keeps ".zip", so SB3 adds no suffix
        model.save(temporary)


def save_best(out: Path) -> None:
    """Copies the checkpoint just written to ``best_model.zip``, atomically."""
    write_bytes_atomic(out / BEST, (out / CHECKPOINT).read_bytes())


def write_curve(out: Path, curve: list[dict[str, float]]) -> None:
    """Writes the validation curve to ``eval_curve.json``, atomically."""
    write_json_atomic(out / CURVE, curve)


# ------------------------------------------------------------------------------- reading

def has_checkpoint(out: Path) -> bool:
    """Whether ``out`` holds a checkpoint to resume from.

    Raises:
        RunFolderError: ``last_model.zip`` is missing although the folder holds a run's outputs
            (they are only written after a checkpoint), so starting afresh would overwrite them.
    """
    if (out / CHECKPOINT).exists():
        return True
    outputs = [name for name in RUN_OUTPUTS if (out / name).exists()]
    if outputs:
        raise RunFolderError(f"{out / CHECKPOINT} is missing, but {out} holds a run ({', '.join(outputs)}); "
                             "restore the file, or delete the run folder to start again")
    return False


def read_config(out: Path, env_id: str) -> dict[str, Any]:
    """The run's own ``config.yaml``, checked to be a config of ``env_id``."""
    path = out / CONFIG
    if not path.exists():
        raise _missing(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise _damaged(path, f"not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(config, dict) or not {"env_id", "seed", "timesteps"} <= set(config):
        raise _damaged(path, "not a train.py config: env_id, seed or timesteps is missing")
    if config["env_id"] != env_id:
        raise RunFolderError(f"{out} trains {config['env_id']}, not {env_id}; pass --env {config['env_id']} "
                             "or another --out")
    return config


def read_state(path: Path) -> RunState:
    """The :class:`RunState` inside the checkpoint ``path``, after checking the whole zip."""
    data = _model_data(path)
    raw = data.get(STATE_ATTRIBUTE)
    if not isinstance(raw, dict):
        raise RunFolderError(f"{path} holds no training state (written by a train.py without resumable "
                             "checkpoints); start a new run in another folder")
    try:
        state = RunState(**raw)
    except TypeError as error:
        raise _damaged(path, f"bad training state: {error}") from None
    if state.timesteps != data.get("num_timesteps"):
        raise _damaged(path, f"its state says {state.timesteps} timesteps, its model {data.get('num_timesteps')}")
    return state


def _model_data(path: Path) -> dict[str, Any]:
    """The ``data`` JSON of an SB3 zip, once every member has passed its CRC check."""
    if not path.exists():
        raise _missing(path)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise _damaged(path, f"{bad} fails its CRC check")
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise _damaged(path, f"not a valid zip file: {error}") from None
    except KeyError:
        raise _damaged(path, "no 'data' member: not a stable-baselines3 model") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _damaged(path, f"its 'data' member is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise _damaged(path, "its 'data' member is not a JSON object")
    return data


def load_model(path: Path, **kwargs: Any) -> Any:
    """``MaskablePPO.load(path, device="cpu", **kwargs)`` with a damaged file named as such.

    Unpickles parts of the zip: trusted files only.
    """
    from sb3_contrib import MaskablePPO

    try:
        return MaskablePPO.load(path, device="cpu", **kwargs)
    except (ValueError, KeyError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise _damaged(path, f"cannot be loaded: {error}") from None


def finished_summary(out: Path, state: RunState, timesteps: int) -> dict[str, Any] | None:
    """The summary of a run that is complete up to ``timesteps``, or None if it has work left.

    The summary is written last, so a run killed while exporting has none for its final step.
    """
    path = out / SUMMARY
    if state.timesteps < timesteps or not path.exists() or not (out / ONNX).exists():
        return None
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFolderError(f"{path} is damaged (not JSON: {error}); delete it to export the run again, "
                             "or delete the run folder") from None
    return summary if isinstance(summary, dict) and summary.get("timesteps") == state.timesteps else None


# ------------------------------------------------------------------------------- repair

def repair(out: Path, state: RunState) -> None:
    """Puts the derived files of ``out`` in line with its checkpoint ``state`` before resuming.

    Raises:
        RunFolderError: ``best_model.zip`` is not the model of the state's best validation (it
            is checked before anything is written).
    """
    best_is_checkpoint = state.best_timesteps == state.timesteps
    if state.best_timesteps is not None and not best_is_checkpoint:
        step = _model_data(out / BEST).get("num_timesteps")
        if step != state.best_timesteps:
            raise RunFolderError(f"{out / BEST} holds the model of step {step}, but the best validation of "
                                 f"{out / CHECKPOINT} is at step {state.best_timesteps}; restore the file or "
                                 "delete the run folder")
    remove_temporaries(out)
    if best_is_checkpoint:
        save_best(out)  # a kill may have come between the checkpoint and its copy
    write_curve(out, state.curve)
    drop_events_after(out / "tb", state.timesteps)


def remove_temporaries(out: Path) -> None:
    """Deletes what interrupted atomic writes left (``.NAME.*`` beside a run file or event file)."""
    for name in (CHECKPOINT, CONFIG, *RUN_OUTPUTS):
        for temporary in out.glob(f".{name}.*"):
            temporary.unlink()
    for temporary in (out / "tb").rglob(f".{EVENTS_GLOB}"):
        temporary.unlink()


def drop_events_after(tb_dir: Path, step: int) -> None:
    """Rewrites every TensorBoard event file under ``tb_dir`` without its events after ``step``
    (and without a record truncated by a kill), so that no step is logged twice on resume."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    for path in sorted(tb_dir.rglob(EVENTS_GLOB)):
        records = list(RawEventFileLoader(str(path)).Load())
        kept = [record for record in records if Event.FromString(record).step <= step]
        framed = sum(len(record) + 16 for record in records)  # 8 length + 4 + 4 CRC bytes each
        if len(kept) == len(records) and framed == path.stat().st_size:
            continue
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:  # closed before the rename
            writer = RecordWriter(handle)
            for record in kept:
                writer.write(record)


__all__ = [
    "RunFolderError", "RunState", "save_checkpoint", "save_best", "write_curve", "has_checkpoint", "read_config",
    "read_state", "load_model", "finished_summary", "repair", "remove_temporaries", "drop_events_after",
]
