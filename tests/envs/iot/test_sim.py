"""The IoT simulation against hand-computed reservations (see helpers.py for the toy network)."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym.envs.iot.sim import Weights
from schedgym.envs.iot.types import DROPPED, PLACED, WAITING
from tests.envs.iot.helpers import tasks, toy_sim, toy_topology


def test_timeline_of_one_task_matches_the_hand_computed_table() -> None:
    sim = toy_sim(tasks(toy_topology(), [0.0]))
    plan = sim.timeline(0)
    np.testing.assert_allclose(plan.input_arrival, [0.0, 0.11, 0.21])
    np.testing.assert_allclose(plan.start, [0.0, 0.11, 0.21])
    np.testing.assert_allclose(plan.finish, [0.1, 0.16, 0.235])
    np.testing.assert_allclose(plan.response, [0.1, 0.17, 0.345])
    np.testing.assert_allclose(plan.energy_j, [0.1, 20 * 0.05 + 0.05, 200 * 0.025 + 0.05])
    assert plan.feasible.all()


def test_flows_hold_every_link_of_their_path_in_placement_order() -> None:
    sim = toy_sim(tasks(toy_topology(), [0.0, 0.0, 0.0]))
    sim.place(0, 2)  # holds device–edge and edge–cloud for 0.1 s
    plan = sim.timeline(1)
    # The second flow waits for both links: its transfer starts at 0.1, whatever its node.
    np.testing.assert_allclose(plan.transfer_start[1:], [0.1, 0.1])
    np.testing.assert_allclose(plan.input_arrival[1:], [0.21, 0.31])
    sim.place(1, 2)
    # Two cores in the cloud: the second task runs beside the first, from its own input arrival.
    assert sim.state.finish[1] == pytest.approx(0.31 + 0.025)
    assert sim.state.start[0] == pytest.approx(0.21)
    # The device itself needs no link, so it is not delayed by the flows.
    assert sim.timeline(2).response[0] == pytest.approx(0.1)


def test_a_node_serves_fifo_on_the_core_that_frees_first() -> None:
    sim = toy_sim(tasks(toy_topology(), [0.0, 0.0], input_bits=0.0))
    sim.place(0, 0)
    sim.place(1, 0)  # one core on the device: the second runs after the first
    np.testing.assert_allclose(sim.state.start[:2], [0.0, 0.1])
    np.testing.assert_allclose(sim.state.response[:2], [0.1, 0.2])


def test_memory_is_held_from_placement_to_finish_and_masks_the_node() -> None:
    sim = toy_sim(tasks(toy_topology(memory=(15.0, 1000.0, 1000.0)), [0.0, 0.0], input_bits=0.0))
    assert sim.feasible(np.array([0, 1]))[:, 0].all()
    sim.place(0, 0)
    assert not sim.feasible(np.array([1]))[0, 0] and sim.feasible(np.array([1]))[0, 1:].all()
    with pytest.raises(ValueError, match="cannot take task 1"):
        sim.place(1, 0)
    sim.hold()  # to the next event: task 0 finishes at 0.1 and frees its memory
    assert sim.state.time == pytest.approx(0.1)
    assert sim.feasible(np.array([1]))[0, 0]


def test_a_task_waiting_past_its_deadline_is_dropped_and_charged() -> None:
    weights = Weights(response=1.0, miss=2.0, drop=3.0, energy=0.0)
    sim = toy_sim(tasks(toy_topology(), [0.0, 0.0], deadline=0.05), weights=weights)
    sim.place(0, 0)
    cost = 0.0
    while sim.state.status[1] == WAITING:
        cost += sim.hold()
    assert sim.state.status[1] == DROPPED and sim.done
    waited = sim.state.time  # arrival 0
    assert waited >= 0.05
    assert cost == pytest.approx(waited + 2.0 + 3.0)
    metrics = sim.metrics()
    assert metrics["tasks_dropped"] == 1 and metrics["tasks_completed"] == 1
    assert metrics["deadline_hit_ratio"] == 0.0  # task 0 took 0.1 s against 0.05 s
    assert metrics["objective"] == pytest.approx(sim.objective)


def test_windowed_epochs_are_exact_multiples_and_admit_what_arrived() -> None:
    sim = toy_sim(tasks(toy_topology(), [0.01, 0.05, 0.051], deadline=10.0), decision_interval=0.05)
    assert sim.state.time == 0.05 and sim.waiting == [0, 1]
    sim.place(0, 0)
    sim.place(1, 0)  # nothing waits: on to the epoch of task 2's arrival
    assert sim.state.time == 2 * 0.05 and sim.waiting == [2]
    for k in range(3, 400):  # holds step exactly one interval, with no drift
        sim.hold()
        assert sim.state.time == k * 0.05


def test_objective_and_metrics_agree_with_a_recomputation() -> None:
    weights = Weights(response=1.0, miss=5.0, drop=1.0, energy=0.1)
    instance = tasks(toy_topology(), [0.0, 0.0, 0.02, 0.03], deadline=0.15)
    sim = toy_sim(instance, weights=weights)
    total = 0.0
    for task, node in ((0, 1), (1, 0), (2, 2), (3, 0)):
        while task not in sim.waiting:
            total += sim.hold()
        total += sim.place(task, node)
    assert sim.done
    st = sim.state
    assert (st.status == PLACED).all()
    missed = st.response > instance.deadline_s
    expected = st.response.sum() + 5.0 * missed.sum() + 0.1 * st.energy_j.sum()
    assert total == pytest.approx(expected) and sim.objective == pytest.approx(expected)
    metrics = sim.metrics()
    horizon = float((instance.arrival + st.response).max())
    idle = instance.topology.p_idle_w.sum() * horizon
    assert metrics["energy_j"] == pytest.approx(idle + st.energy_j.sum())
    assert metrics["deadline_hit_ratio"] == pytest.approx(1 - missed.mean())
    busy = np.bincount(st.node, st.finish - st.start, minlength=3) / (instance.topology.cores * horizon)
    assert metrics["utilization_mean"] == pytest.approx(busy.mean())
    assert metrics["share_device"] == 0.5 and metrics["share_edge"] == 0.25 and metrics["share_cloud"] == 0.25


def test_a_task_too_big_for_every_reachable_node_is_refused_at_load() -> None:
    instance = tasks(toy_topology(memory=(5.0, 5.0, 5.0)), [0.0], memory=10.0)
    with pytest.raises(ValueError, match="task 0 needs 10.0 MB"):
        toy_sim(instance)
