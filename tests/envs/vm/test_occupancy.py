"""Tests of the VM occupancy picture (:mod:`envs.vm.occupancy`): per-NUMA allocations before and
after hand-made migrations, the marked NUMA nodes, and the drawn markers and fragment rates."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.envs.vm.occupancy import (ARRIVED_GID, LEFT_GID, draw_occupancy, occupancy,
                                        render_occupancy)
from schedgym.envs.vm.sim import initial_state, migrate
from schedgym.envs.vm.types import BOTH_NUMA
from tests.envs.vm.helpers import make_instance


def _markers(figure, gid: str) -> np.ndarray:
    (line,) = [line for axis in figure.axes for line in axis.lines if line.get_gid() == gid]
    return np.asarray(line.get_xdata())


def test_a_single_vm_moved_to_another_pm():
    # PM 0: VMs of 4 and 2 cores on NUMA 0 and 1; PM 1: 4 cores on NUMA 0. Move VM 0 to
    # PM 1 NUMA 1 (destination 2 * 1 + 1 = 3).
    state = initial_state(make_instance([8, 8], [(4, 0, 0), (2, 0, 1), (4, 1, 0)], mem=3),
                          granularity=4)
    migrate(state, 0, 3)
    occ = occupancy(state)
    assert occ.cpu.tolist() == [8, 8, 8, 8] and occ.mem.tolist() == [256] * 4
    assert occ.cpu_before.tolist() == [4, 2, 4, 0] and occ.cpu_now.tolist() == [0, 2, 4, 4]
    assert occ.mem_before.tolist() == [3, 3, 3, 0] and occ.mem_now.tolist() == [0, 3, 3, 3]
    assert occ.left.tolist() == [0] and occ.arrived.tolist() == [3]
    figure = draw_occupancy(state)
    assert _markers(figure, LEFT_GID).tolist() == [0]
    assert _markers(figure, ARRIVED_GID).tolist() == [3]
    # Free cores (4, 6, 4, 8) before, (8, 6, 4, 4) now; mod 4 leaves 2 of 22 either way.
    titles = " ".join(axis.get_title(loc="left") for axis in figure.axes)
    assert titles.count("fragment rate 0.0909") == 2


def test_a_double_vm_marks_both_numa_nodes_and_a_round_trip_marks_none():
    state = initial_state(make_instance([8, 8], [(4, 0, BOTH_NUMA), (2, 1, 0)]))
    migrate(state, 0, 2 * 2 + 1)  # the PM destination of PM 1
    occ = occupancy(state)
    assert occ.cpu_before.tolist() == [2, 2, 2, 0] and occ.cpu_now.tolist() == [0, 0, 4, 2]
    assert occ.left.tolist() == [0, 1] and occ.arrived.tolist() == [2, 3]
    migrate(state, 0, 2 * 2 + 0)  # back to PM 0: nothing moved against the initial placement
    occ = occupancy(state)
    assert np.array_equal(occ.cpu_now, occ.cpu_before)
    assert not len(occ.left) and not len(occ.arrived)
    assert not len(_markers(draw_occupancy(state), LEFT_GID))


def test_the_env_renders_its_state():
    env = gym.make("schedgym/VMReschedule-v1", size="small", render_mode="rgb_array")
    env.reset(seed=0)
    state = env.unwrapped.state
    before = env.render()
    vm = int(np.flatnonzero(state.num_destinations)[0])
    env.step(env.unwrapped.vm_node(vm))
    destination = int(np.flatnonzero(state.feasible[vm])[0])
    env.step(env.unwrapped.destination_node(destination))
    after = env.render()
    assert before.shape == after.shape and not np.array_equal(before, after)
    assert np.array_equal(after, render_occupancy(state))
    assert len(occupancy(state).arrived) >= 1
