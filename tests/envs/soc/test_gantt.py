"""Tests of the SoC Gantt picture (:mod:`envs.soc.gantt`): the sim's record of finished runs on
a hand-made DAG with known times, one drawn bar per finished and per pending task, runs that
never overlap on a PE, and the record kept only when asked for."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.envs.soc.gantt import (FINISHED_GID, PENDING_GID, draw_gantt, finished_bars,
                                     pending_bars, render_gantt)
from schedgym.envs.soc.env import SoCDAGEnv
from schedgym.envs.soc.sim import SoCSim
from schedgym.policies.evaluation import run_episode
from tests.envs.soc.test_sim import instance, job, two_pe_platform

ENV_ID = "schedgym/SoCDAG-v0"
INF = np.inf


def _chain_sim(record: bool = True) -> SoCSim:
    """test_sim's chain: task 0 on PE 0 for 2 µs, then 8 units over 4 units/µs, then task 1 on
    PE 1 for 3 µs: runs at [0, 2] and [4, 7]."""
    chain = job([[2.0, INF], [INF, 3.0]], edges=[(0, 1)], volume=[8.0])
    return SoCSim(two_pe_platform(4.0), instance([chain], [0.0]), window=4, edge_slots=4,
                  record=record)


def _bars(figure, gid: str) -> list:
    return [patch for axis in figure.axes for patch in axis.patches if patch.get_gid() == gid]


def test_the_record_holds_each_finished_run_and_the_state_the_pending_ones():
    sim = _chain_sim()
    sim.commit(0, 0)
    sim.advance()
    sim.commit(1, 1)  # queued: its input arrives at 4
    assert sim.runs == [(0, 0, 0, 0.0, 2.0)]
    pending = pending_bars(sim)
    assert pending.pe.tolist() == [1] and pending.start.tolist() == [4.0]
    assert pending.finish.tolist() == [7.0]
    figure = draw_gantt(sim)
    assert len(_bars(figure, FINISHED_GID)) == 1 and len(_bars(figure, PENDING_GID)) == 1
    (bar,) = _bars(figure, PENDING_GID)
    assert (bar.get_x(), bar.get_width()) == (4.0, 3.0)
    sim.advance()
    assert sim.done and sim.runs == [(0, 0, 0, 0.0, 2.0), (0, 1, 1, 4.0, 7.0)]
    done = finished_bars(sim)
    assert done.pe.tolist() == [0, 1] and done.finish.tolist() == [2.0, 7.0]
    figure = draw_gantt(sim)
    assert len(_bars(figure, FINISHED_GID)) == 2 and not _bars(figure, PENDING_GID)


def test_without_record_the_sim_keeps_no_runs():
    sim = _chain_sim(record=False)
    sim.commit(0, 0)
    sim.advance()
    assert sim.runs is None
    with pytest.raises(ValueError, match="record=True"):
        finished_bars(sim)


@pytest.mark.parametrize("rule", ["heft_rt", "fifo"])
def test_a_streaming_episode_draws_one_bar_per_task(rule):
    streams = SoCDAGEnv.load_instance_set("stream-heavy-noise0.2")  # noisy: realised times
    env = gym.make(ENV_ID, render_mode="rgb_array", **streams.env_kwargs)
    workload = streams.instances[0]
    run_episode(env, baselines.make(ENV_ID, rule), workload, seed=0)
    sim = env.unwrapped.sim
    n_tasks = sum(j.n_tasks for j in workload.jobs)
    bars = finished_bars(sim)
    assert len(bars.job) == n_tasks and len(pending_bars(sim).job) == 0
    # Each task once, a PE runs one task at a time, and the last finish is the makespan.
    assert len({(job, task) for job, task, *_ in sim.runs}) == n_tasks
    for pe in np.unique(bars.pe):
        order = np.argsort(bars.start[bars.pe == pe])
        start, finish = bars.start[bars.pe == pe][order], bars.finish[bars.pe == pe][order]
        assert (start[1:] >= finish[:-1]).all()
    assert bars.finish.max() == sim.metrics()["makespan"]
    assert len(_bars(draw_gantt(sim), FINISHED_GID)) == n_tasks
    image = render_gantt(sim)
    assert image.dtype == np.uint8 and image.shape[2] == 3
