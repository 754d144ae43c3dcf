"""A SchedGym IoT topology as a LEAF infrastructure, and where the two power models differ.

LEAF (``leafsim`` 0.4.2, ``leaf/infrastructure.py`` and ``leaf/power.py``) is an energy model:
nodes offer compute units (CU) and draw ``static + (max − static) × used_cu / cu`` watts
(``PowerModelNode``), links carry data flows of a bit rate and draw ``energy_per_bit ×
used_bandwidth`` watts (``PowerModelLink``); it has no execution or transfer times. The mapping:

=====================  ======================================  ===================================
SchedGym               LEAF                                    why
=====================  ======================================  ===================================
node, ``cores``        ``Node(cu=cores)``; a running task      one CU per busy core makes LEAF's
                       holds 1 CU                              ``used_cu / cu`` SchedGym's busy
                                                               cores / cores
``p_idle_w``,          ``PowerModelNode(static_power=p_idle,   the same linear model (iFogSim's,
``p_max_w``            max_power=p_max)``                      see ``envs.iot.sim``)
``freq_hz``,           (none)                                  LEAF has no timing or memory
``memory_mb``                                                  model: times come from SchedGym
link (undirected,      two ``Link`` objects, one per           LEAF's graph is directed; SchedGym
full duplex)           direction, same bandwidth and latency   has one channel per direction
device radio           ``PowerModelLink(energy_per_bit =       SchedGym charges only the sending
``tx_power_w``         tx_power_w / bandwidth)`` on the links  device's radio, no network
                       a device sends on, 0 on all others      equipment; LEAF charges per bit
=====================  ======================================  ===================================

One difference remains by construction: SchedGym keeps the radio on for ``input_bits /
bottleneck`` (the flow is paced by the slowest link of its route), LEAF charges ``energy_per_bit
× bits`` on the device's own link, i.e. ``tx_power × input_bits / bandwidth of that link``. The
two agree when the device's link is the route's bottleneck, as in every generated topology
(device–edge 1.7–2.5 Mbit/s against ≥ 100 Mbit/s behind it, ``envs.iot.topology``); otherwise
LEAF's radio energy is lower.
"""

from __future__ import annotations

from dataclasses import dataclass

from leaf.infrastructure import Infrastructure, Link, Node
from leaf.power import PowerModelLink, PowerModelNode

from schedgym.envs.iot.routes import Routes
from schedgym.envs.iot.types import DEVICE, TIER_NAMES, Topology


@dataclass(frozen=True)
class LeafNetwork:
    """A topology mapped into LEAF (module docstring).

    Attributes:
        infrastructure: The LEAF infrastructure graph.
        names: The LEAF node name of each topology node, (K,).
        channels: The LEAF link of each directed channel, (2L,): ``2l`` from ``link_src[l]``
            to ``link_dst[l]``, ``2l + 1`` back (the channel numbering of ``envs.iot.routes``).
    """

    infrastructure: Infrastructure
    names: tuple[str, ...]
    channels: tuple[Link, ...]

    def node(self, index: int) -> Node:
        """The LEAF node of topology node ``index``."""
        return self.infrastructure.node(self.names[index])

    def index(self, name: str) -> int:
        """The topology index of the LEAF node called ``name``."""
        return self.names.index(name)

    def route(self, routes: Routes, device: int, node: int) -> list[str]:
        """The LEAF node names along SchedGym's route from ``device`` to ``node`` (both ends
        included; ``[device]`` for the device itself)."""
        channels = routes.links[routes.device_row[device], node]
        names = [self.names[device]]
        names += [self.channels[c].dst.name for c in channels[channels >= 0]]
        return names


def node_name(topology: Topology, index: int) -> str:
    """The LEAF name of topology node ``index``: its tier and index, e.g. ``"edge8"``."""
    return f"{TIER_NAMES[int(topology.tier[index])]}{index}"


def radio_energy_per_bit(topology: Topology, sender: int, bandwidth_bps: float) -> float:
    """J/bit of a channel sent on by ``sender``: its radio's power over the channel's bit rate
    if it is a device, else 0 (SchedGym models no network equipment energy)."""
    if topology.tier[sender] != DEVICE:
        return 0.0
    return float(topology.tx_power_w[sender]) / bandwidth_bps


def to_leaf(topology: Topology) -> LeafNetwork:
    """Builds the LEAF infrastructure of ``topology`` (module docstring's mapping)."""
    topology.validate("the topology to map into LEAF")
    names = tuple(node_name(topology, j) for j in range(topology.num_nodes))
    nodes = [Node(names[j], cu=int(topology.cores[j]),
                  power_model=PowerModelNode(max_power=float(topology.p_max_w[j]),
                                             static_power=float(topology.p_idle_w[j])))
             for j in range(topology.num_nodes)]
    infrastructure = Infrastructure()
    for node in nodes:
        infrastructure.add_node(node)
    channels: list[Link] = []
    for src, dst, latency, bandwidth in zip(topology.link_src, topology.link_dst,
                                            topology.link_latency_s, topology.link_bandwidth_bps):
        for a, b in ((int(src), int(dst)), (int(dst), int(src))):
            power = PowerModelLink(radio_energy_per_bit(topology, a, float(bandwidth)))
            link = Link(nodes[a], nodes[b], bandwidth=float(bandwidth), latency=float(latency),
                        power_model=power)
            infrastructure.add_link(link)
            channels.append(link)
    return LeafNetwork(infrastructure, names, tuple(channels))


__all__ = ["LeafNetwork", "node_name", "radio_energy_per_bit", "to_leaf"]
