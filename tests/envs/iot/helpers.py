"""Hand-made IoT topologies and workloads with answers worked out by hand.

The toy network: device 0 (1 core at 1 GHz, 2 W idle / 3 W busy, radio 0.5 W) — 10 ms, 1 Mbit/s —
edge 1 (1 core at 2 GHz, 10 W / 30 W) — 100 ms, 10 Mbit/s — cloud 2 (2 cores at 4 GHz, 100 W /
300 W). A task of 10^8 cycles with 10^5 input bits and no output then gives (hand-computed):

=========  =====================  ===================  ========================  ==========
node       input arrives          run                  result back (response)    energy J
=========  =====================  ===================  ========================  ==========
device 0   0                      0 – 0.1              0.1                       1 × 0.1
edge 1     0.1 + 0.01 = 0.11      0.11 – 0.16          0.17                      20 × 0.05 + 0.5 × 0.1
cloud 2    0.1 + 0.11 = 0.21      0.21 – 0.235         0.345                     100 × 0.025 + 0.5 × 0.1
=========  =====================  ===================  ========================  ==========
"""

from __future__ import annotations

import numpy as np

from schedgym.envs.iot.sim import IoTSim, Weights
from schedgym.envs.iot.types import CLOUD, DEVICE, EDGE, IoTInstance, Topology


def toy_topology(memory=(1000.0, 1000.0, 1000.0)) -> Topology:
    return Topology(
        tier=np.array([DEVICE, EDGE, CLOUD]), cores=np.array([1, 1, 2]),
        freq_hz=np.array([1e9, 2e9, 4e9]), memory_mb=np.asarray(memory, float),
        p_idle_w=np.array([2.0, 10.0, 100.0]), p_max_w=np.array([3.0, 30.0, 500.0]),
        tx_power_w=np.array([0.5, 0.0, 0.0]),
        link_src=np.array([0, 1]), link_dst=np.array([1, 2]),
        link_latency_s=np.array([0.01, 0.1]), link_bandwidth_bps=np.array([1e6, 1e7]))


def tasks(topology: Topology, arrival, cycles=1e8, input_bits=1e5, output_bits=0.0, memory=10.0,
          deadline=1.0, qos=1, device=0, name="toy") -> IoTInstance:
    n = len(arrival)
    full = lambda value, dtype=float: np.broadcast_to(np.asarray(value, dtype), (n,)).copy()  # noqa: E731
    return IoTInstance(topology, np.asarray(arrival, float), full(device, np.int64), full(input_bits),
                       full(cycles), full(memory), full(output_bits), full(deadline), full(qos, np.int64),
                       name=name)


def toy_sim(instance: IoTInstance, decision_interval: float = 0.0, weights: Weights = Weights()) -> IoTSim:
    return IoTSim(instance, decision_interval, 0.01, weights)
