"""Routes from every device to every node: least total latency, computed once per topology.

Only the source device sends: other devices never relay (a device's radio serves its own
tasks), so paths run device → edge/fog/cloud nodes. Ties between equal-latency paths go to the
fewer hops, then to the path found first from the lower node index (deterministic).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from schedgym.envs.iot.types import DEVICE, Topology


@dataclass(frozen=True)
class Routes:
    """Every device's route to every node. ``D`` = devices, ``H`` = the most hops of a route.

    A row of :attr:`links` lists the directed link channels of the route (``2l`` for link
    ``l`` from ``link_src`` to ``link_dst``, ``2l + 1`` back), padded with -1.
    """

    device_row: np.ndarray  # (K,) int64 row of each device in the arrays below, -1 off devices
    latency: np.ndarray  # (D, K) float64 s, one-way; 0 to itself, inf if unreachable
    bottleneck: np.ndarray  # (D, K) float64 bit/s, the slowest link; inf to itself or unreachable
    links: np.ndarray  # (D, K, H) int64 directed link channels of the route, -1 padding
    runnable: np.ndarray  # (D, K) bool, nodes that may run the device's tasks (itself, reachable non-devices)


def compute_routes(topology: Topology) -> Routes:
    """Least-latency routes from every device of ``topology`` (module docstring)."""
    k = topology.num_nodes
    adjacency: list[list[tuple[int, int, float]]] = [[] for _ in range(k)]  # (neighbour, channel, latency)
    for l, (a, b, lat) in enumerate(zip(topology.link_src, topology.link_dst, topology.link_latency_s)):
        adjacency[int(a)].append((int(b), 2 * l, float(lat)))
        adjacency[int(b)].append((int(a), 2 * l + 1, float(lat)))
    devices = topology.devices
    paths = [_shortest_paths(int(d), adjacency, topology.tier) for d in devices]
    hops = max((len(p) for per_device in paths for p in per_device if p is not None), default=0)
    links = np.full((len(devices), k, max(hops, 1)), -1, np.int64)
    latency = np.full((len(devices), k), np.inf)
    bottleneck = np.full((len(devices), k), np.inf)
    for row, per_device in enumerate(paths):
        for node, path in enumerate(per_device):
            if path is None:
                continue
            channels = np.array(path, np.int64)
            links[row, node, :len(path)] = channels
            latency[row, node] = float(topology.link_latency_s[channels // 2].sum()) if len(path) else 0.0
            if len(path):
                bottleneck[row, node] = float(topology.link_bandwidth_bps[channels // 2].min())
    device_row = np.full(k, -1, np.int64)
    device_row[devices] = np.arange(len(devices))
    runnable = np.isfinite(latency) & (topology.tier != DEVICE)[None, :]
    runnable[np.arange(len(devices)), devices] = True
    return Routes(device_row, latency, bottleneck, links, runnable)


def _shortest_paths(source: int, adjacency: list[list[tuple[int, int, float]]],
                    tier: np.ndarray) -> list[list[int] | None]:
    """Dijkstra from ``source`` by (latency, hops); the channels of each node's path, or None."""
    best: dict[int, tuple[float, int]] = {source: (0.0, 0)}
    path: dict[int, list[int]] = {source: []}
    heap = [(0.0, 0, source)]
    done: set[int] = set()
    while heap:
        latency, hops, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        if node != source and tier[node] == DEVICE:
            continue  # devices do not relay
        for neighbour, channel, link_latency in adjacency[node]:
            candidate = (latency + link_latency, hops + 1)
            if neighbour not in best or candidate < best[neighbour]:
                best[neighbour] = candidate
                path[neighbour] = path[node] + [channel]
                heapq.heappush(heap, (*candidate, neighbour))
    return [path.get(node) for node in range(len(tier))]
