"""Tests of the IoT simulator's hot path: the full timeline (views, reused by ``place``) must
agree byte for byte with the per-node timeline, and a reused plan must never be stale."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym.envs.iot.env import IoTPlacementEnv
from schedgym.envs.iot.sim import IoTSim, Timeline
from schedgym.envs.iot.types import DEVICE, EDGE, IoTInstance, Topology


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("set_name", ["small-mesh-bursty", "medium-mesh-medium"])
def test_full_timeline_equals_the_per_node_timelines(set_name):
    # Along an episode (busy links and cores), for every waiting task: each node's entry of the
    # full timeline equals the timeline of that node alone and of a shuffled subset.
    sim = IoTSim(IoTPlacementEnv.load_instance_set(set_name).instances[0])
    rng = np.random.default_rng(0)
    checked = 0
    while not sim.done and checked < 300:
        task = sim.waiting[0]
        full = sim.timeline(task)
        subset = rng.permutation(sim.topology.num_nodes)[:5]
        for nodes in (subset, *([node] for node in range(sim.topology.num_nodes))):
            part = sim.timeline(task, np.array(nodes))
            for name in Timeline.__dataclass_fields__:
                assert _same(getattr(full, name)[nodes], getattr(part, name)), name
        feasible = np.flatnonzero(full.feasible)
        sim.place(task, int(feasible[np.argmin(full.response[feasible])]))
        checked += 1
    assert checked == 300


def _one_core_instance(arrival: tuple[float, float] = (0.0, 0.0)) -> IoTInstance:
    topology = Topology(
        tier=np.array([DEVICE, EDGE]), cores=np.array([1, 1]), freq_hz=np.array([1e9, 1e10]),
        memory_mb=np.full(2, 8192.0), p_idle_w=np.array([2.0, 60.0]),
        p_max_w=np.array([7.0, 200.0]), tx_power_w=np.array([0.1, 0.0]), link_src=np.array([0]),
        link_dst=np.array([1]), link_latency_s=np.array([0.002]),
        link_bandwidth_bps=np.array([1e8]))
    return IoTInstance(topology, arrival=np.array(arrival), device=np.zeros(2, np.int64),
                       input_bits=np.full(2, 1e6), cycles=np.full(2, 1e8),
                       memory_mb=np.full(2, 10.0), output_bits=np.full(2, 1e3),
                       deadline_s=np.full(2, 10.0), qos=np.zeros(2, np.int64))


def test_place_does_not_reuse_a_plan_made_before_another_placement():
    # Task 0's plan is computed, then task 1 takes the edge's only core and the link: task 0's
    # transfer must wait for task 1's (0.01 s of 1e6 bits at 1e8 bit/s), its run for task 1's.
    sim = IoTSim(_one_core_instance(), decision_interval=0.0)
    stale = sim.timeline(0)
    sim.place(1, 1)
    sim.place(0, 1)
    st = sim.state
    assert st.start[0] == st.finish[1] > stale.start[1]
    assert st.input_arrival[0] == pytest.approx(0.01 + 0.01 + 0.002)
    assert st.finish[0] == pytest.approx(st.finish[1] + 0.01)


def test_place_does_not_reuse_a_plan_made_before_a_hold():
    # Task 0's plan at t = 0; a hold moves to task 1's arrival at 0.5, where task 0 must start.
    sim = IoTSim(_one_core_instance((0.0, 0.5)), decision_interval=0.0)
    stale = sim.timeline(0)
    sim.hold()
    assert sim.state.time == 0.5
    sim.place(0, 1)
    assert stale.start[1] < 0.5
    assert sim.state.input_arrival[0] == pytest.approx(0.5 + 0.01 + 0.002)


def test_place_refuses_a_node_out_of_range():
    sim = IoTSim(_one_core_instance())
    with pytest.raises(ValueError, match="node -1 cannot take task 0"):
        sim.place(0, -1)
    with pytest.raises(ValueError, match="node 2 cannot take task 0"):
        sim.place(0, 2)
