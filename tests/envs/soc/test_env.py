"""Tests of ``schedgym/SoCDAG-v0``: the Gymnasium contract, the simulation's bookkeeping,
common random numbers, the window, and the shipped data and test sets."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.envs.soc import generator
from schedgym.envs.soc.env import WAIT_NODE, SoCDAGEnv
from schedgym.envs.soc.platform import ds3_app, ds3_app_names, get_platform, topcuoglu_instance
from schedgym.envs.soc.types import DONE, READY, Job, SoCInstance

ENV_ID = "schedgym/SoCDAG-v0"


def rollout(env: gym.Env, seed: int, options=None, policy_seed: int = 0):
    """Random masked episode; returns (actions, rewards, final info)."""
    rng = np.random.default_rng(policy_seed)
    obs, info = env.reset(seed=seed, options=options)
    actions, rewards = [], []
    while True:
        a = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        obs, r, term, trunc, info = env.step(a)
        actions.append(a)
        rewards.append(r)
        if term or trunc:
            return actions, rewards, info


def small_instance(cost, edges=(), volume=(), arrival=(0.0,)) -> SoCInstance:
    cost = np.asarray(cost, float)
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    job = Job("hand", cost, e, np.asarray(volume, float), np.full(len(cost), -1))
    return SoCInstance("hand", f"unrelated-{cost.shape[1]}", (job,) * len(arrival),
                       np.asarray(arrival, float))


@pytest.mark.parametrize("kwargs", [{}, {"pe_selection": "eft", "noise": 0.2},
                                    {"mode": "static", "n_jobs": 2}])
def test_check_env(kwargs):
    check_env(gym.make(ENV_ID, **kwargs).unwrapped, skip_render_check=True)


def test_action_space_samples_legal_actions():
    env = gym.make(ENV_ID, n_jobs=5)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    assert env.action_space.sample() == WAIT_NODE  # unmasked: the action legal in every state
    for _ in range(3000):
        obs, _, term, trunc, _ = env.step(env.action_space.sample(mask=obs["action_mask"]))
        if term or trunc:
            break
    assert term


def test_determinism_and_pickle_round_trip():
    env = gym.make(ENV_ID, noise=0.2)
    acts, rews, info = rollout(env, seed=3)
    obs, _ = env.reset(seed=3)
    for k, a in enumerate(acts):
        if k == len(acts) // 2:
            clone = pickle.loads(pickle.dumps(env.unwrapped))
            rest = acts[k:]
        obs, r, term, trunc, info2 = env.step(a)
        assert r == rews[k]
    assert info2 == info
    for a in rest:
        obs_c, r, term, _, info_c = clone.step(a)
    assert term and info_c == info


def test_streaming_return_is_minus_total_time_in_system():
    env = gym.make(ENV_ID, injection_rate=40.0, n_jobs=15)
    _, rewards, info = rollout(env, seed=1)
    assert info["jobs_completed"] == 15
    assert np.isclose(-sum(rewards), info["avg_job_duration"] * 15)
    assert np.isclose(-sum(rewards), info["total_time_in_system"])
    assert info["throughput"] == pytest.approx(15 / (info["makespan"] / 1000))


def test_static_return_is_minus_makespan():
    env = gym.make(ENV_ID, platform="unrelated-3", mode="static", window=10)
    _, rewards, info = rollout(env, seed=0, options={"instance": "topcuoglu-fig2"})
    assert np.isclose(-sum(rewards), info["makespan"])
    assert info["makespan"] >= 80.0 - 1e-9  # HEFT's 80 is a good schedule; random is no better


def test_illegal_actions_raise_and_wait_rule():
    env = gym.make(ENV_ID, platform="unrelated-3", mode="static", window=10)
    obs, _ = env.reset(seed=0, options={"instance": topcuoglu_instance()})
    soc = env.unwrapped
    # At time 0 only the entry task is ready; WAIT is legal everywhere, and with nothing
    # running or arriving it just idles (costing time in the static makespan reward).
    assert np.flatnonzero(obs["action_mask"]).tolist() == [WAIT_NODE, soc.task_node(0)]
    _, r, *_ = env.step(WAIT_NODE)
    assert soc.state.time == soc.idle_step and r == -soc.idle_step
    env.reset(seed=0, options={"instance": topcuoglu_instance()})
    with pytest.raises(ValueError):
        env.step(soc.pe_node(0))  # a PE in phase 0
    env.step(soc.task_node(0))
    obs, r, *_ = env.step(WAIT_NODE)  # in phase 1, WAIT drops the selection and lets time pass
    assert obs["globals"][0] == 0.0 and soc.state.selected_slot == -1
    assert soc.state.time == soc.idle_step and r == -soc.idle_step
    env.reset(seed=0, options={"instance": topcuoglu_instance()})
    obs, *_ = env.step(soc.task_node(0))
    assert obs["globals"][0] == 1.0 and obs["action_mask"][soc.pe_node(0)] == 1
    with pytest.raises(ValueError):
        env.step(soc.task_node(1))  # a task in phase 1
    obs, *_ = env.step(soc.pe_node(2))  # T0 on P2 [0, 9]
    assert soc.state.task_status[0] != READY
    # Nothing else is ready, so the env advanced to T0's finish at 9 and made 5 tasks ready.
    assert soc.state.time == 9.0
    assert (soc.state.task_status == READY).sum() == 5


def test_incapable_pe_is_masked_and_data_transfer_times():
    # Task 1 cannot run on PE 1; edge volume 10 over unit bandwidth.
    inst = small_instance([[2.0, 1.0], [3.0, np.inf]], edges=[(0, 1)], volume=[10.0])
    env = gym.make(ENV_ID, platform="unrelated-2", mode="static", window=4)
    env.reset(seed=0, options={"instance": inst})
    soc = env.unwrapped
    env.step(soc.task_node(0))
    env.step(soc.pe_node(1))  # T0 on PE1, finishes at 1
    obs, *_ = env.step(soc.task_node(1))
    assert obs["action_mask"][soc.pe_node(0)] == 1 and obs["action_mask"][soc.pe_node(1)] == 0
    est, eft = soc.eft_per_pe(1)
    assert est[0] == 1.0 + 10.0 and eft[0] == 14.0 and np.isinf(eft[1])
    *_, term, _, info = env.step(soc.pe_node(0))
    assert term and info["makespan"] == 14.0


def test_eft_mode_picks_earliest_finish_pe():
    inst = small_instance([[4.0, 2.0]])
    env = gym.make(ENV_ID, platform="unrelated-2", mode="static", window=2, pe_selection="eft")
    env.reset(seed=0, options={"instance": inst})
    *_, term, _, info = env.step(env.unwrapped.task_node(0))
    assert term and info["makespan"] == 2.0


def test_noise_is_common_across_policies_and_truncated_positive():
    st = SoCDAGEnv.load_instance_set("stream-light-noise0.2")
    env = gym.make(ENV_ID, **st.env_kwargs)
    env.reset(seed=5, options={"instance": st.instances[0]})
    first = [f.copy() for f in env.unwrapped.sim.noise]
    rollout(env, seed=5, options={"instance": st.instances[0]}, policy_seed=9)
    again = env.unwrapped.sim.noise
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    allf = np.concatenate(first)
    assert (allf > 0).all() and 0.1 < allf.std() < 0.3


def test_full_window_queues_jobs_outside():
    # Window of 34 slots: only one WiFi RX job fits at a time.
    jobs = (ds3_app("wifi_rx"),) * 3
    inst = SoCInstance("burst", "ds3", jobs, np.zeros(3))
    env = gym.make(ENV_ID, window=34)
    obs, _ = env.reset(seed=0, options={"instance": inst})
    assert env.unwrapped.state.n_outside == 2 and obs["node_mask"].sum() == 1 + 16 + 34
    assert obs["globals"][2] == pytest.approx(0.2)
    _, rewards, info = rollout(env, seed=0, options={"instance": inst})
    assert info["jobs_completed"] == 3
    with pytest.raises(ValueError, match="window"):
        gym.make(ENV_ID, window=20).reset(seed=0, options={"instance": inst})


def test_observation_in_space_and_edges_valid():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=2)
    soc = env.unwrapped
    for _ in range(200):
        assert env.observation_space.contains(obs)
        m = obs["edge_mask"].astype(bool)
        assert obs["node_mask"][obs["edge_index"][:, m]].all()  # edges join real nodes
        assert (obs["edge_index"][:, ~m] == 0).all() and (obs["edge_attr"][~m] == 0).all()
        valid = soc.state.task_valid
        assert (obs["node_mask"][soc.task_node(0):] == valid).all()
        obs, _, term, _, _ = env.step(env.action_space.sample())  # WAIT: legal in every state
        if soc.state.time > 0:  # then random legal actions
            obs, _, term, _, _ = env.step(env.action_space.sample(mask=obs["action_mask"]))
        if term:
            break


def test_ds3_platform_and_applications():
    plat = get_platform("ds3")
    assert plat.n_pe == 16 and np.bincount(plat.pe_kind).tolist() == [4, 4, 4, 2, 2]
    fft = plat.pe_kind == plat.kind_names.index("FFT_ACC")
    assert (plat.bandwidth[:, fft] == 10).all() and (plat.bandwidth[:, ~fft] == 1000).all()
    sizes = {name: ds3_app(name).n_tasks for name in ds3_app_names()}
    assert sizes == {"wifi_tx": 27, "wifi_rx": 34, "range_detection": 7, "sc_tx": 8,
                     "sc_rx": 8, "temporal_mitigation": 10}
    tx = ds3_app("wifi_tx")
    k = {n: i for i, n in enumerate(plat.kind_names)}
    viterbi = ds3_app("wifi_rx").cost[ds3_app("wifi_rx").task_type ==
                                      list(generator.ds3_task_types()).index("viterbi_decoder")][0]
    assert viterbi[k["A7"]] == 1828 and viterbi[k["VIT_ACC"]] == 2 and np.isinf(viterbi[k["FFT_ACC"]])
    assert np.isinf(tx.cost[0, k["FFT_ACC"]]) and tx.cost[0, k["A15"]] == 10


def test_random_dag_generator_topcuoglu_style():
    rng = np.random.default_rng(0)
    params = generator.RandomDagParams(n_tasks=50, shape=1.0, out_degree=3, ccr=2.0, beta=1.0)
    job = generator.random_dag(rng, params, "unrelated-4")
    assert job.cost.shape == (50, 4) and (job.cost > 0).all()
    assert (job.edges[:, 0] < job.edges[:, 1]).all()  # levels are consecutive: acyclic
    assert len(np.unique(job.edges, axis=0)) == len(job.edges)
    ratio = job.cost.max(1) / job.cost.min(1)
    assert ratio.max() <= 3.0 + 1e-6  # β = 1: costs within [0.5, 1.5] × w̄_i
    typed = generator.random_dag(rng, params, "ds3")
    assert typed.cost.shape == (50, 5) and (typed.task_type >= 0).all()
    # Same seed, same DAG.
    a = generator.random_dag(np.random.default_rng(7), params, "unrelated-4")
    b = generator.random_dag(np.random.default_rng(7), params, "unrelated-4")
    assert np.array_equal(a.edges, b.edges) and np.array_equal(a.cost, b.cost)


def test_env_lists_and_loads_its_instance_sets():
    # (that the files equal their recipes is tests/data/test_instance_sets.py)
    assert "static-random" in SoCDAGEnv.instance_sets() and len(SoCDAGEnv.instance_sets()) == 8
    assert SoCDAGEnv.load_instance_set("static-random").env_kwargs["platform"] == "unrelated-4"
    with pytest.raises(KeyError):
        SoCDAGEnv.load_instance_set("nope")


def test_training_sampler_differs_from_test_sets():
    env = gym.make(ENV_ID, **SoCDAGEnv.load_instance_set("stream-light-noise0").env_kwargs)
    st = SoCDAGEnv.load_instance_set("stream-light-noise0")
    test_arrivals = {tuple(np.round(i.arrival, 6)) for i in st.instances}
    for seed in range(5):
        env.reset(seed=seed)
        assert tuple(np.round(env.unwrapped.sim.arrival, 6)) not in test_arrivals


def test_all_tasks_done_at_end_and_wrong_platform_rejected():
    env = gym.make(ENV_ID, mode="static", n_jobs=2)
    rollout(env, seed=4)
    s = env.unwrapped.state
    assert s.n_done_jobs == 2 and (s.task_status[s.task_valid] == DONE).all()
    with pytest.raises(ValueError, match="platform"):
        env.reset(seed=0, options={"instance": topcuoglu_instance()})


@pytest.mark.parametrize("n_jobs", [0, -3])
def test_non_positive_n_jobs_rejected_at_construction(n_jobs):
    with pytest.raises(ValueError, match="n_jobs"):
        SoCDAGEnv(n_jobs=n_jobs)
    with pytest.raises(ValueError, match="n_jobs"):
        gym.make(ENV_ID, mode="static", n_jobs=n_jobs)
    SoCDAGEnv(n_jobs=1).reset(seed=0)  # the smallest valid workload runs


@pytest.mark.parametrize("apps", [("not_an_app",), ("random", ds3_app_names()[0]), ()])
def test_unknown_apps_rejected_at_construction(apps):
    with pytest.raises(ValueError, match="apps") as err:
        SoCDAGEnv(apps=apps)
    for name in ds3_app_names() + ("random",):
        assert name in str(err.value)


def test_valid_apps_accepted():
    SoCDAGEnv(apps=("random",), n_jobs=2).reset(seed=0)
    SoCDAGEnv(apps=ds3_app_names()[:2], n_jobs=2).reset(seed=0)


def test_named_instances_come_from_one_registry():
    from schedgym.envs.soc.platform import NAMED_INSTANCES

    for name in NAMED_INSTANCES:
        assert generator.named_instance(name).name == name
    with pytest.raises(KeyError, match="topcuoglu-fig2"):
        generator.named_instance("no-such-instance")
