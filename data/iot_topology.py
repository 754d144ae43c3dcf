"""IoT topologies written by hand: a YAML or JSON description of compute nodes and links, read
into an :class:`envs.iot.types.Topology`.

Format (``data/iot/example_topology.yaml`` is a complete example; ``.json`` files hold the same
structure)::

    nodes:                       # the compute nodes; node j of the Topology is the j-th entry
      - name: pi-0               # unique text, used by the links
        tier: device             # device, edge, fog or cloud
        preset: raspberry-pi-4   # optional: a name of envs.iot.topology.PRESETS
      - name: gateway
        tier: edge
        cores: 6                 # integer in [1, 256]
        freq_hz: 2.4e9           # cycles per second of one core, > 0
        memory_mb: 16384         # > 0
        p_idle_w: 63.1           # watts with every core idle, >= 0
        p_max_w: 200             # watts with every core busy, >= p_idle_w
    links:                       # undirected, full duplex: each direction has the bandwidth
      - {a: pi-0, b: gateway, latency_s: 0.002, bandwidth_bps: 2.1e6}

Rules:

* A node gives either a ``preset`` or every hardware field (``cores``, ``freq_hz``, ``memory_mb``,
  ``p_idle_w``, ``p_max_w``); with a preset, a field given explicitly overrides the preset's
  value. ``tier`` is always required (a preset's own tier is not assumed, so a fog-class server
  may serve as an edge node).
* ``tx_power_w`` (watts while the device's radio sends) applies to devices only: a device without
  a device preset must give it; a node of another tier has 0 (the simulator charges radio energy
  only to the sending device), and a non-zero value there is an error.
* Every node has at least one link (a node without one is almost always a typo); the two ends of
  a link are known, different nodes; no two links join the same pair.
* Numbers are YAML/JSON numbers (``1.5e9`` is read as a float, as in YAML 1.2 and JSON); a
  boolean or a quoted number is refused. Keys are checked: an unknown or repeated key is an error.

Every problem raises :class:`TopologyFormatError`, naming the file, the line of the entry (YAML
files), the entry (``nodes[2] 'pi-2'``), the field and the value.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from schedgym.envs.iot.topology import PRESETS
from schedgym.envs.iot.types import DEVICE, MAX_CORES, TIER_NAMES, Topology

TOP_KEYS = ("nodes", "links")
HARDWARE_KEYS = ("cores", "freq_hz", "memory_mb", "p_idle_w", "p_max_w")
NODE_KEYS = ("name", "tier", "preset", *HARDWARE_KEYS, "tx_power_w")
LINK_KEYS = ("a", "b", "latency_s", "bandwidth_bps")
SUFFIXES = (".yaml", ".yml", ".json")


class TopologyFormatError(ValueError):
    """A topology file does not follow the format; the message says where and why."""


class _Entry(dict):
    """A mapping read from the file, with the 1-based line where it starts (None for JSON)."""

    line: int | None = None


class _Loader(yaml.SafeLoader):
    """Safe YAML loader: mappings keep their line and refuse repeated keys; ``1e9`` is a float."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Entry:
    loader.flatten_mapping(node)
    pairs = loader.construct_pairs(node, deep=True)
    return _pairs_to_entry(pairs, node.start_mark.line + 1)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 wants a dot and a signed exponent (1.0e+9); accept the 1.2/JSON forms 1e9, 2.5e-3.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def _pairs_to_entry(pairs: list[tuple[Any, Any]], line: int | None) -> _Entry:
    entry = _Entry()
    entry.line = line
    for key, value in pairs:
        if key in entry:
            where = f"line {line}: " if line else ""
            raise _Problem(f"{where}the key {key!r} appears twice in one entry")
        entry[key] = value
    return entry


class _Problem(Exception):
    """A problem found while parsing; turned into a TopologyFormatError naming the file."""


def load_topology(path: str | os.PathLike) -> Topology:
    """Reads a topology file (module docstring) into a validated :class:`Topology`.

    Args:
        path: A ``.yaml``, ``.yml`` or ``.json`` file.

    Returns:
        The topology; node ``j`` is the ``j``-th entry of ``nodes``, link ``l`` the ``l``-th of
        ``links`` (``link_src`` its ``a``, ``link_dst`` its ``b``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TopologyFormatError: The file is malformed (the message names file, line, entry, field
            and value).
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise TopologyFormatError(
            f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(SUFFIXES)}")
    text = path.read_text(encoding="utf-8-sig")
    try:
        document = _parse(path, text)
        return _build(document)
    except _Problem as problem:
        raise TopologyFormatError(f"{path}: {problem}") from None


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=lambda pairs: _pairs_to_entry(pairs, None))
        except json.JSONDecodeError as exc:
            raise _Problem(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise _Problem(f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None


def _build(document: Any) -> Topology:
    if not isinstance(document, Mapping):
        raise _Problem(
            f"expected a mapping with the keys {', '.join(TOP_KEYS)}, got {_shown(document)}")
    _check_keys(document, TOP_KEYS, "the top level", required=TOP_KEYS)
    node_list, link_list = document["nodes"], document["links"]
    for key, value in (("nodes", node_list), ("links", link_list)):
        if not isinstance(value, list) or not value:
            raise _Problem(f"{key} must be a non-empty list of entries, got {_shown(value)}")
    nodes = [_node(index, entry) for index, entry in enumerate(node_list)]
    index_of: dict[str, int] = {}
    for node in nodes:
        if node["name"] in index_of:
            other = index_of[node["name"]]
            raise _Problem(f"{node['where']}: the name {node['name']!r} is also nodes[{other}]'s")
        index_of[node["name"]] = len(index_of)
    links = [_link(index, entry, index_of) for index, entry in enumerate(link_list)]
    seen: dict[tuple[int, int], int] = {}
    for index, link in enumerate(links):
        pair = (min(link["a"], link["b"]), max(link["a"], link["b"]))
        if pair in seen:
            raise _Problem(f"{link['where']}: joins the same two nodes as links[{seen[pair]}]")
        seen[pair] = index
    linked = {end for link in links for end in (link["a"], link["b"])}
    for node in nodes:
        if index_of[node["name"]] not in linked:
            raise _Problem(f"{node['where']}: has no link (every node needs one)")
    if not any(node["tier"] == DEVICE for node in nodes):
        raise _Problem("no node has tier 'device'; tasks are generated by devices")
    topology = Topology(
        tier=np.array([n["tier"] for n in nodes], np.int64),
        cores=np.array([n["cores"] for n in nodes], np.int64),
        **{key: np.array([n[key] for n in nodes], np.float64) for key in HARDWARE_KEYS[1:]},
        tx_power_w=np.array([n["tx_power_w"] for n in nodes], np.float64),
        link_src=np.array([link["a"] for link in links], np.int64),
        link_dst=np.array([link["b"] for link in links], np.int64),
        link_latency_s=np.array([link["latency_s"] for link in links], np.float64),
        link_bandwidth_bps=np.array([link["bandwidth_bps"] for link in links], np.float64),
    )
    topology.validate("topology file")  # every range is checked above; this guards the assembly
    return topology


def _node(index: int, entry: Any) -> dict[str, Any]:
    where = _where("nodes", index, entry)
    if not isinstance(entry, Mapping):
        raise _Problem(f"{where}: expected a mapping with keys from {', '.join(NODE_KEYS)}, "
                       f"got {_shown(entry)}")
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        where += f" {name!r}"
    _check_keys(entry, NODE_KEYS, where, required=("name", "tier"))
    if not isinstance(name, str) or not name.strip():
        raise _Problem(f"{where}: field 'name' must be non-empty text, got {_shown(name)}")
    tier_name = entry["tier"]
    if tier_name not in TIER_NAMES:
        raise _Problem(f"{where}: field 'tier' must be one of {', '.join(TIER_NAMES)}, "
                       f"got {_shown(tier_name)}")
    tier = TIER_NAMES.index(tier_name)
    values: dict[str, Any] = {}
    preset_name = entry.get("preset")
    if "preset" in entry:
        if not isinstance(preset_name, str) or preset_name not in PRESETS:
            raise _Problem(f"{where}: field 'preset' must be one of {', '.join(PRESETS)}, "
                           f"got {_shown(preset_name)}")
        preset = PRESETS[preset_name]
        values = {key: getattr(preset, key) for key in HARDWARE_KEYS}
        if preset.tier == DEVICE:
            values["tx_power_w"] = preset.tx_power_w
    else:
        missing = [key for key in HARDWARE_KEYS if key not in entry]
        if missing:
            raise _Problem(f"{where}: without a preset the fields {', '.join(HARDWARE_KEYS)} "
                           f"are required; missing {', '.join(missing)}")
    for key in HARDWARE_KEYS:
        if key in entry:
            values[key] = entry[key]
    values["cores"] = _integer(where, "cores", values["cores"], 1, MAX_CORES)
    for key in ("freq_hz", "memory_mb"):
        values[key] = _number(where, key, values[key], positive=True)
    values["p_idle_w"] = _number(where, "p_idle_w", values["p_idle_w"])
    values["p_max_w"] = _number(where, "p_max_w", values["p_max_w"])
    if values["p_max_w"] < values["p_idle_w"]:
        raise _Problem(f"{where}: field 'p_max_w' must be >= p_idle_w ({values['p_idle_w']!r}), "
                       f"got {values['p_max_w']!r}")
    values["tx_power_w"] = _radio_power(where, tier, entry, values.get("tx_power_w"))
    return {"where": where, "name": name, "tier": tier, **values}


def _radio_power(where: str, tier: int, entry: Mapping, preset_value: float | None) -> float:
    if tier != DEVICE:
        value = _number(where, "tx_power_w", entry["tx_power_w"]) if "tx_power_w" in entry else 0.0
        if value != 0.0:
            raise _Problem(f"{where}: field 'tx_power_w' applies to devices only (it is 0 on the "
                           f"{TIER_NAMES[tier]} tier), got {value!r}")
        return 0.0
    if "tx_power_w" in entry:
        return _number(where, "tx_power_w", entry["tx_power_w"])
    if preset_value is None:
        raise _Problem(
            f"{where}: a device without a device preset must give 'tx_power_w' (radio watts)")
    return float(preset_value)


def _link(index: int, entry: Any, index_of: dict[str, int]) -> dict[str, Any]:
    where = _where("links", index, entry)
    if not isinstance(entry, Mapping):
        raise _Problem(f"{where}: expected a mapping with the keys {', '.join(LINK_KEYS)}, "
                       f"got {_shown(entry)}")
    _check_keys(entry, LINK_KEYS, where, required=LINK_KEYS)
    ends = {}
    for key in ("a", "b"):
        if not isinstance(entry[key], str) or entry[key] not in index_of:
            raise _Problem(f"{where}: field {key!r} must name a node, got {_shown(entry[key])}")
        ends[key] = index_of[entry[key]]
    if ends["a"] == ends["b"]:
        raise _Problem(
            f"{where}: fields 'a' and 'b' must name different nodes, got {entry['a']!r} twice")
    return {
        "where": where, **ends,
        "latency_s": _number(where, "latency_s", entry["latency_s"]),
        "bandwidth_bps": _number(where, "bandwidth_bps", entry["bandwidth_bps"], positive=True),
    }


def _where(table: str, index: int, entry: Any) -> str:
    line = getattr(entry, "line", None)
    return (f"line {line}: " if line else "") + f"{table}[{index}]"


def _check_keys(entry: Mapping, allowed: tuple[str, ...], where: str,
                required: tuple[str, ...]) -> None:
    unknown = [key for key in entry if key not in allowed]
    if unknown:
        raise _Problem(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")
    missing = [key for key in required if key not in entry]
    if missing:
        raise _Problem(
            f"{where}: missing the field {missing[0]!r} (required: {', '.join(required)})")


def _number(where: str, key: str, value: Any, positive: bool = False) -> float:
    allowed = "a finite number " + ("> 0" if positive else ">= 0")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Problem(f"{where}: field {key!r} must be {allowed}, got {_shown(value)}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise _Problem(f"{where}: field {key!r} must be {allowed}, got {value!r}")
    return number


def _integer(where: str, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Problem(
            f"{where}: field {key!r} must be an integer in [{low}, {high}], got {_shown(value)}")
    return int(value)


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


__all__ = ["TopologyFormatError", "load_topology", "TOP_KEYS", "NODE_KEYS", "LINK_KEYS"]
