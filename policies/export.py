"""ONNX export of a pointer policy, with the metadata that says which observations it accepts.

The ONNX graph takes the seven observation arrays by name (batched: a leading batch axis, which
is dynamic) and returns ``logits`` (B, N_MAX), masked logits of the pointer actions, and
``value`` (B, 1). Its metadata (``schedgym.*`` keys) records the env id and version, N_MAX,
E_MAX, the feature names and the export settings; :mod:`policies.runtime` checks observations
against them.

Usage::

    python -m schedgym.policies.export runs/vm/best_model.zip runs/vm/model.onnx --env schedgym/VMReschedule-v2 --env-kwargs '{"size": "small"}'
"""

from __future__ import annotations

import argparse
import io
import json
import re
import warnings
from pathlib import Path
from typing import Any

from schedgym.data.files import write_bytes_atomic, write_json_atomic
from schedgym.policies.extras import raise_if_extra_missing

try:
    import torch
    from torch import nn
except ModuleNotFoundError as error:  # the train extra is not installed
    raise_if_extra_missing("schedgym.policies.export", error)
    raise

from schedgym.policies.pointer import INPUT_NAMES, PointerNet
from schedgym.policies.runtime import METADATA_PREFIX

OUTPUT_NAMES = ("logits", "value")
OPSET = 18


class _OnnxWrapper(nn.Module):
    """Positional inputs with ONNX-friendly dtypes in, (logits, value) out."""

    def __init__(self, net: PointerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, nodes, edge_index, edge_attr, node_mask, edge_mask, globals_, action_mask):  # noqa: ANN001
        return self.net(nodes, edge_index, edge_attr, node_mask.float(), edge_mask.float(), globals_,
                        action_mask.float())


def env_version(env_id: str) -> int:
    """The ``-vN`` version number of an env id."""
    match = re.search(r"-v(\d+)$", env_id)
    if match is None:
        raise ValueError(f"env id {env_id!r} has no -vN version suffix")
    return int(match.group(1))


def export_net(
    net: PointerNet,
    path: str | Path,
    graph_metadata: dict[str, Any],
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Writes ``net`` to ``path`` as ONNX with SchedGym metadata, atomically and once: the graph
    is exported in memory, given its metadata and checked before the file is written.

    Args:
        net: The pointer network (``model.policy.pointer_net``).
        path: Output ``.onnx`` file.
        graph_metadata: ``GraphSpec.metadata()`` of the env configuration it was trained on.
        env_id: Registered env id, e.g. ``"schedgym/VMReschedule-v2"``.
        env_kwargs: The ``gym.make`` keyword arguments of that configuration.
        extra: More JSON-serialisable metadata (training command, seed, ...).
    """
    import onnx

    path = Path(path)
    n, e = graph_metadata["n_max"], graph_metadata["e_max"]
    f, fe, g = (len(graph_metadata[k]) for k in ("node_features", "edge_features", "global_features"))
    example = (
        torch.zeros(1, n, f), torch.zeros(1, 2, e, dtype=torch.int64), torch.zeros(1, e, fe),
        torch.ones(1, n, dtype=torch.int8), torch.zeros(1, e, dtype=torch.int8), torch.zeros(1, g),
        torch.ones(1, n, dtype=torch.int8),
    )
    wrapper = _OnnxWrapper(net).eval()
    graph = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, example, graph, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)},
            opset_version=OPSET, dynamo=False,
        )
    model = onnx.load_from_string(graph.getvalue())
    meta = {
        "env_id": env_id,
        "env_version": env_version(env_id),
        "env_kwargs": env_kwargs or {},
        "n_max": n,
        "e_max": e,
        "node_features": graph_metadata["node_features"],
        "edge_features": graph_metadata["edge_features"],
        "global_features": graph_metadata["global_features"],
        "inputs": list(INPUT_NAMES),
        "outputs": list(OUTPUT_NAMES),
        **(extra or {}),
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, json.dumps(value)
    model.producer_name = "schedgym"
    onnx.checker.check_model(model)
    write_bytes_atomic(path, model.SerializeToString())
    return path


def export_checkpoint(checkpoint: str | Path, path: str | Path, env_id: str,
                      env_kwargs: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Exports a ``MaskablePPO`` zip written by ``train.py`` (unpickles it: trusted files only)."""
    import gymnasium as gym
    from sb3_contrib import MaskablePPO

    from schedgym import envs  # noqa: F401  (registers the env ids)

    model = MaskablePPO.load(str(checkpoint), device="cpu")
    env = gym.make(env_id, **(env_kwargs or {}))
    spec = env.unwrapped.spec_graph
    env.close()
    # The pointer net is size-agnostic: it may be exported for another size of the same env (same
    # features, other N_MAX/E_MAX), e.g. trained on VM small and run on VM medium.
    space = model.observation_space
    trained = (space["nodes"].shape[1], space["edge_attr"].shape[1], space["globals"].shape[0])
    target = (len(spec.node_features), len(spec.edge_features), len(spec.global_features))
    if trained != target:
        raise ValueError(f"{checkpoint} was trained with (node, edge, global) features {trained}, but "
                         f"{env_id} {env_kwargs or {}} observes {target}")
    extra = {"trained_n_max": int(space["nodes"].shape[0]), "trained_e_max": int(space["edge_attr"].shape[0]),
             **(extra or {})}
    return export_net(model.policy.pointer_net, path, spec.metadata(), env_id, env_kwargs, extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a train.py checkpoint to ONNX")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--env", required=True)
    parser.add_argument("--env-kwargs", default="{}", help="JSON gym.make keyword arguments")
    parser.add_argument("--sidecar", action="store_true",
                        help="also write OUT with .json: the run's summary (command, seed, timesteps, wall "
                             "time) and validation curve, as shipped with policies/pretrained/")
    args = parser.parse_args(argv)
    run = args.checkpoint.parent
    extra = {}
    if (run / "summary.json").exists():
        summary = json.loads((run / "summary.json").read_text())
        extra = {key: summary[key] for key in ("commands", "seed", "timesteps", "wall_s") if key in summary}
    path = export_checkpoint(args.checkpoint, args.out, args.env, json.loads(args.env_kwargs), extra)
    print(f"wrote {path}")
    if args.sidecar:
        record = {"source_run": str(run), "checkpoint": args.checkpoint.name, "env_id": args.env,
                  "env_kwargs": json.loads(args.env_kwargs), **extra}
        if (run / "summary.json").exists():
            record["trained_env_kwargs"] = summary.get("env_kwargs")
            record["best_val"] = summary.get("best_val")
        if (run / "eval_curve.json").exists():
            record["validation_curve"] = json.loads((run / "eval_curve.json").read_text())
        sidecar = Path(args.out).with_suffix(".json")
        write_json_atomic(sidecar, record)
        print(f"wrote {sidecar}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
