"""MAX–MIN ant system on IoT windows: reaches the brute-force optimum of its task order with
enough ants, charges what the env charges, is deterministic under a seed, keeps pheromone
between windows, fills its reports, refuses bad arguments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.baselines.iot.aco import ACOScheduler
from schedgym.baselines.iot.greedy import GreedyScheduler
from schedgym.baselines.iot.window import Window, edf_positions
from schedgym.envs.iot.env import HOLD_NODE
from tests.baselines.iot.helpers import (ENV_ID, brute_force, busy_window_env,
                                        memory_short_instance, run_episode, tiny_instance,
                                        window_env)

CASES = [(0, 3, ()), (1, 3, (1, 2)), (2, 4, (1, 2)), (4, 4, (1, 2))]


def edf_order(env: gym.Env) -> tuple[int, ...]:
    """The waiting tasks in the order ACO's ants take them (EDF)."""
    sim = env.unwrapped.sim
    window = Window.from_sim(sim, sim.waiting)
    return tuple(int(t) for t in window.tasks[edf_positions(window)])


@pytest.mark.parametrize("seed,tasks,background", CASES)
def test_reaches_the_optimum_of_its_order_with_enough_budget(seed, tasks, background):
    instance = tiny_instance(seed, tasks=tasks, background=len(background))
    env = window_env(instance, background)
    order = edf_order(env)
    best = brute_force(env.unwrapped.sim, orders=lambda _: [order])  # every node choice, EDF order
    scheduler = ACOScheduler(ants=50, iterations=100)
    scheduler.reset(env, seed=0)
    charged = run_episode(env, scheduler)
    assert charged == pytest.approx(best, rel=1e-12)
    assert charged == scheduler.report.objective  # the fitness is what the env charged, exactly


def test_default_budget_beats_greedy_on_the_tiny_cases():
    for seed, tasks, background in CASES:
        instance = tiny_instance(seed, tasks=tasks, background=len(background))
        aco = ACOScheduler()
        aco.reset(env := window_env(instance, background), seed=0)
        ours = run_episode(env, aco)
        assert ours <= run_episode(window_env(instance, background), GreedyScheduler()) + 1e-12


def test_fitness_equals_the_charges_on_every_window_of_an_episode():
    env = busy_window_env(0, waiting=4)
    iot, sim = env.unwrapped, env.unwrapped.sim
    scheduler = ACOScheduler(ants=5, iterations=5)
    scheduler.reset(env, seed=1)
    placed: dict[int, list[int]] = {}  # window index -> its tasks in placement order
    while not sim.done and len(scheduler.reports) <= 40:
        action = scheduler.act(env)
        if iot.phase == 1 and action != HOLD_NODE:
            placed.setdefault(len(scheduler.reports) - 1, []).append(iot.state.selected)
        env.step(action)
    st, deadline = sim.state, sim.instance.deadline_s
    for window, tasks in list(placed.items())[:-1]:  # the last may be unfinished
        charged = 0.0
        for t in tasks:  # the env's charge of each placement, recomputed from what it reserved
            response = float(st.response[t])
            charged += sim.cost(response, response > deadline[t], float(st.energy_j[t]))
        assert charged == scheduler.reports[window].objective
    assert len(placed) >= 10 and scheduler.replans == 0


def test_deterministic_under_a_seed_and_seed_matters():
    instance = tiny_instance(2, tasks=4, background=2)

    def run(seed: int) -> tuple[list[int], list[list[float]]]:
        env = window_env(instance, (1, 2))
        scheduler = baselines.make(ENV_ID, "aco", ants=4, iterations=10)
        scheduler.reset(env, seed=seed)
        actions = []
        while not env.unwrapped.sim.done:
            actions.append(scheduler.act(env))
            env.step(actions[-1])
        return actions, scheduler.curves

    assert run(0) == run(0)
    assert any(run(0)[1] != run(seed)[1] for seed in (1, 2, 3))


def test_report_curve_and_pheromone():
    env = busy_window_env(1, waiting=5)
    scheduler = ACOScheduler(ants=6, iterations=8)
    scheduler.reset(env, seed=0)
    assert np.all(scheduler.pheromone == 1.0)  # MMAS starts at τ_max everywhere
    for _ in range(60):
        env.step(scheduler.act(env))
    report = scheduler.report
    assert report.status == "feasible" and report.budget == 48 and report.budget_used == 48
    assert report.budget_unit == "ant tours" and report.wall_seconds > 0
    assert report.objective == scheduler.curve[-1] and len(scheduler.curve) == 8
    assert len(scheduler.curves) == len(scheduler.reports) >= 2
    assert all(np.all(np.diff(curve) <= 0) for curve in scheduler.curves)  # best so far
    tau = scheduler.pheromone
    choices = env.unwrapped.sim.routes.runnable.sum(axis=1, keepdims=True)
    assert np.all(tau <= 1.0 + 1e-12) and np.all(tau >= 1.0 / (2 * choices) - 1e-12)
    assert np.any(tau < 1.0)  # learned, and carried over to the next window
    scheduler.reset(env, seed=0)
    assert np.all(scheduler.pheromone == 1.0)


@pytest.mark.parametrize("kwargs,name", [({"ants": 0}, "ants"), ({"iterations": 1.0}, "iterations"),
                                         ({"rho": 0.0}, "rho"), ({"alpha": -1.0}, "alpha"),
                                         ({"q": 0.0}, "q"), ({"deposit": "all"}, "deposit"),
                                         ({"order": "random"}, "order")])
def test_bad_arguments_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ACOScheduler(**kwargs)


def test_memory_shortage_defers_and_the_episode_completes():
    env = window_env(memory_short_instance())
    scheduler = ACOScheduler(ants=5, iterations=5)
    scheduler.reset(env, seed=0)
    run_episode(env, scheduler)
    assert scheduler.reports[0].extra["deferred"] == 1 and env.unwrapped.sim.done
