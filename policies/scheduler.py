"""Learned policies as leaderboard schedulers (the protocol of ``baselines.base.Scheduler``).

A policy is named by a *source*:

- ``path/to/model.onnx``: an exported policy, run with onnxruntime (:mod:`policies.runtime`);
- ``path/to/best_model.zip``: a ``MaskablePPO`` checkpoint from ``train.py``. Loading it
  unpickles Python objects, so only load checkpoints you trust; prefer ONNX for policies from
  elsewhere. It needs PyTorch (``pip install "schedgym[train]"``); ONNX does not;
- ``pretrained:NAME``: ``policies/pretrained/NAME.onnx``, shipped with the package.

:func:`load_policy` loads a source once; its ``scheduler()`` method makes the fresh,
lightweight scheduler per episode that ``policies.evaluation.evaluate`` asks for. Learned
schedulers read only the env's current observation and act greedily (the most likely legal
action); :class:`policies.sampling.BestOfKScheduler` plans by sampled rollouts instead.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from schedgym.policies import runtime
from schedgym.policies.extras import require_train
from schedgym.policies.runtime import PolicyFileError, choose

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
PRETRAINED_PREFIX = "pretrained:"


def is_learned(source: str) -> bool:
    """Whether ``source`` names a learned policy (rather than a baseline)."""
    return source.startswith(PRETRAINED_PREFIX) or source.endswith((".onnx", ".zip"))


def pretrained_names(env_id: str) -> tuple[str, ...]:
    """Names of the shipped policies for ``env_id`` (from the record beside each ONNX file)."""
    names = []
    for path in sorted(PRETRAINED_DIR.glob("*.onnx")):
        record = path.with_suffix(".json")
        if record.exists() and json.loads(record.read_text()).get("env_id") == env_id:
            names.append(path.stem)
    return tuple(names)


def resolve(source: str) -> Path:
    """The file of a source; ``pretrained:NAME`` maps to ``policies/pretrained/NAME.onnx``."""
    if source.startswith(PRETRAINED_PREFIX):
        name = source[len(PRETRAINED_PREFIX):]
        path = PRETRAINED_DIR / f"{name}.onnx"
        if not path.exists():
            shipped = sorted(p.stem for p in PRETRAINED_DIR.glob("*.onnx"))
            raise FileNotFoundError(f"no pretrained policy {name!r}; shipped: {', '.join(shipped) or 'none'}")
        return path
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no policy file {path}")
    return path


class LoadedPolicy:
    """A learned policy loaded once: ``logits_fn(obs)`` (pointer logits of one observation or
    a batch) plus what it was trained for.

    Attributes:
        source: The source string it was loaded from (the leaderboard label).
        env_id: The env id it was trained for, when known (``None``: any env whose observation
            fits).
    """

    def __init__(self, source: str, logits_fn: Callable[[dict[str, np.ndarray]], np.ndarray],
                 env_id: str | None, check: Callable[[gym.Env], None]) -> None:
        self.source, self.logits_fn, self.env_id, self._check_fn = source, logits_fn, env_id, check

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True,
            rng: np.random.Generator | None = None) -> int | np.ndarray:
        """The most likely legal action, or a sample; batched when ``obs`` is."""
        return choose(self.logits_fn(obs), obs, deterministic, rng)

    def supports(self, env_id: str) -> bool:
        return self.env_id is None or self.env_id == env_id

    def check(self, env: gym.Env) -> None:
        """Raises ``ValueError`` unless ``env`` fits this policy: its observation sizes and shapes
        (and, for an ONNX policy, its env id and feature names) match what the policy was
        trained or exported for. The message names the policy file and the mismatch. Cheap: call
        it before running any episode; :meth:`LearnedScheduler.reset` calls it on every reset.
        """
        self._check_fn(env)

    def scheduler(self) -> "LearnedScheduler":
        """A fresh scheduler for one episode (shares the loaded network)."""
        return LearnedScheduler(self)


class LearnedScheduler:
    """``baselines.base.Scheduler`` over a :class:`LoadedPolicy`."""

    def __init__(self, policy: LoadedPolicy) -> None:
        self.policy = policy
        self.name = policy.source

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self.policy.check(env)

    def act(self, env: gym.Env) -> int:
        return int(self.policy.act(env.unwrapped.observation()))


def _load_onnx(source: str, path: Path, env_id: str | None) -> LoadedPolicy:
    onnx_policy = runtime.load(path, env_id=env_id)
    return LoadedPolicy(source, onnx_policy.logits, onnx_policy.env_id, onnx_policy.check_env)


def _load_zip(source: str, path: Path, env_id: str | None) -> LoadedPolicy:
    require_train(f"loading the checkpoint {path}", ("torch", "stable_baselines3", "sb3_contrib"))
    from sb3_contrib import MaskablePPO

    from schedgym.policies.pointer import torch_logits

    try:
        model = MaskablePPO.load(str(path), device="cpu")  # unpickles: trusted files only
        net = model.policy.pointer_net.eval()
    except Exception as error:  # SB3 surfaces zip, JSON, pickle and torch errors alike
        raise PolicyFileError(f"{path} is damaged or not a train.py checkpoint (MaskablePPO + PointerPolicy): "
                              f"{type(error).__name__}: {error}") from None
    trained_for = _run_env_id(path)
    if env_id is not None and trained_for is not None and trained_for != env_id:
        raise PolicyFileError(f"{path} is a policy for {trained_for} (its run's config.yaml), not for {env_id}")
    expected = model.observation_space

    def check(env: gym.Env) -> None:
        observed = env.observation_space
        for key in ("nodes", "edge_index", "edge_attr", "globals"):
            if observed[key].shape != expected[key].shape:
                raise ValueError(f"{path} was trained on {key} of shape {expected[key].shape}, this env "
                                 f"observes {observed[key].shape} ({env.spec.id if env.spec else env})")

    return LoadedPolicy(source, functools.partial(torch_logits, net), trained_for, check)


def _run_env_id(checkpoint: Path) -> str | None:
    """The env id in the ``config.yaml`` of the run folder holding ``checkpoint``, if any."""
    config_file = checkpoint.parent / "config.yaml"
    if not config_file.exists():
        return None
    import yaml

    return yaml.safe_load(config_file.read_text()).get("env_id")


def load_policy(source: str, env_id: str | None = None) -> LoadedPolicy:
    """Loads ``source`` (an ``.onnx`` file, an SB3 ``.zip`` or ``pretrained:NAME``).

    Args:
        source: The policy source.
        env_id: The env it will run on: a policy made for another env is refused here.

    Raises:
        FileNotFoundError: If the file does not exist.
        PolicyFileError: If the file is damaged, not a policy, or a policy for another env.
        MissingExtraError: If ``source`` is a ``.zip`` and PyTorch (the ``train`` extra) is not
            installed; ONNX policies need only onnxruntime.
    """
    path = resolve(source)
    if path.suffix == ".onnx":
        return _load_onnx(source, path, env_id)
    if path.suffix == ".zip":
        return _load_zip(source, path, env_id)
    raise PolicyFileError(f"{source}: a learned policy is an .onnx file, an SB3 .zip or pretrained:NAME")


def pretrained() -> dict[str, dict[str, Any]]:
    """Shipped pretrained policies: name -> sidecar record (command, seed, curve, ...)."""
    records = {}
    for path in sorted(PRETRAINED_DIR.glob("*.onnx")):
        sidecar = path.with_suffix(".json")
        records[path.stem] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return records


__all__ = ["is_learned", "resolve", "load_policy", "LoadedPolicy", "LearnedScheduler", "pretrained"]
