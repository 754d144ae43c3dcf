"""The table of precomputed SoC bounds the leaderboard reads (``data/soc/bounds.json``).

A bound of a streaming instance takes minutes of CP-SAT (:mod:`baselines.soc.bound`), too slow to
recompute in every ``evaluate.py`` run, so ``python -m schedgym.baselines.soc.bound --write``
stores each (instance, seed) bound under a key of everything it depends on: the instance's
content (not its name), the platform, the noise σ, the seed when σ > 0, and the budgets. The
env's ``instance_bounds`` looks the key up and computes (and remembers in memory) only what the
table lacks, so a stale entry can never be read for a changed instance or budget.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from schedgym.envs.soc.types import SoCInstance

TABLE_PATH = Path(__file__).resolve().parents[2] / "data" / "soc" / "bounds.json"
FORMAT = 2  # 2: the capacity bound joined the CP-SAT one


def bound_key(instance: SoCInstance, platform: str, noise: float, seed: int | None,
              budget) -> str:  # noqa: ANN001 (a BoundBudget; imported lazily by callers)
    """A hex digest of everything the bound of ``instance`` depends on (module docstring)."""
    digest = hashlib.sha256()
    arrays = instance.arrays()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    used_seed = seed if noise > 0 else None
    # Only the budgets the bound uses: the static one for a single job, the others otherwise.
    fields = dataclasses.asdict(budget)
    used = ({"static_time": fields["static_time"]} if len(instance.jobs) == 1 else
            {name: value for name, value in fields.items() if name != "static_time"})
    meta = {"platform": platform, "noise": float(noise), "seed": used_seed, "budget": used,
            "format": FORMAT}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def load_table(path: Path = TABLE_PATH) -> dict[str, dict]:
    """The stored entries by key ({} if the file does not exist).

    Raises:
        ValueError: If the file is not a table of this format (naming the file).
    """
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not isinstance(data.get("bounds"), dict):
        raise ValueError(f"{path}: not a SoC bound table of format {FORMAT}")
    return data["bounds"]


def save_table(entries: dict[str, dict], path: Path = TABLE_PATH) -> None:
    """Writes the entries atomically (sorted by key, so diffs stay small)."""
    from schedgym.data.files import write_json_atomic

    write_json_atomic(path, {"format": FORMAT, "bounds": dict(sorted(entries.items()))})


__all__ = ["TABLE_PATH", "bound_key", "load_table", "save_table"]
