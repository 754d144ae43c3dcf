"""Hardware presets and generated topologies of the IoT env (device → edge → fog → cloud).

Every preset figure names its source (``../shared/reference/iot_edge.md`` collects them); where
no published preset gives a figure, it is marked *assumption* and is an argument to change.

- Devices: Raspberry Pi 4 Model B, 4 cores, 8 GB, 2.56 W idle / 7.3 W max (EdgeSimPy's server
  presets, citing Zakarya et al., IEEE TSC 2020); 1.5 GHz Cortex-A72 cores (the board's
  datasheet). Radio transmit power 0.1 W (*assumption*: a 20 dBm Wi-Fi/LTE uplink).
- Edge servers at the gateways: Intel Xeon E5645, 63.1 W idle / 200 W max (EdgeSimPy);
  6 cores at 2.4 GHz (Intel's specification); 16 GB (*assumption*).
- Fog nodes: Intel Xeon E5430 as EdgeSimPy describes it, 8 cores, 16 GB, 166 W / 265 W;
  2.66 GHz (Intel's specification).
- Cloud datacentre: iFogSim's example cloud, 44,800 MIPS as 16 cores of 2,800 MIPS (one MIPS
  taken as 10^6 cycles/s), 40 GB, 16 × 83.25 W idle / 16 × 103 W busy.
- Links: device–edge 2 ms, edge–fog 4 ms, fog–cloud 100 ms (iFogSim's mobile→gateway,
  gateway→proxy, proxy→cloud latencies); device–edge bandwidth uniform in 1,700–2,500 kbps
  per link (RayCloudSim's Pakistan scenario); edge–fog 100 Mbps, fog–cloud 1 Gbps, edge–edge
  (mesh) 1 ms and 100 Mbps (*assumptions*).

Topologies (:func:`make_topology`): ``tree`` — each device on one edge server, edges on fog
nodes, every fog node on every cloud; ``mesh`` — the tree plus a second edge server for half of
the devices, a ring of edge–edge links and every edge joined to every fog node. Sizes are the
:data:`SCALES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schedgym.envs.iot.types import CLOUD, DEVICE, EDGE, FOG, Topology


@dataclass(frozen=True)
class NodePreset:
    """One kind of compute node; every figure from the module docstring's sources."""

    tier: int
    cores: int
    freq_hz: float
    memory_mb: float
    p_idle_w: float
    p_max_w: float
    tx_power_w: float = 0.0


PRESETS: dict[str, NodePreset] = {
    "raspberry-pi-4": NodePreset(DEVICE, 4, 1.5e9, 8192.0, 2.56, 7.3, tx_power_w=0.1),
    "xeon-e5645": NodePreset(EDGE, 6, 2.4e9, 16384.0, 63.1, 200.0),
    "xeon-e5430": NodePreset(FOG, 8, 2.66e9, 16384.0, 166.0, 265.0),
    "ifogsim-cloud": NodePreset(CLOUD, 16, 2.8e9, 40000.0, 16 * 83.25, 16 * 103.0),
}
#: The preset of each tier in generated topologies.
TIER_PRESETS = {DEVICE: "raspberry-pi-4", EDGE: "xeon-e5645", FOG: "xeon-e5430", CLOUD: "ifogsim-cloud"}


@dataclass(frozen=True)
class Scale:
    """Node counts of a generated topology."""

    devices: int
    edges: int
    fogs: int
    clouds: int

    @property
    def nodes(self) -> int:
        return self.devices + self.edges + self.fogs + self.clouds

    def max_links(self) -> int:
        """Links of the largest generated topology (a mesh) at this scale."""
        mesh_edges = self.edges if self.edges > 2 else self.edges - 1
        return (self.devices + self.devices // 2 + max(mesh_edges, 0) + self.edges * self.fogs
                + self.fogs * self.clouds)


SCALES: dict[str, Scale] = {
    "small": Scale(devices=8, edges=2, fogs=1, clouds=1),
    "medium": Scale(devices=40, edges=4, fogs=2, clouds=1),
    "large": Scale(devices=200, edges=10, fogs=4, clouds=2),
}
TOPOLOGIES = ("tree", "mesh")

# Link figures (module docstring): latency s, bandwidth bit/s.
DEVICE_EDGE_LATENCY, EDGE_FOG_LATENCY, FOG_CLOUD_LATENCY, EDGE_EDGE_LATENCY = 0.002, 0.004, 0.100, 0.001
DEVICE_EDGE_BANDWIDTH = (1.7e6, 2.5e6)
EDGE_FOG_BANDWIDTH, FOG_CLOUD_BANDWIDTH, EDGE_EDGE_BANDWIDTH = 100e6, 1e9, 100e6


def make_topology(rng: np.random.Generator, scale: Scale, kind: str = "tree") -> Topology:
    """A generated topology: devices first, then edge, fog and cloud nodes.

    Args:
        rng: Draws device–edge bandwidths and, in a mesh, the devices with a second edge.
        scale: Node counts.
        kind: ``"tree"`` or ``"mesh"`` (module docstring).
    """
    if kind not in TOPOLOGIES:
        raise ValueError(f"topology kind {kind!r} is not one of {TOPOLOGIES}")
    tiers = np.repeat([DEVICE, EDGE, FOG, CLOUD], [scale.devices, scale.edges, scale.fogs, scale.clouds])
    first = np.concatenate([[0], np.cumsum([scale.devices, scale.edges, scale.fogs])])
    devices, edges, fogs, clouds = (first[t] + np.arange(n) for t, n in
                                    enumerate((scale.devices, scale.edges, scale.fogs, scale.clouds)))
    links: list[tuple[int, int, float, float]] = []
    home = devices % scale.edges  # devices spread evenly over the edge servers
    bandwidth = rng.uniform(*DEVICE_EDGE_BANDWIDTH, size=scale.devices)
    links += [(int(d), int(edges[h]), DEVICE_EDGE_LATENCY, float(b)) for d, h, b in zip(devices, home, bandwidth)]
    if kind == "mesh" and scale.edges > 1:
        second = rng.permutation(scale.devices)[:scale.devices // 2]
        offset = rng.integers(1, scale.edges, size=len(second))
        bandwidth = rng.uniform(*DEVICE_EDGE_BANDWIDTH, size=len(second))
        links += [(int(devices[d]), int(edges[(home[d] + o) % scale.edges]), DEVICE_EDGE_LATENCY, float(b))
                  for d, o, b in zip(np.sort(second), offset[np.argsort(second)], bandwidth)]
        ring = range(scale.edges if scale.edges > 2 else 1)
        links += [(int(edges[e]), int(edges[(e + 1) % scale.edges]), EDGE_EDGE_LATENCY, EDGE_EDGE_BANDWIDTH)
                  for e in ring]
        links += [(int(e), int(f), EDGE_FOG_LATENCY, EDGE_FOG_BANDWIDTH) for e in edges for f in fogs]
    else:
        links += [(int(e), int(fogs[i % scale.fogs]), EDGE_FOG_LATENCY, EDGE_FOG_BANDWIDTH)
                  for i, e in enumerate(edges)]
    links += [(int(f), int(c), FOG_CLOUD_LATENCY, FOG_CLOUD_BANDWIDTH) for f in fogs for c in clouds]
    presets = [PRESETS[TIER_PRESETS[int(t)]] for t in tiers]
    src, dst, latency, bw = (np.array(column) for column in zip(*links))
    return Topology(
        tier=tiers.astype(np.int64),
        cores=np.array([p.cores for p in presets], np.int64),
        freq_hz=np.array([p.freq_hz for p in presets], np.float64),
        memory_mb=np.array([p.memory_mb for p in presets], np.float64),
        p_idle_w=np.array([p.p_idle_w for p in presets], np.float64),
        p_max_w=np.array([p.p_max_w for p in presets], np.float64),
        tx_power_w=np.array([p.tx_power_w for p in presets], np.float64),
        link_src=src.astype(np.int64), link_dst=dst.astype(np.int64),
        link_latency_s=latency.astype(np.float64), link_bandwidth_bps=bw.astype(np.float64),
    )
