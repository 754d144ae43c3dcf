"""The window evaluator of the IoT planners charges exactly what the env charges."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from schedgym.baselines.iot.edf import EDFScheduler
from schedgym.baselines.iot.window import DEFER, Window, edf_positions, evaluate, greedy_sequence
from tests.baselines.iot.helpers import busy_window_env


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequence_cost_equals_the_sims_charges_bit_for_bit(seed):
    env = busy_window_env(seed)
    sim = env.unwrapped.sim
    assert np.any(sim.state.link_free > sim.state.time)  # reservations carry over into the window
    tasks = np.array(sim.waiting[:6])
    window = Window.from_sim(sim, tasks)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        # Leave one task waiting, so that the sim stays at this epoch (no drops charged).
        positions = rng.permutation(window.size)[:window.size - 1]
        sequence = [(int(p), int(rng.choice(np.flatnonzero(window.runnable[p]))))
                    for p in positions]
        trial, charges = copy.deepcopy(sim), []
        for p, node in sequence:
            charges.append(trial.place(int(tasks[p]), node))
        result = evaluate(window, sequence)
        assert result.deferred == 0
        assert list(result.charges) == charges
        assert result.cost == sum(charges, 0.0)
        assert list(result.finish) == [trial.state.finish[tasks[p]] for p, _ in sequence]


def test_greedy_sequence_is_what_the_edf_baseline_places():
    env = busy_window_env(3)
    sim = env.unwrapped.sim
    window = Window.from_sim(sim, env.unwrapped.visible_tasks())
    sequence = greedy_sequence(window, edf_positions(window))
    planned = [(int(window.tasks[p]), node) for p, node in sequence]
    edf = EDFScheduler()
    edf.reset(env)
    placed = []
    while len(placed) < window.size:
        choice = edf.choose(env.unwrapped)
        placed.append(choice)
        sim.place(*choice)
    assert placed == planned


def test_a_task_no_node_can_take_is_deferred():
    env = busy_window_env(4)
    sim = env.unwrapped.sim
    window = Window.from_sim(sim, sim.waiting[:3])
    full = Window(**{**window.__dict__, "memory_used": window.memory_cap.copy()})
    result = evaluate(full, [(0, int(np.flatnonzero(window.runnable[0])[0])), (1, DEFER)])
    assert result.deferred == 2 and result.cost == 0.0
    with pytest.raises(ValueError, match="positions"):
        evaluate(window, [(0, 0), (0, 1)])
