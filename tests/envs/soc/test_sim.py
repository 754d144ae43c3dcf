"""Tests of :mod:`envs.soc.sim` on its own, without the Gymnasium env: hand-made DAGs with
known times (transfers, FIFO queues, noise), window admission, the checks, and that the sim
driven directly gives the env's metrics."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding

from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.envs.soc.env import SoCDAGEnv
from schedgym.envs.soc.platform import get_platform
from schedgym.envs.soc.sim import SoCSim, job_rank
from schedgym.envs.soc.types import DONE, NOT_READY, QUEUED, RUNNING, Job, Platform
from schedgym.envs.soc.types import SoCInstance

INF = np.inf


def two_pe_platform(bandwidth: float) -> Platform:
    """Two PEs of two kinds joined by a link of ``bandwidth`` units per µs."""
    return Platform("two", ("A", "B"), np.array([0, 1]), np.full((2, 2), bandwidth))


def job(cost, edges=(), volume=()) -> Job:
    cost = np.asarray(cost, float)
    return Job("hand", cost, np.asarray(edges, np.int64).reshape(-1, 2),
               np.asarray(volume, float), np.full(len(cost), -1))


def instance(jobs, arrival) -> SoCInstance:
    return SoCInstance("hand", "two", tuple(jobs), np.asarray(arrival, float))


def test_chain_across_pes_pays_the_transfer():
    # Task 0 runs only on PE 0 (2 µs), task 1 only on PE 1 (3 µs); 8 units over a link of
    # 4 units/µs take 2 µs, so task 1 starts at 4 and the job finishes at 7.
    chain = job([[2.0, INF], [INF, 3.0]], edges=[(0, 1)], volume=[8.0])
    sim = SoCSim(two_pe_platform(4.0), instance([chain], [0.0]), window=4, edge_slots=4)
    s = sim.state
    assert sim.ready_slots().tolist() == [0] and s.task_status[1] == NOT_READY
    est, eft = sim.eft_per_pe(0)
    assert est[0] == 0.0 and eft[0] == 2.0 and np.isinf(eft[1])
    sim.commit(0, 0)
    assert s.task_status[0] == RUNNING and s.pe_free_est[0] == 2.0
    elapsed = sim.advance()
    assert elapsed == (2.0, 2.0) and s.time == 2.0 and s.task_status[0] == DONE
    assert sim.ready_slots().tolist() == [1] and s.task_ready_time[1] == 2.0
    est, eft = sim.eft_per_pe(1)
    assert est[1] == 4.0 and eft[1] == 7.0  # waits for its input, not for the PE
    sim.commit(1, 1)
    assert s.task_status[1] == QUEUED and s.task_start[1] == 4.0  # input still on the way
    sim.advance()
    assert sim.done and s.task_finish[1] == 7.0 and s.task_start[1] == 4.0
    assert sim.metrics() == {"avg_job_duration": 7.0, "makespan": 7.0, "jobs_completed": 1,
                             "throughput": 1 / 0.007, "total_time_in_system": 7.0, "time": 7.0}


def test_chain_on_one_pe_has_no_transfer_and_queues_fifo():
    # Both tasks on PE 0: no transfer, so 2 + 3; a third independent task queued behind them.
    j = job([[2.0, 9.0], [3.0, 9.0], [1.0, 9.0]], edges=[(0, 1)], volume=[8.0])
    sim = SoCSim(two_pe_platform(4.0), instance([j], [0.0]), window=3, edge_slots=1)
    s = sim.state
    assert sim.ready_slots().tolist() == [0, 2]
    sim.commit(2, 0)  # independent task first: task 0 queues behind it
    sim.commit(0, 0)
    assert s.task_status[0] == QUEUED and s.task_start[0] == 1.0 and s.pe_free_est[0] == 3.0
    assert s.pe_queue_len[0] == 2
    sim.advance()
    assert s.time == 3.0 and sim.ready_slots().tolist() == [1]
    assert sim.eft_per_pe(1)[1].tolist() == [6.0, 14.0]  # PE 1 pays 8 / 4 = 2 of transfer
    sim.commit(1, 0)
    sim.advance()
    assert sim.done and sim.metrics()["makespan"] == 6.0


def test_noise_is_realised_at_the_finish_and_requeues_the_estimate():
    # Tasks 0 and 1 queue on PE 0; task 2 (PE 1 only) needs task 0, so the sim stops when
    # task 0 finishes at its realised time 10 * factor.
    j = job([[10.0, INF], [10.0, INF], [INF, 1.0]], edges=[(0, 2)], volume=[0.0])
    sim = SoCSim(two_pe_platform(1.0), instance([j], [0.0]), window=3, edge_slots=1,
                 noise=0.3, rng=np.random.default_rng(1))
    s, factors = sim.state, sim.noise[0]
    assert factors.shape == (3,) and (factors != 1.0).all()
    sim.commit(0, 0)
    sim.commit(1, 0)
    assert s.task_finish[:2].tolist() == [10.0, 20.0]  # the scheduler's view: mean costs
    sim.advance()
    assert s.time == 10.0 * factors[0] and s.task_finish[0] == s.time
    assert sim.ready_slots().tolist() == [2]
    # The queue behind it is re-estimated from the realised finish.
    assert s.task_finish[1] == s.time + 10.0 and s.pe_free_est[0] == s.task_finish[1]
    sim.commit(2, 1)
    sim.advance()
    assert sim.done and s.time == max(10.0 * factors[0] + 10.0 * factors[1],
                                      10.0 * factors[0] + 1.0 * factors[2])


def test_full_window_keeps_a_job_outside_until_slots_free():
    # Window of 3 slots, two 2-task jobs at time 0: the second waits outside, then takes the
    # freed slots (smallest first) when the first completes, and its wait counts.
    j = job([[1.0, INF], [2.0, INF]], edges=[(0, 1)], volume=[0.0])
    sim = SoCSim(two_pe_platform(1.0), instance([j, j], [0.0, 0.0]), window=3, edge_slots=2)
    s = sim.state
    assert sim.admitted_jobs() == [0] and s.n_outside == 1 and sim.in_system == 2
    assert sim.job_slots(1).size == 0 and sim.job_slots(0).tolist() == [0, 1]
    sim.commit(0, 0)
    sim.advance()
    sim.commit(1, 0)
    sim.advance()  # job 0 completes at 3: job 1 enters slots 0 and 1 at once
    assert s.time == 3.0 and sim.admitted_jobs() == [1] and s.n_outside == 0
    assert sim.job_slots(1).tolist() == [0, 1] and s.task_job[:2].tolist() == [1, 1]
    assert sim.ready_slots().tolist() == [0] and s.task_ready_time[0] == 3.0
    assert not s.task_valid[2]
    sim.commit(0, 0)
    sim.advance()
    sim.commit(1, 0)
    sim.advance()
    m = sim.metrics()
    assert sim.done and m["makespan"] == 6.0 and m["avg_job_duration"] == (3.0 + 6.0) / 2
    assert m["total_time_in_system"] == 2 * 3.0 + 1 * 3.0


def test_arrivals_and_idle_count_jobs_in_the_system():
    j = job([[4.0, INF]])
    sim = SoCSim(two_pe_platform(1.0), instance([j, j], [0.0, 10.0]), window=1, edge_slots=1)
    sim.commit(0, 0)
    assert sim.advance() == (10.0, 4.0)  # finish at 4 (1 job), nothing until the arrival at 10
    assert sim.state.time == 10.0 and sim.ready_slots().tolist() == [0]
    assert sim.has_pending_events() is False and sim.in_system == 1
    assert sim.idle(2.5) == (2.5, 2.5) and sim.state.time == 12.5
    sim.commit(0, 0)
    sim.advance()
    assert sim.metrics()["total_time_in_system"] == 4.0 + 2.5 + 4.0


def test_rank_is_the_heft_upward_rank_and_cached():
    j = job([[2.0, 4.0], [3.0, 3.0]], edges=[(0, 1)], volume=[2.0])
    plat = two_pe_platform(1.0)
    rank = job_rank(j, plat)
    # Mean costs 3 and 3, mean transfer over distinct PEs 2 / 1: rank = (3 + 2 + 3, 3).
    assert rank.tolist() == [8.0, 3.0]
    assert job_rank(j, plat) is rank and job_rank(dataclasses.replace(j), plat) is rank
    sim = SoCSim(plat, instance([j], [0.0]), window=2, edge_slots=1)
    assert sim.state.task_rank.tolist() == [8.0, 3.0]


def test_bad_instances_are_refused():
    plat = two_pe_platform(1.0)
    j = job([[1.0, INF]])
    with pytest.raises(ValueError, match="platform"):
        SoCSim(get_platform("unrelated-2"), instance([j], [0.0]), window=2, edge_slots=1)
    with pytest.raises(ValueError, match="non-decreasing"):
        SoCSim(plat, instance([j, j], [1.0, 0.0]), window=2, edge_slots=1)
    with pytest.raises(ValueError, match="does not fit window=1"):
        SoCSim(plat, instance([job([[1.0, 1.0]] * 2)], [0.0]), window=1, edge_slots=1)
    with pytest.raises(ValueError, match="no PE kind can run"):
        SoCSim(plat, instance([job([[INF, INF]])], [0.0]), window=2, edge_slots=1)


@pytest.mark.parametrize("set_name,index,seed", [("stream-medium-noise0.2", 1, 3),
                                                 ("static-apps", 2, 0)])
def test_sim_driven_directly_matches_the_env(set_name, index, seed):
    """The env with ``pe_selection="eft"`` and the sim driven by the same rule (first ready
    slot, earliest-finish PE) give identical metrics, rewards and times."""
    st = SoCDAGEnv.load_instance_set(set_name)
    inst, kwargs = st.instances[index], {**st.env_kwargs, "pe_selection": "eft"}
    env = gym.make("schedgym/SoCDAG-v0", **kwargs)
    _, info = env.reset(seed=seed, options={"instance": inst})
    soc, rewards = env.unwrapped, []
    while True:
        _, reward, term, trunc, info = env.step(soc.task_node(soc.ready_slots()[0]))
        rewards.append(reward)
        if term or trunc:
            break
    assert term
    plat = get_platform(kwargs["platform"])
    sim = SoCSim(plat, inst, window=kwargs["window"], edge_slots=3 * kwargs["window"],
                 noise=kwargs.get("noise", 0.0), rng=seeding.np_random(seed)[0])
    sim.advance()
    costs = []
    while not sim.done:
        slot = int(sim.ready_slots()[0])
        sim.commit(slot, int(np.argmin(sim.eft_per_pe(slot)[1])))
        elapsed = sim.advance()
        costs.append(elapsed.job_time if kwargs["mode"] == "streaming" else elapsed.time)
    assert sim.metrics() == {k: v for k, v in info.items() if k != "steps"}
    assert [-c for c in costs] == rewards
    assert sim.state.time == soc.state.time and sim.metrics()["jobs_completed"] == len(inst.jobs)
    if kwargs["mode"] == "static":
        assert -sum(rewards) == pytest.approx(info["makespan"])
