"""Tests of the ``wfq`` baseline of ``schedgym/IoTPlacement-v0`` on hand-made instances whose
WFQ tags and order are computed by hand."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.baselines.iot.wfq import WFQScheduler
from schedgym.envs.iot.env import IoTPlacementEnv
from schedgym.envs.iot.types import DEVICE, EDGE, IoTInstance, Topology

ENV_ID = "schedgym/IoTPlacement-v0"
CYCLES = 1e8
# Two 1-core 1 GHz devices (nodes 0, 1) on one 1-core 10 GHz edge server (node 2): every task
# runs on the edge in 0.01 s (0.1 s on its device), so the edge's queue order is the placement
# order. C = 1e9 + 1e9 + 1e10 = 1.2e10 cycles/s.
TOPOLOGY = Topology(
    tier=np.array([DEVICE, DEVICE, EDGE]), cores=np.array([1, 1, 1]),
    freq_hz=np.array([1e9, 1e9, 1e10]), memory_mb=np.full(3, 8192.0),
    p_idle_w=np.array([2.0, 2.0, 60.0]), p_max_w=np.array([7.0, 7.0, 200.0]),
    tx_power_w=np.array([0.1, 0.1, 0.0]), link_src=np.array([0, 1]), link_dst=np.array([2, 2]),
    link_latency_s=np.array([0.002, 0.002]), link_bandwidth_bps=np.array([1e8, 1e8]))
CAPACITY = 1.2e10


def _instance(arrival, device) -> IoTInstance:
    m = len(arrival)
    return IoTInstance(TOPOLOGY, arrival=np.asarray(arrival, np.float64),
                       device=np.asarray(device, np.int64), input_bits=np.full(m, 1e3),
                       cycles=np.full(m, CYCLES), memory_mb=np.full(m, 10.0),
                       output_bits=np.full(m, 1e3), deadline_s=np.full(m, 10.0),
                       qos=np.zeros(m, np.int64), name="flood")


# Device 0 floods six tasks at t = 0.001; device 1 sends one at t = 0.003; all wait for epoch 0.01.
FLOOD = _instance([0.001] * 6 + [0.003], [0] * 6 + [1])


def _placements(scheduler, instance: IoTInstance, **env_kwargs) -> tuple[list[int], np.ndarray]:
    """The tasks in the order the scheduler places them, and their response times."""
    env = gym.make(ENV_ID, **env_kwargs)
    env.reset(seed=0, options={"instance": instance})
    scheduler.reset(env, seed=0)
    order, done = [], False
    while not done:
        _, _, terminated, truncated, info = env.step(scheduler.act(env))
        if env.unwrapped.phase == 1:
            order.append(int(env.unwrapped.state.selected))
        done = terminated or truncated
    return order, env.unwrapped.state.response


def test_light_device_overtakes_the_flood():
    # Tags: device 0's tasks F = 1e8, 2e8, ..., 6e8; until t = 0.003 only device 0 is backlogged,
    # so V = 0.002 × C = 2.4e7 there and device 1's task gets F = 1.24e8: second in line.
    scheduler = WFQScheduler()
    order, response = _placements(scheduler, FLOOD)
    assert order == [0, 6, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(scheduler.finish_tag, [1e8, 2e8, 3e8, 4e8, 5e8, 6e8, 1.24e8])
    greedy_order, greedy_response = _placements(baselines.make(ENV_ID, "greedy"), FLOOD)
    assert greedy_order == list(range(7))  # arrival order: the light task waits behind the flood
    assert response[6] < greedy_response[6] - 0.04  # five runs of 0.01 s sooner


def test_weight_buys_the_flood_its_share():
    # Weight 10 on the flooding device: its tags are k × 1e7, V(0.003) = 0.002 × C / 10 = 2.4e6,
    # device 1's tag 1.024e8 comes after all six of device 0's.
    order, _ = _placements(WFQScheduler(weights={0: 10.0}), FLOOD)
    assert order == list(range(7))


def test_virtual_time_holds_while_gps_is_idle():
    # Device 0's task (F = 1e8) is served in GPS by t = 1e8 / C ≈ 0.0083; V then holds at 1e8,
    # so device 1's task arriving at 0.05 gets S = 1e8 and F = 2e8.
    scheduler = WFQScheduler()
    _placements(scheduler, _instance([0.0, 0.05], [0, 1]))
    np.testing.assert_allclose(scheduler.finish_tag, [1e8, 2e8])
    assert scheduler.virtual_time == pytest.approx(1e8)


def test_virtual_time_rate_is_capacity_over_backlogged_weight():
    # Both devices backlogged from t = 0: device 0's tag 1e8, device 1's (weight 2) 0.5e8. V runs
    # at C / 3 until it reaches 0.5e8 at t = 0.0125, then at C / 1: V(0.015) = 0.5e8 + 0.0025 C
    # = 8e7 < 1e8, so device 0's next task starts at its previous tag: F = 2e8.
    scheduler = WFQScheduler(weights={1: 2.0})
    _placements(scheduler, _instance([0.0, 0.0, 0.015], [0, 1, 0]))
    np.testing.assert_allclose(scheduler.finish_tag, [1e8, 0.5e8, 2e8])
    assert scheduler.virtual_time == pytest.approx(8e7)


def test_one_device_equals_greedy():
    st = IoTPlacementEnv.load_instance_set("small-tree-heavy")
    instance = st.instances[0]
    keep = instance.device == instance.device[0]
    fields = ("arrival", "device", "input_bits", "cycles", "memory_mb", "output_bits", "deadline_s",
              "qos")
    single = dataclasses.replace(instance, **{f: getattr(instance, f)[keep] for f in fields},
                                 name="one-device")
    runs = {}
    for name in ("wfq", "greedy"):
        env = gym.make(ENV_ID, **st.env_kwargs)
        scheduler = baselines.make(ENV_ID, name)
        env.reset(seed=0, options={"instance": single})
        scheduler.reset(env, seed=0)
        actions, done = [], False
        while not done:
            actions.append(int(scheduler.act(env)))
            _, _, terminated, truncated, info = env.step(actions[-1])
            done = terminated or truncated
        runs[name] = actions, info
    assert runs["wfq"][0] == runs["greedy"][0]
    assert runs["wfq"][1] == runs["greedy"][1]
    assert keep.sum() > 20


@pytest.mark.parametrize("weights,fragment", [
    ([1.0], "mapping"), ({0: 0.0}, "weights[0]"), ({0: float("nan")}, "weights[0]"),
    ({-1: 1.0}, "weights key"), ({"a": 1.0}, "weights key")])
def test_bad_weights_are_refused(weights, fragment):
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[")):
        WFQScheduler(weights=weights)


def test_weight_of_a_non_device_is_refused_at_reset():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"instance": FLOOD})
    with pytest.raises(ValueError, match="node 2, not a device"):
        WFQScheduler(weights={2: 1.0}).reset(env, seed=0)
