"""VMR2L's greedy baseline."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from schedgym import baselines
from schedgym.policies.evaluation import run_episode
from schedgym.envs.vm.env import VMRescheduleEnv
from tests.envs.vm.helpers import make_instance

ENV_ID = "schedgym/VMReschedule-v1"


def test_greedy_takes_the_best_migration_and_stops_when_none_improves() -> None:
    # Free (frag) per NUMA: PM0 8 (8), 28 (12); PM1 24 (8), 32 (0): FR 28/92. Three migrations
    # each remove 16 fragment cores: VM 0 (24 cores) to PM0 NUMA1, VM 1 (4) or VM 2 (8) to PM0
    # NUMA0; the tie goes to the lowest VM index. After it no single migration helps: stop.
    inst = make_instance([32, 32], [(24, 0, 0), (4, 0, 1), (8, 1, 0)])
    env = VMRescheduleEnv(size="small")
    result = run_episode(env, baselines.make(ENV_ID, "greedy"), inst, seed=0)
    assert result.actions == [env.vm_node(0), env.destination_node(1), 0]
    assert result.metrics["initial_fragment_rate"] == pytest.approx(28 / 92)
    assert result.metrics["fragment_rate"] == pytest.approx(12 / 92)


def test_greedy_first_move_is_the_best_single_migration_by_brute_force() -> None:
    env = VMRescheduleEnv(size="small")
    env.reset(seed=31)
    greedy = baselines.make(ENV_ID, "greedy")
    greedy.reset(env)
    vm_node = greedy.act(env)
    env.step(vm_node)
    _, _, _, _, info = env.step(greedy.act(env))
    best = np.inf
    probe = VMRescheduleEnv(size="small")
    probe.reset(seed=31)
    for vm, destination in np.argwhere(probe.state.feasible):
        trial = copy.deepcopy(probe)
        trial.step(trial.vm_node(int(vm)))
        _, _, _, _, trial_info = trial.step(trial.destination_node(int(destination)))
        best = min(best, trial_info["fragment_rate"])
    assert info["fragment_rate"] == pytest.approx(best)


def test_greedy_beats_random_on_small_test() -> None:
    instance_set = VMRescheduleEnv.load_instance_set("small-test")
    env = VMRescheduleEnv(**instance_set.env_kwargs)
    final = {name: [] for name in ("greedy", "random")}
    for instance in instance_set.instances:
        for name in final:
            result = run_episode(env, baselines.make(ENV_ID, name), instance, seed=0)
            final[name].append(result.metrics["fragment_rate"])
            assert result.metrics["fragment_rate"] <= result.metrics["initial_fragment_rate"] or name == "random"
    assert np.mean(final["greedy"]) < np.mean(final["random"])
