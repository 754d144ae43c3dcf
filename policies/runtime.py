"""Run an exported SchedGym policy with onnxruntime and numpy only (no torch import).

Example::

    from schedgym.policies import runtime
    policy = runtime.load("runs/vm/model.onnx")
    action = policy.act(obs)          # obs: the env's observation dict

Observations are checked against the metadata written by :mod:`policies.export` (N_MAX, E_MAX
and the number of node, edge and global features), and a mismatch raises ``ValueError`` naming
the env the policy was exported for. An external simulator builds the same observation with the
env's public encoder.

A file that cannot serve as a policy (not ONNX, unreadable, a metadata key missing, not JSON or
of the wrong type, not the pointer graph, or exported for another env than the ``env_id`` given
to :func:`load`) raises :class:`PolicyFileError` at load, naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

METADATA_PREFIX = "schedgym."
INPUT_DTYPES = {
    "nodes": np.float32, "edge_index": np.int64, "edge_attr": np.float32, "node_mask": np.int8,
    "edge_mask": np.int8, "globals": np.float32, "action_mask": np.int8,
}


# The metadata every policy needs, and what each value must be (for the error messages).
REQUIRED_METADATA = {
    "env_id": "a registered env id string, e.g. \"schedgym/VMReschedule-v2\"",
    "n_max": "N_MAX, a positive integer",
    "e_max": "E_MAX, a positive integer",
    "node_features": "a list of node feature names",
    "edge_features": "a list of edge feature names",
    "global_features": "a list of global feature names",
}


class PolicyFileError(ValueError):
    """A policy file that cannot be used: the message names the file (and the metadata key)."""


class OnnxPolicy:
    """An exported pointer policy.

    Attributes:
        path: The ONNX file.
        metadata: The ``schedgym.*`` metadata, decoded (``env_id``, ``n_max``, ``e_max``, ...).
    """

    def __init__(self, path: str | Path, threads: int = 1, env_id: str | None = None) -> None:
        """Loads ``path``; with ``env_id``, refuses a policy exported for another env.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            PolicyFileError: If ``path`` is not a SchedGym ONNX policy (for ``env_id``).
        """
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no ONNX policy at {self.path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # shape-inference notes of the scatter ops are not errors
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own pybind exception types
            raise PolicyFileError(f"{self.path} is not a readable ONNX model: {error}") from None
        self.metadata: dict[str, Any] = _read_metadata(self.path, self.session)
        _check_required(self.path, self.metadata)
        _check_graph(self.path, self.session)
        m = self.metadata
        self.env_id: str = m["env_id"]
        if env_id is not None and env_id != self.env_id:
            raise PolicyFileError(f"{self.path} is a policy for {self.env_id}, not for {env_id}")
        self._expected = {
            "nodes": (m["n_max"], len(m["node_features"])),
            "edge_index": (2, m["e_max"]),
            "edge_attr": (m["e_max"], len(m["edge_features"])),
            "node_mask": (m["n_max"],),
            "edge_mask": (m["e_max"],),
            "globals": (len(m["global_features"]),),
            "action_mask": (m["n_max"],),
        }

    def __repr__(self) -> str:
        return f"OnnxPolicy({str(self.path)!r}, env_id={self.env_id!r}, n_max={self.metadata['n_max']})"

    def describe(self) -> str:
        """What observations this policy accepts, in words."""
        m = self.metadata
        return (f"{m['env_id']} {m.get('env_kwargs', {})} (N_MAX={m['n_max']}, E_MAX={m['e_max']}, "
                f"{len(m['node_features'])} node / {len(m['edge_features'])} edge / "
                f"{len(m['global_features'])} global features)")

    def check(self, obs: dict[str, np.ndarray]) -> bool:
        """Raises ``ValueError`` unless ``obs`` fits this policy; returns whether it is batched."""
        missing = [key for key in self._expected if key not in obs]
        if missing:
            raise ValueError(f"observation lacks {missing}; {self.path.name} expects {list(self._expected)}")
        batched = np.ndim(obs["nodes"]) == 3
        for key, shape in self._expected.items():
            got = np.shape(obs[key])[1:] if batched else np.shape(obs[key])
            if tuple(got) != shape:
                raise ValueError(
                    f"observation does not match this policy: {key} has shape {tuple(got)}, expected "
                    f"{shape}. {self.path.name} was exported for {self.describe()}"
                )
        return batched

    def check_env(self, env: Any) -> None:
        """Raises ``ValueError`` unless ``env`` is the env (id and feature names) it was exported for."""
        env_id = getattr(getattr(env, "spec", None), "id", None)
        if env_id is not None and env_id != self.env_id:
            raise ValueError(f"{self.path.name} was exported for {self.env_id}, not {env_id}")
        meta = env.unwrapped.spec_graph.metadata()
        for key in ("n_max", "e_max", "node_features", "edge_features", "global_features"):
            if meta[key] != self.metadata[key]:
                raise ValueError(f"{self.path.name} was exported for {self.describe()}; this env's "
                                 f"{key} differs ({meta[key]!r:.120})")

    def logits(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Masked logits, (N_MAX,) for one observation or (B, N_MAX) for a batch."""
        batched = self.check(obs)
        feed = {}
        for key, dtype in INPUT_DTYPES.items():
            array = np.asarray(obs[key]).astype(dtype, copy=False)
            feed[key] = array if batched else array[None]
        logits = self.session.run(["logits"], feed)[0]
        return logits if batched else logits[0]

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True,
            rng: np.random.Generator | None = None) -> int | np.ndarray:
        """The pointer action: the best legal node, or a sample of the masked softmax."""
        return choose(self.logits(obs), obs, deterministic, rng)


def choose(logits: np.ndarray, obs: dict[str, np.ndarray], deterministic: bool = True,
           rng: np.random.Generator | None = None) -> int | np.ndarray:
    """An action from pointer logits, (N_MAX,) or (B, N_MAX), among the legal real nodes of
    ``obs``: the argmax, or a sample of the masked softmax drawn with ``rng``."""
    legal = np.asarray(obs["action_mask"]).astype(bool) & np.asarray(obs["node_mask"]).astype(bool)
    logits = np.where(legal, logits, -np.inf)
    if deterministic:
        actions = np.argmax(logits, axis=-1)
    else:
        rng = rng or np.random.default_rng()
        z = logits - logits.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        cdf = np.cumsum(p, axis=-1)
        cdf /= cdf[..., -1:]  # exactly 1 from the last legal node on, so u < 1 never passes it
        u = rng.random(cdf.shape[:-1] + (1,))
        actions = (cdf < u).sum(axis=-1)
    return int(actions) if np.ndim(actions) == 0 else actions


def load(path: str | Path, threads: int = 1, env_id: str | None = None) -> OnnxPolicy:
    """Loads an ONNX policy written by :mod:`policies.export`.

    Args:
        path: The ``.onnx`` file.
        threads: onnxruntime intra-op threads.
        env_id: The env the policy will run on; a policy exported for another env is refused
            here rather than at its first ``act``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        PolicyFileError: If ``path`` is not a SchedGym ONNX policy, or is one for another env.
    """
    return OnnxPolicy(path, threads, env_id)


def _read_metadata(path: Path, session: ort.InferenceSession) -> dict[str, Any]:
    """The ``schedgym.*`` metadata of ``path``, JSON-decoded, prefix stripped."""
    raw = session.get_modelmeta().custom_metadata_map
    if not any(key.startswith(METADATA_PREFIX) for key in raw):
        raise PolicyFileError(f"{path} has no SchedGym metadata ({METADATA_PREFIX}* keys): "
                              "export policies with schedgym.policies.export")
    metadata = {}
    for key, value in raw.items():
        if key.startswith(METADATA_PREFIX):
            try:
                metadata[key[len(METADATA_PREFIX):]] = json.loads(value)
            except json.JSONDecodeError as error:
                raise PolicyFileError(f"{path}: metadata key {key} is not JSON ({error.msg} at character "
                                      f"{error.pos} of {value!r:.80}); policies.export writes JSON values") from None
    return metadata


def _check_required(path: Path, metadata: dict[str, Any]) -> None:
    """Raises unless every key of :data:`REQUIRED_METADATA` is present and of its kind."""
    for name, expected in REQUIRED_METADATA.items():
        if name not in metadata:
            raise PolicyFileError(f"{path}: metadata key {METADATA_PREFIX}{name} is missing; expected {expected}")
        if not _fits(name, metadata[name]):
            raise PolicyFileError(f"{path}: metadata key {METADATA_PREFIX}{name} is {metadata[name]!r:.80}; "
                                  f"expected {expected}")


def _fits(name: str, value: Any) -> bool:
    """Whether ``value`` is of the kind :data:`REQUIRED_METADATA` asks for ``name``."""
    if name == "env_id":
        return isinstance(value, str)
    if name in ("n_max", "e_max"):
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_graph(path: Path, session: ort.InferenceSession) -> None:
    """Raises unless the graph has the observation inputs and the ``logits`` output."""
    inputs = {node.name for node in session.get_inputs()}
    outputs = {node.name for node in session.get_outputs()}
    missing = [f"input {name}" for name in INPUT_DTYPES if name not in inputs]
    if "logits" not in outputs:
        missing.append("output logits")
    if missing:
        raise PolicyFileError(f"{path} is not a SchedGym pointer policy graph: it lacks {', '.join(missing)}")


__all__ = ["OnnxPolicy", "PolicyFileError", "choose", "load"]
