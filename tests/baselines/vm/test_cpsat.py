"""CP-SAT rescheduling: hand-made clusters with known optima, brute force (over final placements
and over migration sequences) on tiny ones, legal replay, deadlock cuts and detours, the
time-indexed sequence model, anti-affinity, and never worse than greedy on generated clusters."""

from __future__ import annotations

import copy
import itertools

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401  (registers the env ids)
from schedgym.baselines.vm.cpsat import CpSatRescheduler
from schedgym.baselines.vm.models import PlacementModel, SequenceModel
from schedgym.baselines.vm.ordering import best_prefix, final_fragment_rate, order_moves
from schedgym.envs.vm.sim import fragment_change, fragment_rate, initial_state, migrate, placement_violations
from schedgym.envs.vm.types import BOTH_NUMA, VMInstance

ENV_ID = "schedgym/VMReschedule-v1"

# (cpu, mem, double, job, anti_affinity, pm, numa)
VMSpec = tuple[int, int, bool, int, bool, int, int]


def make_instance(num_pms: int, vms: list[VMSpec], cpu: int = 32, mem: int = 64) -> VMInstance:
    """A cluster of identical PMs (2 NUMA nodes of ``cpu`` cores and ``mem`` GiB) holding ``vms``."""
    cols = list(zip(*vms))
    return VMInstance.from_arrays({
        "numa_cpu": np.full((num_pms, 2), cpu), "numa_mem": np.full((num_pms, 2), mem),
        "vm_cpu": cols[0], "vm_mem": cols[1], "vm_double": cols[2], "vm_job": cols[3],
        "vm_anti_affinity": cols[4], "vm_pm": cols[5], "vm_numa": cols[6],
    })


def replay(scheduler, instance: VMInstance, mnl: int) -> tuple[dict, list[int]]:
    """Plans and replays ``instance``, checking the placement after every step; returns the last
    info and the actions taken."""
    env = gym.make(ENV_ID, size="small", mnl=mnl)
    env.reset(options={"instance": instance})
    scheduler.reset(env)
    actions, done, info = [], False, {}
    while not done:
        action = scheduler.act(env)
        assert env.unwrapped.action_masks()[action]
        _, _, done, _, info = env.step(action)
        actions.append(action)
        state = env.unwrapped.state
        assert placement_violations(instance, state.vm_pm, state.vm_numa) == []
    assert info["fragment_rate"] == pytest.approx(scheduler.report.objective, abs=1e-12)
    assert "fallback" not in scheduler.report.extra
    return info, actions


def brute_force_fr(instance: VMInstance, mnl: int) -> float:
    """The lowest FR over every legal final placement that moves at most ``mnl`` VMs."""
    state = initial_state(instance)
    num_pms = instance.num_pms
    places = [(pm, numa) for pm in range(num_pms) for numa in (0, 1)]
    options = [
        [(pm, BOTH_NUMA) for pm in range(num_pms)] if instance.vm_double[v] else places
        for v in range(instance.num_vms)
    ]
    best = fragment_rate(state.free_cpu)
    for k in range(1, mnl + 1):
        for vms in itertools.combinations(range(instance.num_vms), k):
            choices = [[o for o in options[v] if o != (instance.vm_pm[v], instance.vm_numa[v])] for v in vms]
            for targets in itertools.product(*choices):
                vm_pm, vm_numa = instance.vm_pm.copy(), instance.vm_numa.copy()
                for v, (pm, numa) in zip(vms, targets):
                    vm_pm[v], vm_numa[v] = pm, numa
                if placement_violations(instance, vm_pm, vm_numa):
                    continue
                used = np.zeros((num_pms, 2), np.int64)
                for v in range(instance.num_vms):
                    share = instance.vm_cpu[v] // 2 if vm_numa[v] == BOTH_NUMA else instance.vm_cpu[v]
                    for numa in ((0, 1) if vm_numa[v] == BOTH_NUMA else (vm_numa[v],)):
                        used[vm_pm[v], numa] += share
                best = min(best, fragment_rate(instance.numa_cpu - used))
    return best


def random_tiny_instance(rng: np.random.Generator, num_pms: int, num_vms: int) -> VMInstance:
    """A random legal cluster: each VM is put on a random place that still fits it."""
    free = np.full((num_pms, 2), 32)
    vms: list[VMSpec] = []
    for v in range(num_vms):
        double = bool(rng.random() < 0.25)
        cpu = int(rng.choice([4, 8, 12]) if double else rng.integers(1, 14))
        restricted = v < 2  # VMs 0 and 1 form one anti-affinity job
        spots = [(pm, BOTH_NUMA) for pm in range(num_pms) if free[pm].min() >= cpu // 2] if double else \
            [(pm, n) for pm in range(num_pms) for n in (0, 1) if free[pm, n] >= cpu]
        if restricted and vms:
            spots = [s for s in spots if s[0] != vms[0][5]]
        pm, numa = spots[rng.integers(len(spots))]
        if double:
            free[pm] -= cpu // 2
        else:
            free[pm, numa] -= cpu
        vms.append((cpu, 2 * cpu, double, 0 if restricted else v + 1, restricted, pm, numa))
    return make_instance(num_pms, vms)


def test_consolidates_two_halves_in_one_move():
    # Free cores 24, 24 | 16, 32: Σ(free mod 16) = 16. Moving b next to a gives 16, 32 | 16, 32.
    inst = make_instance(2, [(8, 8, False, 1, False, 0, 0), (8, 8, False, 2, False, 0, 1),
                             (16, 8, False, 3, False, 1, 0)])
    scheduler = CpSatRescheduler(work_limit=5.0)
    info, actions = replay(scheduler, inst, mnl=2)
    assert scheduler.report.status == "optimal"
    assert info["fragment_rate"] == 0.0 and scheduler.report.bound == 0.0
    assert info["migrations"] == 1 and scheduler.report.extra["moves"] == 1  # no needless move
    assert len(actions) == 3  # VM, destination, stop


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_on_tiny_clusters(seed: int):
    rng = np.random.default_rng(seed)
    inst = random_tiny_instance(rng, num_pms=3, num_vms=6)
    scheduler = CpSatRescheduler(work_limit=5.0)
    info, _ = replay(scheduler, inst, mnl=2)
    best = brute_force_fr(inst, mnl=2)
    assert scheduler.report.status == "optimal"
    assert info["fragment_rate"] == pytest.approx(best, abs=1e-12)
    assert best < info["initial_fragment_rate"]
    assert scheduler.report.bound == pytest.approx(best, abs=1e-12)


def test_anti_affinity_blocks_the_consolidation():
    # Without the job restriction, q joins p on PM 0 and both PMs end on 16/32 free cores.
    vms = [(8, 8, False, 7, True, 0, 0), (16, 8, False, 1, False, 0, 1),
           (8, 8, False, 7, True, 1, 0), (16, 8, False, 2, False, 1, 1)]
    free_inst = make_instance(2, [spec[:4] + (False,) + spec[5:] for spec in vms])
    free_info, _ = replay(CpSatRescheduler(work_limit=5.0), free_inst, mnl=2)
    assert free_info["fragment_rate"] == 0.0
    inst = make_instance(2, vms)
    scheduler = CpSatRescheduler(work_limit=5.0)
    info, _ = replay(scheduler, inst, mnl=2)
    assert scheduler.report.status == "optimal"
    assert info["fragment_rate"] == pytest.approx(brute_force_fr(inst, mnl=2))
    assert info["fragment_rate"] == info["initial_fragment_rate"] > 0


def swap_deadlock(parking: bool) -> VMInstance:
    """Every NUMA node of PMs 0 and 1 is full in memory, so no single migration among them is
    legal; swapping a and b (or their fillers) would reach FR 0. With ``parking``, an empty
    PM 2 can hold a for a while: a → PM 2, b → X, a → Y."""
    vms = [
        (4, 40, False, 1, False, 0, 0), (4, 24, False, 2, False, 0, 0),  # a, filler of X
        (16, 64, False, 3, False, 0, 1),
        (12, 40, False, 4, False, 1, 0), (12, 24, False, 5, False, 1, 0),  # b, filler of Y
        (16, 64, False, 6, False, 1, 1),
    ]
    if parking:  # PM 2: one NUMA node of 16 free cores, the other full
        vms += [(16, 8, False, 7, False, 2, 0), (32, 8, False, 8, False, 2, 1)]
    return make_instance(3 if parking else 2, vms)


def test_swap_deadlock_is_cut_and_replay_stays_legal():
    # The final-placement model alone: both swaps deadlock and get cut.
    inst = swap_deadlock(parking=False)
    scheduler = CpSatRescheduler(work_limit=5.0, sequence_max_cells=0)
    info, actions = replay(scheduler, inst, mnl=2)
    report = scheduler.report
    assert report.status == "feasible" and report.extra["rounds"] >= 3
    assert report.extra["model"] == "final"
    assert report.bound == 0.0 and info["fragment_rate"] == info["initial_fragment_rate"] == 0.25
    assert actions == [0]


def test_sequence_model_proves_a_deadlock_unbreakable():
    # With nowhere to park a VM, the time-indexed model proves that staying put is optimal.
    inst = swap_deadlock(parking=False)
    scheduler = CpSatRescheduler(work_limit=5.0)
    info, actions = replay(scheduler, inst, mnl=2)
    report = scheduler.report
    assert report.status == "optimal" and report.extra["model"] == "sequence"
    assert report.bound == info["fragment_rate"] == 0.25 and actions == [0]


def test_sequence_model_breaks_a_swap_through_a_temporary_place():
    inst = swap_deadlock(parking=True)
    best = brute_force_sequence_fr(inst, mnl=3)
    state = initial_state(inst)
    solution = PlacementModel(state, np.arange(3), budget=3).solve(5.0, 1, 0)
    ordered, stuck = order_moves(state, solution.moves)
    assert solution.status == "optimal" and stuck  # the best final placement deadlocks,
    assert best < final_fragment_rate(state, best_prefix(state, ordered))  # and its prefix is worse
    # The time-indexed model breaks the swap with a 3rd migration and proves that it must.
    scheduler = CpSatRescheduler(work_limit=5.0, max_rounds=1)
    info, actions = replay(scheduler, inst, mnl=3)
    assert info["fragment_rate"] == pytest.approx(best, abs=1e-12) and best == 0.0
    assert scheduler.report.status == "optimal" and scheduler.report.bound == 0.0
    assert info["migrations"] == 3 and scheduler.report.extra["detours"] == 1
    assert scheduler.report.extra["model"] == "sequence"
    vms = [a - env_vm0(inst) for a in actions[:-1:2]]
    # a parks, b swaps in, a lands; or the same with their fillers (an equal optimum)
    assert sorted(vms) in ([0, 0, 3], [1, 1, 4])


def test_sequence_model_alone_matches_brute_force_over_sequences():
    # The time-indexed model, with no hint from the final-placement model, on the parking case
    # and a random tiny cluster, against every sequence of at most MNL legal migrations.

    rng = np.random.default_rng(5)
    for inst, mnl in ((swap_deadlock(parking=True), 3), (random_tiny_instance(rng, 3, 5), 3)):
        state = initial_state(inst)
        solution = SequenceModel(state, mnl).solve(10.0, 1, 0)
        assert solution.status == "optimal"
        for vm, dest in solution.moves:
            assert state.feasible[vm, dest]
            migrate(state, vm, dest)
            assert placement_violations(inst, state.vm_pm, state.vm_numa) == []
        assert fragment_rate(state.free_cpu) == pytest.approx(brute_force_sequence_fr(inst, mnl), abs=1e-12)


def env_vm0(inst: VMInstance) -> int:
    env = gym.make(ENV_ID, size="small")
    env.reset(options={"instance": inst})
    return env.unwrapped._vm0


def brute_force_sequence_fr(instance: VMInstance, mnl: int) -> float:
    """The lowest FR over every sequence of at most ``mnl`` legal migrations (breadth first over
    the distinct placements, a VM free to move more than once)."""
    start = initial_state(instance)
    best = fragment_rate(start.free_cpu)
    frontier = {(start.vm_pm.tobytes(), start.vm_numa.tobytes()): start}
    seen = set(frontier)
    for _ in range(mnl):
        nxt = {}
        for state in frontier.values():
            for vm, dest in zip(*np.nonzero(state.feasible)):
                child = copy.deepcopy(state)
                migrate(child, int(vm), int(dest))
                key = (child.vm_pm.tobytes(), child.vm_numa.tobytes())
                if key in seen:
                    continue
                seen.add(key)
                assert placement_violations(instance, child.vm_pm, child.vm_numa) == []
                best = min(best, fragment_rate(child.free_cpu))
                nxt[key] = child
        frontier = nxt
    return best


def test_ordering_backtracks_past_a_greedy_dead_end():
    # N = PM0/NUMA0 has 8 free cores, M = PM1/NUMA0 none. Moving A into N first would block both
    # D (into N) and C (into M, which D must vacate); D, C, A is the legal order.
    inst = make_instance(3, [
        (8, 1, False, 1, False, 0, 0), (16, 1, False, 2, False, 0, 0),  # C, filler of N
        (8, 1, False, 3, False, 1, 0), (24, 1, False, 4, False, 1, 0),  # D, filler of M
        (8, 1, False, 5, False, 2, 0),  # A
    ])
    state = initial_state(inst)
    moves = [(4, 0), (2, 0), (0, 2)]  # A → N, D → N, C → M
    ordered, stuck = order_moves(state, moves)
    assert stuck == [] and sorted(ordered) == sorted(moves)
    for vm, dest in ordered:
        assert state.feasible[vm, dest]
        migrate(state, vm, dest)


def test_falls_back_to_stop_when_the_env_left_the_plan():
    inst = make_instance(2, [(8, 8, False, 1, False, 0, 0), (8, 8, False, 2, False, 0, 1),
                             (16, 8, False, 3, False, 1, 0)])
    env = gym.make(ENV_ID, size="small", mnl=2)
    env.reset(options={"instance": inst})
    scheduler = CpSatRescheduler(work_limit=5.0)
    scheduler.reset(env)
    env.step(env.unwrapped._vm0 + 2)  # someone else selects VM 2: the plan's VM is now illegal
    assert scheduler.act(env) == 0
    assert "fallback" in scheduler.report.extra


def greedy_fr(instance: VMInstance, mnl: int) -> float:
    """Best single migration by fragment change, repeated while it improves."""
    state = initial_state(instance)
    for _ in range(mnl):
        change = fragment_change(state)
        if change.min() >= 0:
            break
        vm, dest = np.unravel_index(int(np.argmin(change)), change.shape)
        migrate(state, int(vm), int(dest))
    return fragment_rate(state.free_cpu)


@pytest.mark.parametrize("seed", [1000, 1001, 1002])
def test_never_worse_than_greedy_on_generated_clusters(seed: int):
    env = gym.make(ENV_ID, size="small")
    env.reset(seed=seed)
    inst = env.unwrapped.state.instance
    scheduler = CpSatRescheduler(work_limit=10.0)
    info, _ = replay(scheduler, inst, mnl=env.unwrapped.mnl)
    assert info["fragment_rate"] <= greedy_fr(inst, env.unwrapped.mnl) + 1e-12
    assert scheduler.report.bound <= info["fragment_rate"] + 1e-12


@pytest.mark.parametrize("workers", [1, 2])
def test_a_plan_cut_short_by_its_budget_is_reproducible(workers: int):
    """The budget is deterministic work, so a solve stopped by it (not proven optimal) gives
    the same plan, status and work on every run, whatever the machine's load."""
    env = gym.make(ENV_ID, size="small")
    env.reset(seed=1003)
    inst = env.unwrapped.state.instance
    runs = []
    for _ in range(2):
        scheduler = CpSatRescheduler(work_limit=0.05, workers=workers)
        _, actions = replay(scheduler, inst, mnl=env.unwrapped.mnl)
        report = scheduler.report
        runs.append((actions, report.status, report.objective, report.bound, report.budget_used))
    assert runs[0] == runs[1]
    assert runs[0][1] != "optimal"  # the budget, not a proof, ended the search
    assert report.budget == 0.05 and report.budget_unit == "CP-SAT deterministic s"
    assert report.wall_seconds > 0
