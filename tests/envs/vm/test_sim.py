"""The cluster dynamics: fragment rate, legality of destinations, migrations."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym.envs.vm.generator import GeneratorConfig, sample_instance
from schedgym.envs.vm.sim import (
    BestMoves,
    destination_feasibility,
    fragment_change,
    fragment_rate,
    initial_state,
    leave_fragment_change,
    migrate,
    placement_violations,
)
from schedgym.envs.vm.types import BOTH_NUMA
from tests.envs.vm.helpers import make_instance


def test_fragment_rate_counts_free_cores_below_granularity_per_numa() -> None:
    # Free cores per NUMA: 20 (4 fragment), 16 (0), 7 (7), 0 (0) -> 11 / 43.
    free = np.array([[20, 16], [7, 0]])
    assert fragment_rate(free, 16) == pytest.approx(11 / 43)
    assert fragment_rate(free, 8) == pytest.approx((4 + 0 + 7 + 0) / 43)
    assert fragment_rate(np.zeros((3, 2), int), 16) == 0.0
    assert fragment_rate(np.array([[32, 48]]), 16) == 0.0
    assert fragment_rate(np.array([[5, 3]]), 16) == 1.0


def test_initial_state_frees_capacity_per_numa_node() -> None:
    # PM0: NUMA0 hosts 8+4 cores, NUMA1 hosts 16; PM1 hosts a 20-core double VM (10 per NUMA).
    inst = make_instance([32, 32], [(8, 0, 0), (4, 0, 0), (16, 0, 1), (20, 1, BOTH_NUMA)])
    state = initial_state(inst, granularity=16)
    np.testing.assert_array_equal(state.free_cpu, [[20, 16], [22, 22]])
    assert state.initial_fragment_rate == pytest.approx((4 + 0 + 6 + 6) / 80)


def test_destinations_respect_kind_capacity_and_current_place() -> None:
    inst = make_instance([32, 16], [(24, 0, 0), (12, 1, 0), (8, 1, BOTH_NUMA)])
    state = initial_state(inst)
    # Destinations: NUMA d = 2*pm + numa (0..3), then PMs 4, 5.
    # VM 0 (24 cores): only PM0 NUMA1 has 32 free; PM1's NUMA nodes have 16 or fewer.
    np.testing.assert_array_equal(state.feasible[0], [False, True, False, False, False, False])
    # VM 1 (12 cores on PM1 NUMA0): PM0 NUMA1 (32), PM1 NUMA1 (12 free); not PM0 NUMA0 (8 free).
    np.testing.assert_array_equal(state.feasible[1], [False, True, False, True, False, False])
    # VM 2 (double, 4 per NUMA): PM0 has min(8, 32) >= 4 free; never NUMA destinations.
    np.testing.assert_array_equal(state.feasible[2], [False, False, False, False, True, False])


def test_memory_blocks_a_destination_with_enough_cpu() -> None:
    inst = make_instance([32, 32], [(4, 0, 0), (4, 1, 0)], numa_mem=10, mem=6)
    state = initial_state(inst)
    # Each NUMA node has 10 GiB; a 6-GiB VM fits on an empty node only.
    np.testing.assert_array_equal(state.feasible[0], [False, True, False, True, False, False])


def test_anti_affinity_keeps_job_tasks_on_different_pms() -> None:
    vms = [(4, 0, 0), (4, 1, 0), (4, 2, 0)]
    inst = make_instance([32, 32, 32], vms, jobs=[7, 7, 9], anti_affinity=[True, True, False])
    state = initial_state(inst)
    # VM 0 may not join VM 1 on PM1 but may switch NUMA on its own PM or go to PM2.
    np.testing.assert_array_equal(state.feasible[0, :6], [False, True, False, False, True, True])
    # VM 2's job is unrestricted: every other NUMA node.
    assert state.feasible[2, :6].sum() == 5
    migrate(state, 1, destination=4)  # VM 1 -> PM2 NUMA0: PM1 is now free for VM 0
    assert state.feasible[0, 2] and not state.feasible[0, 4]


def test_illegal_initial_placement_is_rejected() -> None:
    inst = make_instance([16, 16], [(12, 0, 0), (8, 0, 0)])
    with pytest.raises(ValueError, match="PM 0 NUMA 0: 20 cores > 16"):
        initial_state(inst)
    inst = make_instance([16, 16], [(2, 0, 0), (2, 0, 1)], jobs=[1, 1], anti_affinity=[True, True])
    with pytest.raises(ValueError, match="job 1 has 2 VMs on PM 0"):
        initial_state(inst)


def test_incremental_legality_equals_recomputation() -> None:
    rng = np.random.default_rng(0)
    inst = sample_instance(rng, GeneratorConfig(num_pms=30, max_vms=300, anti_affinity_probability=0.5))
    state = initial_state(inst)
    all_destinations = np.arange(3 * inst.num_pms)
    for _ in range(60):
        vm, destination = np.argwhere(state.feasible)[rng.integers(state.feasible.sum())]
        migrate(state, int(vm), int(destination))
        np.testing.assert_array_equal(state.feasible, destination_feasibility(state, all_destinations))
        np.testing.assert_array_equal(state.num_destinations, state.feasible.sum(axis=1))
        assert placement_violations(inst, state.vm_pm, state.vm_numa) == []
    assert state.migrations == 60


def test_fragment_change_predicts_every_migration() -> None:
    rng = np.random.default_rng(1)
    inst = sample_instance(rng, GeneratorConfig(num_pms=8, max_vms=80))
    state = initial_state(inst)
    change = fragment_change(state)
    assert np.isinf(change[~state.feasible]).all()
    g = state.granularity
    for vm, destination in np.argwhere(state.feasible)[:200]:
        before = (state.free_cpu % g).sum()
        trial = initial_state(inst)
        migrate(trial, int(vm), int(destination))
        assert (trial.free_cpu % g).sum() - before == change[vm, destination]


@pytest.mark.parametrize("granularity", [16, 12])  # a power of two takes the bit-mask path
def test_best_moves_stay_equal_to_a_full_recomputation(granularity: int) -> None:
    rng = np.random.default_rng(2)
    inst = sample_instance(rng, GeneratorConfig(num_pms=30, max_vms=300, anti_affinity_probability=0.3))
    state = initial_state(inst, granularity)
    moves = BestMoves(state)
    for _ in range(40):
        vm, destination = np.argwhere(state.feasible)[rng.integers(state.feasible.sum())]
        src_pm, dst_pm = migrate(state, int(vm), int(destination))
        moves.refresh(src_pm, dst_pm)
        change = fragment_change(state)
        np.testing.assert_array_equal(moves.leave, leave_fragment_change(state))
        np.testing.assert_array_equal(moves.best_change(), change.min(axis=1))
        np.testing.assert_array_equal(moves.changes_of(int(vm)), change[vm])
