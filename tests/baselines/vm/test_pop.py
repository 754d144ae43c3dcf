"""POP rescheduling: the budget split and partition, legal replay on generated clusters, and
equality with plain CP-SAT when there is a single part."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401  (registers the env ids)
from schedgym.baselines.vm.cpsat import CpSatRescheduler
from schedgym.baselines.vm.pop import PopRescheduler, partition_pms, split_budget
from schedgym.envs.vm.sim import placement_violations

ENV_ID = "schedgym/VMReschedule-v1"
SEEDS = [1000, 1001, 1002]


def run(scheduler, seed: int) -> dict:
    """Replays ``scheduler`` on the small cluster of ``seed``, checking every placement."""
    env = gym.make(ENV_ID, size="small")
    env.reset(seed=seed)
    scheduler.reset(env)
    done, info = False, {}
    while not done:
        action = scheduler.act(env)
        assert env.unwrapped.action_masks()[action]
        _, _, done, _, info = env.step(action)
        state = env.unwrapped.state
        assert placement_violations(state.instance, state.vm_pm, state.vm_numa) == []
    assert "fallback" not in scheduler.report.extra
    assert info["fragment_rate"] == pytest.approx(scheduler.report.objective, abs=1e-12)
    return info


def test_split_budget_is_proportional_and_exact():
    assert split_budget(10, [30, 10, 20]) == [5, 2, 3]
    assert split_budget(5, [1, 1, 1]) == [2, 2, 1]
    assert split_budget(3, [0, 0]) == [0, 0]
    assert sum(split_budget(50, [131, 127, 140, 122])) == 50


def test_partition_covers_every_pm_once_and_is_seeded():
    groups = partition_pms(23, 4, seed=7)
    assert sorted(np.concatenate(groups).tolist()) == list(range(23))
    assert {len(g) for g in groups} <= {5, 6}
    assert all(np.array_equal(a, b) for a, b in zip(groups, partition_pms(23, 4, seed=7)))


@pytest.mark.parametrize("seed", SEEDS)
def test_two_parts_replay_legally_and_never_raise_fr(seed: int):
    scheduler = PopRescheduler(parts=2, work_limit=10.0)
    info = run(scheduler, seed)
    report = scheduler.report
    assert info["fragment_rate"] <= info["initial_fragment_rate"]
    assert report.status == "feasible" and report.bound is None and report.extra["parts"] == 2
    assert info["migrations"] <= 10


@pytest.mark.parametrize("seed", SEEDS)
def test_one_part_equals_cpsat(seed: int):
    pop, cpsat = PopRescheduler(parts=1, work_limit=10.0), CpSatRescheduler(work_limit=10.0)
    pop_info, cpsat_info = run(pop, seed), run(cpsat, seed)
    assert pop.report.status == cpsat.report.status == "optimal"
    assert pop.report.objective == pytest.approx(cpsat.report.objective, abs=1e-12)
    assert pop_info["migrations"] == cpsat_info["migrations"]
