"""SoC baselines against worked examples: Topcuoglu et al.'s Fig. 2 graph (HEFT 80, CPOP 86)
both as pure algorithms and replayed through the env, and hand-computed list-scheduling
examples that separate ETF, MET, FIFO and HEFT_RT."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym import envs  # noqa: F401
from schedgym.baselines.soc.common import Dag, Timeline, cpop, heft
from schedgym.envs.soc.dag import downward_rank, upward_rank
from schedgym.envs.soc.platform import TOPCUOGLU_COST, TOPCUOGLU_EDGES
from schedgym.envs.soc.types import Job, SoCInstance

ENV_ID = "schedgym/SoCDAG-v0"
SOC_BASELINES = ("heft", "heft_rt", "cpop", "etf", "met", "fifo")


def topcuoglu_dag() -> Dag:
    edges = np.array([e[:2] for e in TOPCUOGLU_EDGES])
    volume = np.array([e[2] for e in TOPCUOGLU_EDGES], float)
    return Dag(TOPCUOGLU_COST, edges, volume, np.ones((3, 3)))


def run(env, policy, instance, seed=0):
    env.reset(seed=seed, options={"instance": instance})
    policy.reset(env, seed)
    while True:
        _, _, term, trunc, info = env.step(policy.act(env))
        if term or trunc:
            return info


def test_topcuoglu_ranks():
    dag = topcuoglu_dag()
    # Paper, Table 1 (tasks n1..n10): rank_u.
    assert np.allclose(upward_rank(dag), [108, 77, 80, 80, 69, 63.333, 42.667, 35.667, 44.333,
                                          14.667], atol=1e-3)
    prio = upward_rank(dag) + downward_rank(dag)
    assert np.allclose(prio[[0, 1, 8, 9]], 108)  # the critical path n1, n2, n9, n10


def test_heft_reproduces_the_paper_schedule():
    s = heft(topcuoglu_dag())
    assert s.makespan == 80
    assert s.order == [0, 2, 3, 1, 4, 5, 8, 6, 7, 9]  # n1 n3 n4 n2 n5 n6 n9 n7 n8 n10
    # Fig. 4(a): n1,n3,n5,n7 on P3; n4,n6,n9,n10 on P2; n2,n8 on P1 (0-based processors).
    assert s.proc.tolist() == [2, 0, 2, 1, 2, 1, 2, 0, 1, 1]
    assert s.start.tolist() == [0, 27, 9, 18, 28, 26, 38, 57, 56, 73]


def test_cpop_reproduces_the_paper_makespan():
    s = cpop(topcuoglu_dag())
    assert s.makespan == 86
    assert set(s.proc[[0, 1, 8, 9]].tolist()) == {1}  # critical path on P2 (16+19+12+7 = 54)


def test_insertion_fills_an_idle_gap():
    tl = Timeline(1)
    tl.add(0, 0.0, 5.0)
    tl.add(0, 10.0, 20.0)
    assert tl.earliest_start(0, 1.0, 4.0, insertion=True) == 5.0
    assert tl.earliest_start(0, 1.0, 6.0, insertion=True) == 20.0
    assert tl.earliest_start(0, 1.0, 4.0, insertion=False) == 20.0


@pytest.mark.parametrize("name, makespan", [("heft", 80.0), ("cpop", 86.0)])
def test_env_replay_of_planners_matches_the_paper(name, makespan):
    env = gym.make(ENV_ID, platform="unrelated-3", mode="static", window=10)
    info = run(env, baselines.make(ENV_ID, name), "topcuoglu-fig2")
    assert info["makespan"] == makespan
    if name == "heft":
        assert env.unwrapped.state.task_pe.tolist() == [2, 0, 2, 1, 2, 1, 2, 0, 1, 1]


def _independent(cost) -> SoCInstance:
    cost = np.asarray(cost, float)
    job = Job("hand", cost, np.zeros((0, 2), np.int64), np.zeros(0), np.full(len(cost), -1))
    return SoCInstance("hand", f"unrelated-{cost.shape[1]}", (job,), np.zeros(1))


# Worked example: three independent tasks on two processors.
#   T0 = [10, 10], T1 = [1, 20], T2 = [1, 20]   (ranks 10, 10.5, 10.5)
# FIFO (T0, T1, T2 each to its earliest finish): T0->P0 [0,10], T1->P0 [10,11], T2->P0 [11,12]: 12.
# ETF, DS3's earliest-finish pair: T1->P0 [0,1], T2->P0 [1,2], T0->P1 [0,10]: 10.
# HEFT_RT (rank order T1, T2, T0, earliest finish): the same as ETF: 10.
# ETF, Hwang's earliest-start pair (ties: larger rank): T1->P0 [0,1], T2->P1 [0,20],
#   T0->P0 [1,11]: 20.
# MET (fastest processor, ignoring load): all on P0: T0 [0,10], T1 [10,11], T2 [11,12]: 12.
EXAMPLE = [[10, 10], [1, 20], [1, 20]]
# A second example where MET's load blindness shows: T0..T2 = [2, 5]; MET stacks all on P0: 6,
# FIFO sends T2 to P1: 5.
EXAMPLE_MET = [[2, 5], [2, 5], [2, 5]]


@pytest.mark.parametrize("name, kwargs, cost, makespan", [
    ("fifo", {}, EXAMPLE, 12.0),
    ("etf", {}, EXAMPLE, 10.0),
    ("etf", {"criterion": "start"}, EXAMPLE, 20.0),
    ("heft_rt", {}, EXAMPLE, 10.0),
    ("met", {}, EXAMPLE, 12.0),
    ("met", {}, EXAMPLE_MET, 6.0),
    ("fifo", {}, EXAMPLE_MET, 5.0),
])
def test_list_schedulers_on_worked_examples(name, kwargs, cost, makespan):
    env = gym.make(ENV_ID, platform="unrelated-2", mode="static", window=3)
    info = run(env, baselines.make(ENV_ID, name, **kwargs), _independent(cost))
    assert info["makespan"] == makespan


def test_registry_lists_soc_baselines():
    avail = baselines.names(ENV_ID)
    assert set(SOC_BASELINES) | {"random"} <= set(avail)


@pytest.mark.parametrize("name", SOC_BASELINES)
@pytest.mark.parametrize("pe_selection", ["pointer", "eft"])
def test_baselines_finish_streaming_episodes_with_legal_actions(name, pe_selection):
    env = gym.make(ENV_ID, injection_rate=40.0, noise=0.2, n_jobs=12, pe_selection=pe_selection)
    pol = baselines.make(ENV_ID, name)
    env.reset(seed=1)
    pol.reset(env, 1)
    steps = 0
    while True:  # env.step raises ValueError on any illegal action
        _, _, term, trunc, info = env.step(pol.act(env))
        steps += 1
        if term or trunc:
            break
    assert info["jobs_completed"] == 12 and steps < 5000


def test_heft_streaming_beats_random_by_far():
    st = gym.make(ENV_ID).unwrapped.load_instance_set("stream-medium-noise0")
    env = gym.make(ENV_ID, **st.env_kwargs)
    inst = st.instances[0]
    heft_info = run(env, baselines.make(ENV_ID, "heft"), inst)
    rand_info = run(env, baselines.make(ENV_ID, "random"), inst)
    assert heft_info["avg_job_duration"] < 0.2 * rand_info["avg_job_duration"]
