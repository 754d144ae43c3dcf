"""CP-SAT on IoT windows: equal to brute force over every order and node on hand-made tiny
instances, realised by the env, a valid bound, memory deferral, report fields, arguments."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym import baselines
from schedgym.baselines.iot.cpsat import CpSatWindowScheduler, WindowModel, tolerance
from schedgym.baselines.iot.greedy import GreedyScheduler
from schedgym.baselines.iot.window import Window, evaluate
from schedgym.envs.iot.types import PLACED
from tests.baselines.iot.helpers import (ENV_ID, brute_force, busy_window_env,
                                        memory_short_instance, run_episode, tiny_instance,
                                        window_env)

# (seed, tasks in the window, background tasks' nodes: they keep the edge core and the links busy)
CASES = [(0, 3, ()), (1, 3, (1, 2)), (2, 4, (1, 2)), (3, 4, (1, 2)), (5, 4, (0, 1))]


@pytest.mark.parametrize("seed,tasks,background", CASES)
def test_equals_brute_force_over_orders_and_nodes(seed, tasks, background):
    instance = tiny_instance(seed, tasks=tasks, background=len(background))
    env = window_env(instance, background)
    best = brute_force(env.unwrapped.sim)
    scheduler = CpSatWindowScheduler()
    scheduler.reset(env, seed=0)
    charged = run_episode(env, scheduler)
    report = scheduler.report
    window = Window.from_sim(window_env(instance, background).unwrapped.sim,
                             np.arange(len(background), instance.num_tasks))
    assert len(scheduler.reports) == 1 and report.status == "optimal"
    assert charged == report.objective  # what the env charged for the placements made
    assert report.bound <= best + 1e-12
    assert charged == pytest.approx(best, abs=tolerance(window))


def test_brute_force_cases_are_not_trivial():
    """Greedy misses the optimum on every 4-task case, so the equality above can fail."""
    for seed, tasks, background in CASES:
        if tasks < 4:
            continue
        instance = tiny_instance(seed, tasks=tasks, background=len(background))
        env = window_env(instance, background)
        best = brute_force(env.unwrapped.sim)
        assert run_episode(env, GreedyScheduler()) > best + 0.01


@pytest.mark.parametrize("seed", [0, 1])
def test_env_realises_every_solution_within_the_rounding(seed):
    """On busy generated windows: the env's cost of the model's order and nodes is at most the
    model's objective (plus rounding) and at least its bound."""
    env = busy_window_env(seed, waiting=6)
    sim = env.unwrapped.sim
    window = Window.from_sim(sim, sim.waiting[:8])
    model = WindowModel(window)
    solution = model.solve(work_limit=5.0, workers=1, seed=0)
    assert solution.status == "optimal"
    realised = evaluate(window, solution.sequence)
    assert realised.deferred == 0
    assert solution.bound - 1e-9 <= realised.cost <= solution.objective + tolerance(window)


def test_memory_shortage_defers_a_task_to_the_next_epoch():
    env = window_env(memory_short_instance())
    scheduler = CpSatWindowScheduler()
    scheduler.reset(env, seed=0)
    run_episode(env, scheduler)
    first = scheduler.reports[0]
    assert first.extra["deferred"] == 1 and first.bound is None
    assert (env.unwrapped.sim.state.status == PLACED).all()  # every task placed in the end
    assert len(scheduler.reports) >= 2


def test_report_and_determinism():
    instance = tiny_instance(2, tasks=4, background=2)
    runs = []
    for _ in range(2):
        env = window_env(instance, (1, 2))
        scheduler = baselines.make(ENV_ID, "cpsat", work_limit=2.0)
        scheduler.reset(env, seed=3)
        actions = []
        while not env.unwrapped.sim.done:
            actions.append(scheduler.act(env))
            env.step(actions[-1])
        runs.append((actions, scheduler.report))
    (first, report), (second, again) = runs
    assert first == second and report.objective == again.objective
    assert report.budget_used == again.budget_used
    assert report.budget == 2.0 and report.budget_unit == "CP-SAT deterministic s"
    assert 0 < report.budget_used <= 2.0 and report.wall_seconds > 0
    assert report.extra["tasks"] == 4 and report.extra["source"] == "cpsat"
    assert report.extra["greedy_objective"] >= report.objective


@pytest.mark.parametrize("kwargs,name", [({"work_limit": 0.0}, "work_limit"),
                                         ({"workers": 0}, "workers"),
                                         ({"max_tasks": 0}, "max_tasks"), ({"seed": 1.5}, "seed")])
def test_bad_arguments_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CpSatWindowScheduler(**kwargs)


def test_large_batches_are_split_by_deadline():
    env = busy_window_env(5, waiting=7)
    sim = env.unwrapped.sim
    scheduler = CpSatWindowScheduler(max_tasks=3)
    scheduler.reset(env, seed=0)
    inst, waiting = sim.instance, list(sim.waiting)
    urgent = sorted(waiting, key=lambda t: (inst.arrival[t] + inst.deadline_s[t], t))[:3]
    placed = []
    while len(placed) < 3:
        env.step(scheduler.act(env))
        placed += [t for t in waiting if sim.state.status[t] == PLACED and t not in placed]
    assert sorted(placed) == sorted(urgent)
    assert [r.extra["tasks"] for r in scheduler.reports] == [3]
