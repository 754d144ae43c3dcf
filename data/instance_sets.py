"""Fixed instance sets of every env: one file format, one seed scheme, one command to write them.

An *instance set* is a fixed, seeded list of instances with the env arguments they need; the
leaderboard reports on test sets, model selection uses validation sets, training never samples
either. Each env's generator declares its sets as :class:`Recipe` objects (``INSTANCE_SETS`` in
``envs/<key>/generator.py``, named in the env table of ``schedgym.envs``).

Seeds: a set is drawn from ``np.random.default_rng([namespace, *seed_key])``, where the namespace
belongs to (env key, purpose) in :data:`SEED_NAMESPACES` and the recipe picks ``seed_key``.
Training seeds flow from ``reset(seed=s)`` with small user integers, so they never meet a
namespace's stream, and the test and validation namespaces of an env differ.

Format: ``data/<key>/<name>.npz``, written atomically, holding ``meta`` (JSON: format version,
env key, name, purpose, env kwargs, entropy, instance names) and each instance's arrays under
``<index>/<field>`` (the instance type's ``arrays()`` / ``from_arrays()``). No pickles.

Regenerate or check them::

    python -m schedgym.data.instance_sets --write            # every env, every set
    python -m schedgym.data.instance_sets --check --env vm   # regenerate in memory, compare
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schedgym.data.files import atomic_path
from schedgym.envs import ENVS, load_reference

FORMAT_VERSION = 1
DATA_DIR = Path(__file__).resolve().parent
PURPOSES = ("test", "val")

# (env key, purpose) -> the namespace of its sets' seeds; never used by training code.
SEED_NAMESPACES: dict[tuple[str, str], int] = {
    ("vm", "test"): 0x5C4ED7E5,
    ("vm", "val"): 0x5C4EDA11,
    ("soc", "test"): 0x50C_7E57,
    ("llm", "test"): 0x11A_7E57,
    ("llm", "val"): 0x11A_0A11,
    ("iot", "test"): 0x107_7E57,
    ("iot", "val"): 0x107_0A11,
    ("llm_cluster", "test"): 0x11C_7E57,
    ("llm_cluster", "val"): 0x11C_0A11,
}


@dataclass(frozen=True)
class InstanceSet:
    """A fixed, seeded set of instances and the env arguments they need.

    Attributes:
        name: Set name, e.g. ``"small-test"``.
        env_kwargs: Keyword arguments for ``gym.make`` that match the instances (size, ...).
        instances: The instances, each passed as ``env.reset(options={"instance": inst})``.
    """

    name: str
    env_kwargs: dict[str, Any]
    instances: tuple[Any, ...]


@dataclass(frozen=True)
class Recipe:
    """How one fixed set is drawn.

    Attributes:
        env_key: The env's key (``"vm"``, ``"soc"``, ...).
        name: Set name; its file is ``data/<env_key>/<name>.npz``.
        purpose: ``"test"`` (the leaderboard) or ``"val"`` (model selection).
        env_kwargs: The env arguments the instances need.
        seed_key: Integers that, after the namespace, seed the set.
        draw: ``draw(recipe)`` returns the instances, drawing from ``recipe.entropy``.
    """

    env_key: str
    name: str
    purpose: str
    env_kwargs: dict[str, Any]
    seed_key: tuple[int, ...]
    draw: Callable[["Recipe"], Sequence[Any]]

    @property
    def entropy(self) -> tuple[int, ...]:
        """The seed of the set: its namespace, then ``seed_key``."""
        if (self.env_key, self.purpose) not in SEED_NAMESPACES:
            raise KeyError(f"no seed namespace for {self.env_key} {self.purpose} sets; add one to SEED_NAMESPACES")
        return (SEED_NAMESPACES[(self.env_key, self.purpose)], *self.seed_key)

    def rng(self, *extra: int) -> np.random.Generator:
        """A generator seeded by :attr:`entropy` followed by ``extra`` (e.g. an instance index)."""
        return np.random.default_rng([*self.entropy, *extra])

    def build(self) -> InstanceSet:
        """Draws the set."""
        return InstanceSet(self.name, dict(self.env_kwargs), tuple(self.draw(self)))


def _entry(env_key: str):
    for entry in ENVS.values():
        if entry.key == env_key:
            return entry
    raise KeyError(f"unknown env key {env_key!r}; known: {', '.join(e.key for e in ENVS.values())}")


def recipes(env_key: str) -> dict[str, Recipe]:
    """The recipes of an env's sets, by name (imports its generator)."""
    return {recipe.name: recipe for recipe in load_reference(_entry(env_key).instance_sets)}


def set_path(env_key: str, name: str, directory: Path | None = None) -> Path:
    return (directory or DATA_DIR / env_key) / f"{name}.npz"


def set_names(env_key: str) -> tuple[str, ...]:
    """Names of the sets shipped for an env (reads only the folder listing)."""
    return tuple(sorted(path.stem for path in (DATA_DIR / env_key).glob("*.npz")))


def save(path: Path, recipe: Recipe, instance_set: InstanceSet) -> None:
    """Writes ``instance_set`` drawn by ``recipe`` to ``path`` atomically (a temporary file in
    the same folder, then a rename), so a crash never leaves a truncated set."""
    meta = {
        "format": FORMAT_VERSION, "env_key": recipe.env_key, "name": recipe.name, "purpose": recipe.purpose,
        "env_kwargs": recipe.env_kwargs, "entropy": list(recipe.entropy),
        "instances": [getattr(inst, "name", "") for inst in instance_set.instances],
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for index, instance in enumerate(instance_set.instances):
        arrays.update({f"{index}/{field}": value for field, value in instance.arrays().items()})
    with atomic_path(path) as temporary:
        np.savez_compressed(temporary, **arrays)


def load(path: Path, env_key: str) -> InstanceSet:
    """Reads a set written by :func:`save`.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not an instance set of ``env_key`` in this format; the message
            names the file and what is wrong with it.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not an instance set (.npz): {error}") from None
    with archive:
        files = set(archive.files)
        if "meta" not in files:
            raise ValueError(f"{path} has no 'meta' entry: not a SchedGym instance set "
                             f"(regenerate it with `python -m schedgym.data.instance_sets --write`)")
        try:
            meta = json.loads(str(archive["meta"]))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: 'meta' is not JSON: {error}") from None
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: format {meta.get('format')!r}, this SchedGym reads format {FORMAT_VERSION}")
        if meta.get("env_key") != env_key:
            raise ValueError(f"{path} holds {meta.get('env_key')!r} instances, not {env_key!r}")
        instance_type = load_reference(_entry(env_key).instance_type)
        instances = []
        for index, name in enumerate(meta["instances"]):
            prefix = f"{index}/"
            fields = {key[len(prefix):]: archive[key] for key in files if key.startswith(prefix)}
            try:
                instances.append(instance_type.from_arrays(fields, name=name))
            except ValueError as error:
                raise ValueError(f"{path}, instance {index}: {error}") from None
    if not instances:
        raise ValueError(f"{path} holds no instances")
    return InstanceSet(meta["name"], meta["env_kwargs"], tuple(instances))


def load_named(env_key: str, name: str) -> InstanceSet:
    """The shipped set ``name`` of an env; ``KeyError`` lists the sets there are."""
    path = set_path(env_key, name)
    if not path.exists():
        raise KeyError(f"no {env_key} instance set {name!r}; available: {', '.join(set_names(env_key)) or 'none'}")
    return load(path, env_key)


def same_instances(a: InstanceSet, b: InstanceSet) -> bool:
    """Whether two sets hold the same instances, array by array (dtypes included)."""
    if a.env_kwargs != b.env_kwargs or len(a.instances) != len(b.instances):
        return False
    for x, y in zip(a.instances, b.instances):
        ax, ay = x.arrays(), y.arrays()
        if getattr(x, "name", "") != getattr(y, "name", "") or ax.keys() != ay.keys():
            return False
        if any(ax[k].dtype != ay[k].dtype or not np.array_equal(ax[k], ay[k]) for k in ax):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the fixed instance sets.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate the sets into data/<key>/")
    action.add_argument("--check", action="store_true", help="regenerate in memory and compare with the files")
    parser.add_argument("--env", action="append", choices=sorted({e.key for e in ENVS.values()}),
                        help="only this env's sets (repeatable; default: every env)")
    parser.add_argument("--set", action="append", dest="sets", metavar="NAME", help="only this set (repeatable)")
    args = parser.parse_args(argv)
    differing = []
    for env_key in args.env or sorted({e.key for e in ENVS.values()}):
        for name, recipe in recipes(env_key).items():
            if args.sets and name not in args.sets:
                continue
            fresh, path = recipe.build(), set_path(env_key, name)
            if args.write:
                save(path, recipe, fresh)
                print(f"wrote {path} ({len(fresh.instances)} instances)")
            else:
                same = path.exists() and same_instances(fresh, load(path, env_key))
                print(f"{'same' if same else 'DIFFERENT'}: {path}")
                differing += [] if same else [path]
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
