"""Generated topologies, their presets, and the routes computed on them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from schedgym.envs.iot.routes import compute_routes
from schedgym.envs.iot.topology import PRESETS, SCALES, TIER_PRESETS, make_topology
from schedgym.envs.iot.types import CLOUD, DEVICE, EDGE, FOG, Topology
from tests.envs.iot.helpers import toy_topology


@pytest.mark.parametrize("scale", sorted(SCALES))
@pytest.mark.parametrize("kind", ["tree", "mesh"])
def test_generated_topologies_are_valid_connected_and_within_their_slots(scale: str, kind: str) -> None:
    sizes = SCALES[scale]
    topology = make_topology(np.random.default_rng(1), sizes, kind)
    topology.validate("generated")
    assert topology.num_nodes == sizes.nodes and topology.num_links <= sizes.max_links()
    assert [int((topology.tier == t).sum()) for t in (DEVICE, EDGE, FOG, CLOUD)] == [
        sizes.devices, sizes.edges, sizes.fogs, sizes.clouds]
    routes = compute_routes(topology)
    # Every device reaches every edge, fog and cloud node, and runs only its own tasks among devices.
    assert routes.runnable[:, topology.tier != DEVICE].all()
    assert (routes.runnable[:, topology.tier == DEVICE] == np.eye(sizes.devices, dtype=bool)).all()
    for tier, preset in TIER_PRESETS.items():
        chosen = topology.tier == tier
        assert (topology.cores[chosen] == PRESETS[preset].cores).all()
        assert (topology.p_max_w[chosen] == PRESETS[preset].p_max_w).all()


def test_a_small_tree_routes_through_the_hierarchy_with_ifogsim_latencies() -> None:
    topology = make_topology(np.random.default_rng(0), SCALES["small"], "tree")
    routes = compute_routes(topology)
    cloud = int(np.flatnonzero(topology.tier == CLOUD)[0])
    # device -> edge 2 ms, edge -> fog 4 ms, fog -> cloud 100 ms.
    np.testing.assert_allclose(routes.latency[:, cloud], 0.106)
    assert (routes.bottleneck[:, cloud] >= 1.7e6).all() and (routes.bottleneck[:, cloud] <= 2.5e6).all()


def test_routes_take_the_least_latency_path_and_devices_never_relay() -> None:
    # 0 device, 1 device, 2 edge, 3 cloud. Device 1 hangs only off device 0; edge-cloud has two
    # paths: direct (50 ms) or through nothing else.
    topology = Topology(
        tier=np.array([DEVICE, DEVICE, EDGE, CLOUD]), cores=np.ones(4, np.int64), freq_hz=np.full(4, 1e9),
        memory_mb=np.full(4, 100.0), p_idle_w=np.zeros(4), p_max_w=np.ones(4), tx_power_w=np.zeros(4),
        link_src=np.array([0, 1, 2, 0]), link_dst=np.array([2, 0, 3, 3]),
        link_latency_s=np.array([0.01, 0.001, 0.05, 0.2]), link_bandwidth_bps=np.array([1e6, 1e6, 1e8, 1e9]))
    routes = compute_routes(topology)
    row0, row1 = routes.device_row[0], routes.device_row[1]
    assert routes.latency[row0, 3] == pytest.approx(0.06)  # via the edge, not the 200 ms direct link
    assert routes.bottleneck[row0, 3] == 1e6
    channels = routes.links[row0, 3]
    assert channels[channels >= 0].tolist() == [0, 4]  # link 0 forward, link 2 forward
    # Device 1 would have to relay through device 0: it reaches nothing but itself.
    assert routes.runnable[row1].tolist() == [False, True, False, False]


def test_topology_validation_names_the_field_and_the_element() -> None:
    with pytest.raises(ValueError, match=r"p_max_w\[1\] = 5.0, must be finite and ≥ p_idle_w"):
        replace(toy_topology(), p_max_w=np.array([3.0, 5.0, 500.0])).validate("t")
    with pytest.raises(ValueError, match=r"link_dst\[0\] = 0"):
        replace(toy_topology(), link_dst=np.array([0, 2])).validate("t")
    with pytest.raises(ValueError, match="two links join the same pair"):
        replace(toy_topology(), link_src=np.array([0, 1]), link_dst=np.array([1, 0])).validate("t")
    with pytest.raises(ValueError, match=r"freq_hz\[2\] = nan"):
        replace(toy_topology(), freq_hz=np.array([1e9, 1e9, np.nan])).validate("t")
    with pytest.raises(ValueError, match="no device node"):
        replace(toy_topology(), tier=np.array([EDGE, EDGE, CLOUD])).validate("t")
