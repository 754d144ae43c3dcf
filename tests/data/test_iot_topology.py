"""Tests for data.iot_topology: the shipped example, a hand-made file with known arrays, and a
table of malformed files whose errors must name the file, the line, the entry and the value."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from schedgym.data.iot_topology import TopologyFormatError, load_topology
from schedgym.envs.iot.topology import PRESETS
from schedgym.envs.iot.types import CLOUD, DEVICE, EDGE, FOG

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "iot" / "example_topology.yaml"

# One entry per line, so each entry's line is known: d0 line 2, d1 3, gw 4, cloud 5; links 7-9.
BASE = (
    "nodes:\n"
    "  - {name: d0, tier: device, preset: raspberry-pi-4}\n"
    "  - {name: d1, tier: device, cores: 2, freq_hz: 1e9, memory_mb: 1024, p_idle_w: 1, p_max_w: 2,"
    " tx_power_w: 0.2}\n"
    "  - {name: gw, tier: edge, preset: xeon-e5645, memory_mb: 8192}\n"
    "  - {name: cloud, tier: cloud, preset: ifogsim-cloud}\n"
    "links:\n"
    "  - {a: d0, b: gw, latency_s: 0.002, bandwidth_bps: 2e6}\n"
    "  - {a: gw, b: d1, latency_s: 0.003, bandwidth_bps: 1.5e+6}\n"
    "  - {a: gw, b: cloud, latency_s: 0.1, bandwidth_bps: 1e9}\n"
)


def write(tmp_path: Path, text: str, name: str = "topo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hand_made_file_gives_the_arrays_written(tmp_path: Path) -> None:
    topology = load_topology(write(tmp_path, BASE))
    pi, xeon, cloud = PRESETS["raspberry-pi-4"], PRESETS["xeon-e5645"], PRESETS["ifogsim-cloud"]
    assert topology.tier.tolist() == [DEVICE, DEVICE, EDGE, CLOUD]
    assert topology.cores.tolist() == [pi.cores, 2, xeon.cores, cloud.cores]
    assert topology.freq_hz.tolist() == [pi.freq_hz, 1e9, xeon.freq_hz, cloud.freq_hz]
    assert topology.memory_mb.tolist() == [pi.memory_mb, 1024.0, 8192.0, cloud.memory_mb]
    assert topology.p_idle_w.tolist() == [pi.p_idle_w, 1.0, xeon.p_idle_w, cloud.p_idle_w]
    assert topology.p_max_w.tolist() == [pi.p_max_w, 2.0, xeon.p_max_w, cloud.p_max_w]
    assert topology.tx_power_w.tolist() == [pi.tx_power_w, 0.2, 0.0, 0.0]
    assert topology.link_src.tolist() == [0, 2, 2] and topology.link_dst.tolist() == [2, 1, 3]
    assert topology.link_latency_s.tolist() == [0.002, 0.003, 0.1]
    assert topology.link_bandwidth_bps.tolist() == [2e6, 1.5e6, 1e9]
    assert topology.cores.dtype == np.int64 and topology.link_src.dtype == np.int64


def test_json_file_reads_like_the_yaml_one(tmp_path: Path) -> None:
    document = yaml.safe_load(BASE.replace("1e9", "1.0e+9").replace("2e6", "2.0e+6"))  # YAML 1.1
    from_json = load_topology(write(tmp_path, json.dumps(document, indent=2), "topo.json"))
    from_yaml = load_topology(write(tmp_path, BASE))
    for field in ("tier", "cores", "freq_hz", "memory_mb", "p_idle_w", "p_max_w", "tx_power_w",
                  "link_src", "link_dst", "link_latency_s", "link_bandwidth_bps"):
        assert np.array_equal(getattr(from_json, field), getattr(from_yaml, field)), field


def test_shipped_example_loads() -> None:
    topology = load_topology(EXAMPLE)
    assert topology.tier.tolist() == [DEVICE] * 4 + [EDGE, EDGE, FOG, CLOUD]
    assert topology.memory_mb[2] == 2048.0 and topology.freq_hz[3] == 1.43e9
    assert topology.num_links == 9 and set(topology.link_src[:5]) == {0, 1, 2, 3}


# (what to replace in BASE, its replacement, the line named or None, a pattern the message matches)
MALFORMED = [
    ("nodes:", "nodez:", None, r"the top level: unknown key 'nodez'"),
    (BASE[BASE.index("links:"):], "", None, r"the top level: missing the field 'links'"),
    (BASE, "nodes: []\nlinks: []\n", None, r"nodes must be a non-empty list"),
    (BASE, "- 1\n- 2\n", None, r"expected a mapping with the keys nodes, links, got \[1, 2\]"),
    ("raspberry-pi-4}", "raspberry-pi-4, core: 4}", 2, r"nodes\[0\] 'd0': unknown key 'core'"),
    ("{name: d0, ", "{", 2, r"nodes\[0\]: missing the field 'name'"),
    ("name: d0, tier: device", "name: d0", 2, r"nodes\[0\] 'd0': missing the field 'tier'"),
    ("name: d0,", "name: '',", 2, r"field 'name' must be non-empty text, got ''"),
    ("tier: edge", "tier: gateway", 4,
     r"nodes\[2\] 'gw': field 'tier' must be one of device, edge, fog, cloud, got 'gateway'"),
    ("preset: xeon-e5645", "preset: xeon", 4, r"field 'preset' must be one of .*got 'xeon'"),
    ("freq_hz: 1e9, ", "", 3, r"nodes\[1\] 'd1': without a preset the fields .* missing freq_hz"),
    ("cores: 2,", "cores: 2.5,", 3, r"field 'cores' must be an integer in \[1, 256\], got 2.5"),
    ("cores: 2,", "cores: true,", 3, r"field 'cores' must be an integer .*got True \(bool\)"),
    ("cores: 2,", "cores: 257,", 3, r"field 'cores' must be an integer in \[1, 256\], got 257"),
    ("1e9,", "fast,", 3, r"'freq_hz' must be a finite number > 0, got 'fast' \(str\)"),
    ("1e9,", "'1e9',", 3, r"'freq_hz' must be a finite number > 0, got '1e9' \(str\)"),
    ("freq_hz: 1e9", "freq_hz: 0", 3, r"field 'freq_hz' must be a finite number > 0, got 0"),
    ("memory_mb: 1024", "memory_mb: .nan", 3, r"'memory_mb' must be a finite number > 0, got nan"),
    ("p_idle_w: 1,", "p_idle_w: -1,", 3, r"field 'p_idle_w' must be a finite number >= 0, got -1"),
    ("p_max_w: 2,", "p_max_w: 0.5,", 3, r"field 'p_max_w' must be >= p_idle_w \(1.0\), got 0.5"),
    (", tx_power_w: 0.2}", "}", 3,
     r"nodes\[1\] 'd1': a device without a device preset must give 'tx_power_w'"),
    ("8192}", "8192, tx_power_w: 0.1}", 4, r"'tx_power_w' applies to devices only"),
    ("tier: device, cores", "tier: fog, cores", 3,
     r"nodes\[1\] 'd1': field 'tx_power_w' applies to devices only \(it is 0 on the fog tier\)"),
    ("name: gw,", "name: d0,", 4, r"nodes\[2\] 'd0': the name 'd0' is also nodes\[0\]'s"),
    ("raspberry-pi-4}", "raspberry-pi-4, tier: edge}", 2, r"the key 'tier' appears twice"),
    ("b: gw, latency_s: 0.002", "b: ghost, latency_s: 0.002", 7,
     r"links\[0\]: field 'b' must name a node, got 'ghost'"),
    ("b: gw, latency_s: 0.002", "b: [gw], latency_s: 0.002", 7,
     r"links\[0\]: field 'b' must name a node, got \['gw'\]"),
    ("a: d0, b: gw", "a: gw, b: gw", 7, r"links\[0\]: fields 'a' and 'b' must name different"),
    ("b: cloud,", "b: d0,", 9, r"links\[2\]: joins the same two nodes as links\[0\]"),
    ("a: gw, b: d1,", "a: cloud, b: gw,", 9, r"links\[2\]: joins the same two nodes as links\[1\]"),
    ("bandwidth_bps: 2e6", "bandwidth_bps: 0", 7, r"links\[0\]: field 'bandwidth_bps' .* > 0"),
    ("0.002, bandwidth_bps: 2e6", "-0.002, bandwidth_bps: 2e6", 7,
     r"'latency_s' must be a finite number >= 0, got -0.002"),
    ("latency_s: 0.002, ", "", 7, r"links\[0\]: missing the field 'latency_s'"),
    ("  - {a: gw, b: d1, latency_s: 0.003, bandwidth_bps: 1.5e+6}\n", "", 3,
     r"nodes\[1\] 'd1': has no link"),
    ("nodes:\n", "nodes:\n  - {name: [x\n", None, r"line \d+: not valid YAML"),
]


@pytest.mark.parametrize(("old", "new", "line", "pattern"), MALFORMED,
                         ids=[case[3][:40] for case in MALFORMED])
def test_malformed_file_is_refused_naming_where(tmp_path: Path, old: str, new: str,
                                                line: int | None, pattern: str) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(TopologyFormatError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message
    if line is not None:
        assert f"line {line}: " in message, message


def test_a_topology_without_devices_is_refused(tmp_path: Path) -> None:
    text = """\
nodes:
  - {name: gw, tier: edge, preset: xeon-e5645}
  - {name: cloud, tier: cloud, preset: ifogsim-cloud}
links:
  - {a: gw, b: cloud, latency_s: 0.1, bandwidth_bps: 1e9}
"""
    with pytest.raises(TopologyFormatError, match="no node has tier 'device'"):
        load_topology(write(tmp_path, text))


def test_bad_json_and_unknown_suffix_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TopologyFormatError, match=r"topo.json: line 2: not valid JSON"):
        load_topology(write(tmp_path, '{"nodes": [],\n "links": [}', "topo.json"))
    with pytest.raises(TopologyFormatError, match=r"the key 'nodes' appears twice"):
        load_topology(write(tmp_path, '{"nodes": [], "nodes": []}', "topo.json"))
    with pytest.raises(TopologyFormatError, match=r"unknown file type '.txt'"):
        load_topology(write(tmp_path, BASE, "topo.txt"))
    with pytest.raises(FileNotFoundError):
        load_topology(tmp_path / "missing.yaml")
