"""SchedGym IoT placement inside LEAF (``envs.iot.leaf``); skipped without ``leafsim``.

The hand-made network, worked out by hand: device 0 (1 core at 1 GHz, 2 W idle / 3 W busy,
radio 0.5 W) — 10 ms, 10 Mbit/s — edge 1 (1 core at 2 GHz, 10 W / 30 W) — 100 ms, 1 Mbit/s —
cloud 2 (2 cores at 4 GHz, 100 W / 500 W). One task of 10^8 cycles, 10^5 input bits, no output:

=======  ==========================  ==============  =======  ==========  =========  ========
node     input arrives               run             horizon  static J    dynamic J  radio J
=======  ==========================  ==============  =======  ==========  =========  ========
edge 1   10^5/10^7 + 0.01 = 0.02     0.02 – 0.07     0.08     112 × 0.08  20 × 0.05  see below
cloud 2  10^5/10^6 + 0.11 = 0.21     0.21 – 0.235    0.345    112 × 0.345 200 × 0.025 see below
=======  ==========================  ==============  =======  ==========  =========  ========

Radio: SchedGym keeps it on for the flow, 0.5 W × 10^5 / bottleneck (0.005 J to the edge,
0.05 J to the cloud); LEAF charges 0.5 W / 10^7 bit/s per bit on the device's own link, 0.005 J
for both (``envs.iot.leaf.network``: the two agree only where the device's link is the
bottleneck).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("leaf.orchestrator", reason="the leaf extra (leafsim) is not installed")

from schedgym import baselines  # noqa: E402
from schedgym.envs.iot import generator  # noqa: E402
from schedgym.envs.iot.leaf.network import to_leaf  # noqa: E402
from schedgym.envs.iot.leaf.orchestrator import ENV_ID, BaselineDriver, PolicyDriver  # noqa: E402
from schedgym.envs.iot.leaf.run import run_leaf  # noqa: E402
from schedgym.envs.iot.types import CLOUD, DEVICE, EDGE, Topology  # noqa: E402
from schedgym.policies.evaluation import run_episode  # noqa: E402
from tests.envs.iot.helpers import tasks  # noqa: E402

EVERY_ARRIVAL = {"decision_interval": 0.0}


def _chain() -> Topology:
    """The module docstring's network (the edge–cloud link is the bottleneck)."""
    return Topology(
        tier=np.array([DEVICE, EDGE, CLOUD]), cores=np.array([1, 1, 2]),
        freq_hz=np.array([1e9, 2e9, 4e9]), memory_mb=np.full(3, 1000.0),
        p_idle_w=np.array([2.0, 10.0, 100.0]), p_max_w=np.array([3.0, 30.0, 500.0]),
        tx_power_w=np.array([0.5, 0.0, 0.0]),
        link_src=np.array([0, 1]), link_dst=np.array([1, 2]),
        link_latency_s=np.array([0.01, 0.1]), link_bandwidth_bps=np.array([1e7, 1e6]))


def _small_instance(seed: int = 0, num_tasks: int = 40):
    rng = np.random.default_rng(seed)
    return generator.sample_instance(rng, scale="small", topology="tree", rate=30.0,
                                     num_tasks=num_tasks, arrival="poisson", cv=3.0)


def test_the_mapping_keeps_nodes_links_and_power_models() -> None:
    network = to_leaf(_chain())
    assert network.names == ("device0", "edge1", "cloud2")
    edge = network.node(1)
    assert edge.cu == 1
    assert (edge.power_model.static_power, edge.power_model.max_power) == (10.0, 30.0)
    # Two directed LEAF links per link; only the device's sending direction costs energy.
    assert [(c.src.name, c.dst.name) for c in network.channels] == [
        ("device0", "edge1"), ("edge1", "device0"), ("edge1", "cloud2"), ("cloud2", "edge1")]
    assert [c.power_model.energy_per_bit for c in network.channels] == [0.5 / 1e7, 0.0, 0.0, 0.0]
    assert [c.bandwidth for c in network.channels] == [1e7, 1e7, 1e6, 1e6]


@pytest.mark.parametrize("baseline,node,horizon,dynamic,schedgym_radio", [
    ("greedy", "edge1", 0.08, 20 * 0.05, 0.5 * 1e5 / 1e7),
    ("cloud", "cloud2", 0.345, 200 * 0.025, 0.5 * 1e5 / 1e6),
])
def test_energy_cross_check_matches_the_hand_computed_case(baseline, node, horizon, dynamic,
                                                           schedgym_radio) -> None:
    run = run_leaf(tasks(_chain(), [0.0]), BaselineDriver.from_name(baseline), EVERY_ARRIVAL,
                   meter_interval=0.005)
    assert run.placements == {0: node}
    assert run.horizon_s == pytest.approx(horizon)
    leaf_radio = 0.5 / 1e7 * 1e5  # LEAF: per bit on the device's own link
    for energy, radio in ((run.leaf_energy, leaf_radio), (run.schedgym_energy, schedgym_radio)):
        assert energy.node_static_j == pytest.approx(112 * horizon)
        assert energy.node_dynamic_j == pytest.approx(dynamic)
        assert energy.link_j == pytest.approx(radio)
    assert run.schedgym_energy.total_j == pytest.approx(run.metrics["energy_j"])
    # Every change falls on the meter's grid, so LEAF's mid-interval samples are exact too.
    assert run.meter_energy.node_static_j == pytest.approx(run.leaf_energy.node_static_j)
    assert run.meter_energy.node_dynamic_j == pytest.approx(run.leaf_energy.node_dynamic_j)
    assert run.meter_energy.link_j == pytest.approx(run.leaf_energy.link_j)


@pytest.mark.parametrize("name,interval", [("greedy", 0.0), ("round_robin", 0.0), ("local", 0.0),
                                           ("greedy", 0.01)])
def test_a_baseline_in_leaf_places_as_in_schedgym_with_the_same_energy(name, interval) -> None:
    instance = _small_instance()
    kwargs = {"decision_interval": interval}
    env = gym.make(ENV_ID, **kwargs)
    result = run_episode(env, baselines.make(ENV_ID, name), instance, seed=0)
    expected = env.unwrapped.sim.state.node
    run = run_leaf(instance, BaselineDriver.from_name(name), kwargs)
    names = to_leaf(instance.topology).names
    assert run.placements == {task: names[expected[task]] for task in range(instance.num_tasks)}
    assert len(set(run.placements.values())) > 1
    # On a tree the device's link is every route's bottleneck: LEAF's accounting equals SchedGym's.
    assert run.leaf_energy.total_j == pytest.approx(result.metrics["energy_j"], rel=1e-12)
    for part in ("node_static_j", "node_dynamic_j", "link_j"):
        expected_j = getattr(run.schedgym_energy, part)
        assert getattr(run.leaf_energy, part) == pytest.approx(expected_j, rel=1e-9)


def test_an_onnx_policy_makes_every_leaf_placement(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from schedgym.policies import runtime
    from schedgym.policies.export import export_net
    from schedgym.policies.pointer import PointerNet, net_kwargs_for

    env = gym.make(ENV_ID, **EVERY_ARRIVAL)
    spec = env.unwrapped.spec_graph
    torch.manual_seed(0)
    sizes = net_kwargs_for(env.observation_space, spec.node_features)
    net = PointerNet(**sizes, width=16, depth=1).eval()
    export_net(net, tmp_path / "iot.onnx", spec.metadata(), ENV_ID, EVERY_ARRIVAL)
    policy = runtime.load(tmp_path / "iot.onnx", env_id=ENV_ID)
    instance = _small_instance(seed=1, num_tasks=30)
    driver = PolicyDriver(policy)
    run = run_leaf(instance, driver)  # the mirror's arguments: the export's env_kwargs
    names = to_leaf(instance.topology).names
    node0 = env.unwrapped.encoder.node0
    assert len(driver.observations) == len(run.decisions) == instance.num_tasks
    choices = 0
    for obs, decision in zip(driver.observations, run.decisions):
        legal = obs["action_mask"].astype(bool) & obs["node_mask"].astype(bool)
        assert not legal[0] and legal.any()  # HOLD masked: LEAF places now
        choices += legal.sum() > 1
        argmax = int(np.argmax(np.where(legal, policy.logits(obs), -np.inf)))
        assert run.placements[decision.task] == names[argmax - node0]
    assert choices > 0  # the policy had a choice to make, not one legal node each time
    assert sorted(run.placements) == list(range(instance.num_tasks))


def test_a_task_the_mirror_drops_at_its_epoch_is_not_submitted_to_leaf() -> None:
    # Epochs every 1 s: task 0 (deadline 0.2 s) expires before the epoch at 1 s, task 1 does not.
    instance = tasks(_chain(), [0.5, 0.6], deadline=np.array([0.2, 10.0]))
    run = run_leaf(instance, BaselineDriver.from_name("greedy"), {"decision_interval": 1.0})
    assert run.dropped == [0]
    assert run.placements == {1: "edge1"}
    assert [d.task for d in run.decisions] == [1] and run.decisions[0].transfer_start == 1.0


def test_window_planners_and_bad_meter_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="aco"):
        BaselineDriver.from_name("aco")
    with pytest.raises(ValueError, match="meter_interval"):
        run_leaf(tasks(_chain(), [0.0]), BaselineDriver.from_name("greedy"), EVERY_ARRIVAL,
                 meter_interval=0.0)
