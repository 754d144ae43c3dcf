"""Lower bounds on the VM fragment rate: exactness of the touched-set DP against enumeration,
validity against brute force over migration sequences, cases where the bound is tight (and cpsat
reaches it) and where it is not (and cpsat proves the higher optimum)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from schedgym.baselines.vm.bound import fr_lower_bound, main, residual_bound, touched_set_bound
from schedgym.baselines.vm.cpsat import CpSatRescheduler
from schedgym.data.instance_sets import load_named
from schedgym.envs.vm.sim import initial_state
from schedgym.envs.vm.types import BOTH_NUMA
from tests.baselines.vm.test_cpsat import (brute_force_sequence_fr, make_instance,
                                           random_tiny_instance, replay)


def test_touched_set_bound_is_the_exact_minimum_over_sets():
    # Every choice per PM: untouched, node 0 or node 1 or both as further nodes, or whole (the
    # PM of a displaced double VM); a choice is allowed if some d ≤ min(doubles, budget) has
    # whole ≤ 2d and further nodes ≤ 2(budget − d).
    rng = np.random.default_rng(0)
    for _ in range(40):
        pms, g = int(rng.integers(1, 5)), int(rng.choice([4, 16]))
        free = rng.integers(0, 40, (pms, 2))
        budget, doubles = int(rng.integers(1, pms + 1)), int(rng.integers(0, 3))
        best = None
        for choice in itertools.product(range(5), repeat=pms):
            whole = sum(c == 4 for c in choice)
            nodes = sum((c in (1, 3)) + (c in (2, 3)) for c in choice)
            if not any(whole <= 2 * d and nodes <= 2 * (budget - d)
                       for d in range(min(doubles, budget) + 1)):
                continue
            touched = np.array([[c in (1, 3, 4), c in (2, 3, 4)] for c in choice])
            value = int((free[~touched] % g).sum() + free[touched].sum() % g)
            best = value if best is None else min(best, value)
        assert touched_set_bound(free, budget, doubles, g) == best


def test_invariant_bound_is_total_free_mod_g():
    # Free cores 24, 24 | 16, 32: T = 96 ≡ 0 (mod 16), though Σ (free mod 16) is 16 now.
    inst = make_instance(2, [(8, 8, False, 1, False, 0, 0), (8, 8, False, 2, False, 0, 1),
                             (16, 8, False, 3, False, 1, 0)])
    assert fr_lower_bound(inst) == 0.0
    inst = make_instance(2, [(9, 8, False, 1, False, 0, 0)])  # T = 119 ≡ 7
    assert fr_lower_bound(inst) == pytest.approx(7 / 119)
    assert fr_lower_bound(inst, granularity=1) == 0.0


def eight_free_everywhere() -> object:
    """Three PMs whose six NUMA nodes each have 8 free cores (a 24-core VM on each)."""
    return make_instance(3, [(24, 8, False, i, False, i // 2, i % 2) for i in range(6)])


def test_mnl_bound_counts_the_nodes_a_plan_can_touch():
    # T = 48 ≡ 0 (mod 16), so the invariant bound 0 needs every node touched; one migration
    # touches two, which can pool their 8 + 8 free cores at best: 4 gaps of 8 stay.
    inst = eight_free_everywhere()
    assert fr_lower_bound(inst) == 0.0
    assert fr_lower_bound(inst, mnl=1) == pytest.approx(32 / 48)
    assert fr_lower_bound(inst, mnl=2) == pytest.approx(16 / 48)
    assert fr_lower_bound(inst, mnl=3) == 0.0


def test_cpsat_reaches_the_mnl_bound_where_it_is_reachable_and_proves_more_where_not():
    # Every node has 8 free cores; one 8-core VM (on node 5) can close one gap: moving it to
    # node 0 leaves 16 free on node 5 and none on node 0. That meets the MNL-1 bound; at MNL 2
    # the bound (two pooled pairs) is out of reach, as no other VM fits a gap.
    vms = [(24, 8, False, i, False, i // 2, i % 2) for i in range(5)]
    vms += [(16, 8, False, 5, False, 2, 1), (8, 8, False, 6, False, 2, 1)]
    inst = make_instance(3, vms)
    for mnl, tight in ((1, True), (2, False)):
        bound = fr_lower_bound(inst, mnl=mnl)
        scheduler = CpSatRescheduler(work_limit=5.0)
        info, _ = replay(scheduler, inst, mnl=mnl)
        assert info["fragment_rate"] == pytest.approx(brute_force_sequence_fr(inst, mnl), abs=1e-12)
        assert info["fragment_rate"] == pytest.approx(32 / 48, abs=1e-12)
        assert (info["fragment_rate"] == pytest.approx(bound, abs=1e-12)) == tight
        assert scheduler.report.status == "optimal"
        assert scheduler.report.bound == pytest.approx(info["fragment_rate"], abs=1e-12)


def test_cpsat_proves_an_optimum_above_the_bound():
    # Every node is full in memory, so no VM can move: FR stays 16 / 16 while T mod g = 0.
    inst = make_instance(1, [(24, 64, False, 1, False, 0, 0), (24, 64, False, 2, False, 0, 1)])
    assert fr_lower_bound(inst, mnl=2) == 0.0
    scheduler = CpSatRescheduler(work_limit=5.0)
    info, actions = replay(scheduler, inst, mnl=2)
    assert actions == [0] and info["fragment_rate"] == 1.0
    # The probe at residual 0 proved it unreachable, which raised the bound to the optimum.
    assert scheduler.report.status == "optimal" and scheduler.report.bound == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_bound_never_exceeds_the_brute_force_optimum(seed: int):
    # Tiny random clusters (double VMs included, so both forms of the DP run), every MNL from 1
    # (two of six nodes touched) to 3 (all): the bound stays at or below the best sequence.
    rng = np.random.default_rng(seed)
    inst = random_tiny_instance(rng, num_pms=3, num_vms=5)
    for mnl in (1, 2, 3):
        optimum = brute_force_sequence_fr(inst, mnl)
        assert fr_lower_bound(inst, mnl=mnl) <= optimum + 1e-12
        assert fr_lower_bound(inst) <= fr_lower_bound(inst, mnl=mnl)


def test_a_movable_double_vm_widens_the_touched_set_to_pms():
    # Nodes of 8 free cores. With MNL 1 a single VM touches 2 nodes, a double VM 4 (two PMs).
    singles = eight_free_everywhere()
    assert residual_bound(initial_state(singles), 1) == 32
    doubles = make_instance(3, [(48, 8, True, pm, False, pm, BOTH_NUMA) for pm in range(3)])
    assert residual_bound(initial_state(doubles), 1) == 16  # two PMs' gaps can pool


def test_cli_prints_the_bounds_of_a_set(capsys):
    assert main(["--instances", "small-test"]) == 0
    out = capsys.readouterr().out.splitlines()
    instances = load_named("vm", "small-test").instances
    assert len(out) == 2 + len(instances) + 1
    mean = np.mean([fr_lower_bound(inst, 16, 10) for inst in instances])
    assert out[-1].startswith("| small-test | mean of 20 |") and f"{mean:.4f}" in out[-1]
    with pytest.raises(SystemExit):
        main(["--instances", "small-test", "--work-limit", "-1"])
    with pytest.raises(SystemExit):
        main(["--instances", "small-test,nope"])
    assert "no VM instance set nope; available: " in capsys.readouterr().err
