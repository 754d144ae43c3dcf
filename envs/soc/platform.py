"""Platforms and fixed workloads: the DS3 reference SoC and applications (read from
``data/soc/ds3.json``, which cites the papers) and the canonical Topcuoglu example."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from schedgym.envs.soc.types import Job, Platform, SoCInstance
from schedgym.envs.validation import argument_error

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "soc"
DS3_FILE = DATA_DIR / "ds3.json"
#: Most processors of an ``unrelated-<P>`` platform (Topcuoglu et al. evaluate 4 to 16; the
#: platform holds a P × P bandwidth matrix and every observation node 3P features).
MAX_UNRELATED_PES = 256


@functools.lru_cache(maxsize=None)
def _ds3_raw() -> dict:
    try:
        with open(DS3_FILE, encoding="utf-8") as fh:
            raw = json.load(fh)
    except FileNotFoundError as err:  # pragma: no cover - packaging error
        raise FileNotFoundError(f"DS3 platform file missing: {DS3_FILE}") from err
    if raw.get("format") != "schedgym-soc-platform/1":
        raise ValueError(f"{DS3_FILE}: unknown format {raw.get('format')!r}")
    return raw


def ds3_task_types() -> tuple[str, ...]:
    """Task type names of the DS3 platform, in file order (the type index order)."""
    return tuple(_ds3_raw()["task_types"])


def ds3_type_costs() -> np.ndarray:
    """Mean latency of each DS3 task type on each PE kind (µs, ``inf`` = unsupported)."""
    raw = _ds3_raw()
    kinds = raw["pe_kinds"]
    table = np.full((len(raw["task_types"]), len(kinds)), np.inf)
    for t, spec in enumerate(raw["task_types"].values()):
        for kind, lat in spec["latency"].items():
            table[t, kinds.index(kind)] = float(lat)
    return table


def check_platform_name(name: str, value: Any) -> str:
    """``value`` if it names a platform: ``"ds3"`` or ``"unrelated-<P>"`` with
    1 <= P <= :data:`MAX_UNRELATED_PES`.

    Raises:
        schedgym.envs.validation.ArgumentError: Otherwise (also a ``TypeError`` for a non-str),
            naming argument ``name`` and the value.
    """
    allowed = f"'ds3' or 'unrelated-<P>' with P in [1, {MAX_UNRELATED_PES}]"
    if not isinstance(value, str):
        raise argument_error(name, value, allowed, wrong_type=True)
    match = re.fullmatch(r"unrelated-(\d+)", value)
    if value != "ds3" and not (match and 1 <= int(match.group(1)) <= MAX_UNRELATED_PES):
        raise argument_error(name, value, allowed)
    return value


@functools.lru_cache(maxsize=None)
def get_platform(name: str) -> Platform:
    """Builds a platform by name: ``"ds3"`` (the 16-PE reference SoC) or ``"unrelated-<P>"``
    (P processors, each its own kind, unit bandwidth: Topcuoglu's model, where edge volumes are
    communication times); :func:`check_platform_name` says which names exist."""
    check_platform_name("platform", name)
    if name == "ds3":
        raw = _ds3_raw()
        kinds = tuple(raw["pe_kinds"])
        pe_kind = np.concatenate(
            [np.full(raw["pe_counts"][k], i, np.int64) for i, k in enumerate(kinds)]
        )
        bw = np.full((len(pe_kind), len(pe_kind)), float(raw["bandwidth"]["default"]))
        for kind, value in raw["bandwidth"]["into_kind"].items():
            bw[:, pe_kind == kinds.index(kind)] = float(value)
        return Platform("ds3", kinds, pe_kind, bw)
    p = int(name.removeprefix("unrelated-"))
    return Platform(name, tuple(f"P{i}" for i in range(p)), np.arange(p), np.ones((p, p)))


def ds3_app_names() -> tuple[str, ...]:
    return tuple(_ds3_raw()["applications"])


@functools.lru_cache(maxsize=None)
def ds3_app(name: str) -> Job:
    """The DS3 application ``name`` as a :class:`Job` on the ``ds3`` platform."""
    raw = _ds3_raw()
    if name not in raw["applications"]:
        raise KeyError(f"unknown DS3 application {name!r}; known: {', '.join(ds3_app_names())}")
    spec = raw["applications"][name]
    types: list[str]
    edges: list[tuple[int, int]]
    if "tasks" in spec:
        types, edges = list(spec["tasks"]), [tuple(e) for e in spec["edges"]]
    elif "chain" in spec:
        types = list(spec["chain"])
        edges = [(i, i + 1) for i in range(len(types) - 1)]
    else:  # head -> parallel chains -> tail (the WiFi shapes)
        types, edges = list(spec["head"]), [(i, i + 1) for i in range(len(spec["head"]) - 1)]
        head_last = len(types) - 1
        chain_ends = []
        for _ in range(spec["chains"]["count"]):
            first = len(types)
            types += spec["chains"]["types"]
            edges.append((head_last, first))
            edges += [(i, i + 1) for i in range(first, len(types) - 1)]
            chain_ends.append(len(types) - 1)
        tail_first = len(types)
        types += spec["tail"]
        edges += [(end, tail_first) for end in chain_ends]
        edges += [(i, i + 1) for i in range(tail_first, len(types) - 1)]
    names = ds3_task_types()
    type_idx = np.array([names.index(t) for t in types], np.int64)
    cost = ds3_type_costs()[type_idx]
    vol = float(raw["default_edge_volume"]["value"])
    e = np.array(edges, np.int64).reshape(-1, 2)
    return Job(name, cost, e, np.full(len(e), vol), type_idx)


# Topcuoglu, Hariri, Wu, IEEE TPDS 13(3) 2002, Fig. 2: computation costs on 3 processors.
TOPCUOGLU_COST = np.array(
    [[14, 16, 9], [13, 19, 18], [11, 13, 19], [13, 8, 17], [12, 13, 10],
     [13, 16, 9], [7, 15, 11], [5, 11, 14], [18, 12, 20], [21, 7, 16]], dtype=np.float64,
)
# (src, dst, communication cost) of the same figure, tasks numbered from 0.
TOPCUOGLU_EDGES = (
    (0, 1, 18), (0, 2, 12), (0, 3, 9), (0, 4, 11), (0, 5, 14), (1, 7, 19), (1, 8, 16),
    (2, 6, 23), (3, 7, 27), (3, 8, 23), (4, 8, 13), (5, 7, 15), (6, 9, 17), (7, 9, 11), (8, 9, 13),
)


def topcuoglu_job() -> Job:
    """The canonical 10-task graph (HEFT makespan 80, CPOP 86) for platform ``unrelated-3``."""
    e = np.array([x[:2] for x in TOPCUOGLU_EDGES], np.int64)
    vol = np.array([x[2] for x in TOPCUOGLU_EDGES], np.float64)
    return Job("topcuoglu-fig2", TOPCUOGLU_COST.copy(), e, vol, np.full(10, -1, np.int64))


def topcuoglu_instance() -> SoCInstance:
    """The canonical example as a static instance: use with ``platform="unrelated-3"``."""
    return SoCInstance("topcuoglu-fig2", "unrelated-3", (topcuoglu_job(),), np.zeros(1))


# The registry of named instances (``reset(options={"instance": name})``): name -> builder.
NAMED_INSTANCES = {"topcuoglu-fig2": topcuoglu_instance}
