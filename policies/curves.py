"""Validation curves as pictures: ``eval_curve.json`` of a run, or the ``validation_curve`` of a
shipped policy's sidecar, plotted against timesteps and wall time.

    python -m schedgym.policies.curves policies/pretrained/vm.json --metric fragment_rate   # writes vm.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from schedgym.data.files import atomic_path


def load_curve(path: Path) -> tuple[list[dict[str, Any]], str]:
    """The curve rows and the env id (empty if unknown) of a run curve or a policy sidecar."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable JSON curve: {error}") from None
    if isinstance(data, dict):
        return data.get("validation_curve", []), data.get("env_id", "")
    return data, ""


def plot_validation_curve(curve: list[dict[str, Any]], metric: str, path: Path, title: str = "") -> None:
    """Saves ``metric`` over timesteps (bottom axis) and wall minutes (top axis) as an image,
    atomically."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    if not curve or metric not in curve[0]:
        raise ValueError(f"the curve has no {metric!r} values")
    steps = [row["timesteps"] for row in curve]
    figure, axis = plt.subplots(figsize=(6, 3.4))
    axis.plot(steps, [row[metric] for row in curve], marker="o", markersize=3, color="#4c72b0")
    axis.set_xlabel("timesteps")
    axis.set_ylabel(f"validation {metric}")
    if all("wall_s" in row for row in curve):
        minutes = [row["wall_s"] / 60 for row in curve]
        top = axis.secondary_xaxis(
            "top", functions=(lambda x: np.interp(x, steps, minutes), lambda m: np.interp(m, minutes, steps))
        )
        top.set_xlabel("wall minutes")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(path) as temporary:  # keeps the suffix, which names the image format
        figure.savefig(temporary, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curve", type=Path, help="eval_curve.json of a run or a policy's .json sidecar")
    parser.add_argument("--metric", required=True, help="the validation metric, e.g. fragment_rate")
    parser.add_argument("--out", type=Path, help="default: the curve's path with .png")
    args = parser.parse_args(argv)
    curve, env_id = load_curve(args.curve)
    metric = args.metric
    out = args.out or args.curve.with_suffix(".png")
    plot_validation_curve(curve, metric, out, title=f"{env_id or args.curve.name}: {metric}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
