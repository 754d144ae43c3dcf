"""Tests of :mod:`envs.soc.fastsim`, the compiled headless SoC core: it must reproduce the env
driven by the rule baselines exactly (same noise, admission, tie-breaking), and reject bad
input by name."""

from __future__ import annotations

import dataclasses
import inspect
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.policies.evaluation import run_episode
from schedgym.envs.soc import fastsim
from schedgym.envs.soc.env import WAIT_NODE, SoCDAGEnv
from schedgym.envs.soc.sim import draw_task_noise
from schedgym.envs.soc.types import Job

ENV_ID = "schedgym/SoCDAG-v0"

# (test set, instance indices, seeds, extra env kwargs): both static sets (the batches of
# identical applications tie on every key but the slot), light and heavy streams with and
# without noise, a window small enough that jobs queue outside it, and the one-step PE mode.
CASES = [
    ("static-random", (0, 5), (0,), {}),
    ("static-apps", (3, 6), (0,), {}),
    ("stream-light-noise0", (0,), (0,), {}),
    ("stream-heavy-noise0.2", (0,), (0, 1), {}),
    ("stream-heavy-noise0.2", (1,), (2,), {"window": 40, "edges_per_task": 1}),
    ("stream-medium-noise0.2", (2,), (3,), {"pe_selection": "eft"}),
]


def _env_episode(set_name: str, index: int, seed: int, rule: str, extra: dict):
    """The reference: the env driven by the baseline through ``run_episode``."""
    st = SoCDAGEnv.load_instance_set(set_name)
    kwargs = {**st.env_kwargs, **extra}
    env = gym.make(ENV_ID, **kwargs)
    result = run_episode(env, baselines.make(ENV_ID, rule), st.instances[index], seed)
    return st.instances[index], kwargs, result, env.unwrapped


@pytest.mark.parametrize("rule", fastsim.RULES)
@pytest.mark.parametrize("set_name,indices,seeds,extra", CASES,
                         ids=[f"{c[0]}{'-' + '-'.join(c[3]) if c[3] else ''}" for c in CASES])
def test_agrees_exactly_with_env_and_baseline(rule, set_name, indices, seeds, extra):
    for index in indices:
        for seed in seeds:
            instance, kwargs, result, env = _env_episode(set_name, index, seed, rule, extra)
            fast = fastsim.simulate(instance, rule, seed=seed, **kwargs)
            where = f"{rule} on {instance.name} seed {seed} {extra}"
            # The core never waits: the baselines must not either, or it would not be exact.
            assert WAIT_NODE not in result.actions, where
            for key, value in result.metrics.items():
                assert math.isclose(fast[key], value, rel_tol=1e-9, abs_tol=1e-9), (where, key)
            assert fast["time"] == pytest.approx(env.state.time, rel=1e-9), where
            assert fast["steps"] == len(result.actions), where
            assert fast["decisions"] == sum(job.n_tasks for job in instance.jobs), where


def test_truncation_matches_env():
    st = SoCDAGEnv.load_instance_set("stream-light-noise0.2")
    kwargs = {**st.env_kwargs, "max_steps": 301}  # odd: truncates between task and PE step
    env = gym.make(ENV_ID, **kwargs)
    result = run_episode(env, baselines.make(ENV_ID, "heft_rt"), st.instances[0], 0)
    fast = fastsim.simulate(st.instances[0], "heft_rt", seed=0, **kwargs)
    assert fast["steps"] == len(result.actions) == 301
    assert fast["decisions"] == 150
    for key, value in result.metrics.items():
        assert math.isclose(fast[key], value, rel_tol=1e-9, abs_tol=1e-9), key


def test_noise_is_drawn_like_the_env():
    """Noise changes the outcome, the seed changes the noise, and both sides see the same."""
    st = SoCDAGEnv.load_instance_set("stream-medium-noise0.2")
    instance, kwargs = st.instances[0], st.env_kwargs
    quiet = fastsim.simulate(instance, "etf", seed=0, **{**kwargs, "noise": 0.0})
    noisy = [fastsim.simulate(instance, "etf", seed=s, **kwargs) for s in (0, 1)]
    assert noisy[0]["avg_job_duration"] != quiet["avg_job_duration"]
    assert noisy[0]["avg_job_duration"] != noisy[1]["avg_job_duration"]
    env = gym.make(ENV_ID, **kwargs)
    for seed, fast in zip((0, 1), noisy):
        metrics = run_episode(env, baselines.make(ENV_ID, "etf"), instance, seed).metrics
        assert fast["avg_job_duration"] == pytest.approx(metrics["avg_job_duration"], rel=1e-9)


@pytest.mark.parametrize("sigma", [0.0, 0.2, 1.0])
def test_shared_noise_draw_matches_per_job_resampling(sigma):
    """``draw_task_noise`` draws all jobs at once unless a factor needs a resample; it must
    give the stream of the per-job definition (resamples right after each job's draw)."""
    sizes = [7, 1, 12, 30, 4] * 4
    for seed in range(20):
        reference_rng = seeding.np_random(seed)[0]
        expected = []
        for n in sizes:
            f = np.ones(n)
            if sigma > 0:
                f = reference_rng.normal(1.0, sigma, n)
                while (bad := f <= 0).any():
                    f[bad] = reference_rng.normal(1.0, sigma, int(bad.sum()))
            expected.append(f)
        rng = seeding.np_random(seed)[0]
        got = draw_task_noise(rng, sizes, sigma)
        np.testing.assert_array_equal(got, np.concatenate(expected))
        assert (got > 0).all()
        assert rng.random() == reference_rng.random()  # the generator ends in the same state


def test_unknown_rule_raises_with_choices():
    with pytest.raises(ValueError, match=r"rule must be one of 'fifo', 'heft_rt', 'etf', 'met', "
                                         r"got 'heft_magic'"):
        fastsim.simulate("topcuoglu-fig2", "heft_magic", platform="unrelated-3")


@pytest.mark.parametrize("kwargs,match", [
    ({"mode": "batch"}, "mode"),
    ({"pe_selection": "best"}, "pe_selection"),
    ({"noise": -0.1}, "noise"),
    ({"windows": 64}, r"'windows'.*known"),
    ({"injection_rate": 0}, "injection_rate"),
    ({"platform": "ds3"}, "platform"),
    ({"window": 5}, "does not fit window=5"),
])
def test_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastsim.simulate("topcuoglu-fig2", "fifo", **{"platform": "unrelated-3", **kwargs})


def test_a_job_without_tasks_is_refused_by_env_and_core():
    """A job with no tasks could never complete: both must refuse it rather than run forever."""
    st = SoCDAGEnv.load_instance_set("stream-light-noise0")
    inst = st.instances[0]
    kinds = inst.jobs[0].cost.shape[1]
    empty = Job(name="empty", cost=np.zeros((0, kinds)), edges=np.zeros((0, 2), np.int64),
                volume=np.zeros(0), task_type=np.zeros(0, np.int64))
    bad = dataclasses.replace(inst, jobs=(empty,) + inst.jobs[1:])
    with pytest.raises(ValueError, match="'empty' has no tasks"):
        fastsim.simulate(bad, "fifo", seed=0, **st.env_kwargs)
    env = gym.make("schedgym/SoCDAG-v0", **st.env_kwargs)
    with pytest.raises(ValueError, match="'empty' has no tasks"):
        env.reset(seed=0, options={"instance": bad})


NAN, INF = float("nan"), float("inf")
# (argument, bad value): NaN, inf, 0, negative, wrong type, bool for int, out of range, for the
# arguments the core uses and the env arguments it only accepts (checked alike).
BAD_ENV_ARGUMENTS = [
    ("noise", NAN), ("noise", INF), ("noise", -0.1), ("noise", True), ("noise", "0.1"),
    ("window", 0), ("window", -8), ("window", 64.0), ("window", True), ("window", NAN),
    ("window", 10**7), ("edges_per_task", 0), ("edges_per_task", False), ("max_steps", 0),
    ("max_steps", -1), ("max_steps", 1.5), ("max_steps", True), ("mode", "batch"), ("mode", 1),
    ("pe_selection", "best"), ("platform", "unrelated-0"), ("platform", 3),
    ("injection_rate", NAN), ("injection_rate", INF), ("injection_rate", 0),
    ("injection_rate", -1.0), ("injection_rate", True), ("idle_step", NAN), ("idle_step", 0.0),
    ("idle_step", -1.0), ("time_scale", NAN), ("time_scale", 0.0), ("time_scale", INF),
    ("reward_scale", NAN), ("reward_scale", 0.0), ("n_jobs", 0), ("n_jobs", True),
    ("n_jobs", 2.0), ("apps", "random"), ("dag_params", {"n_tasks": 0}),
    ("dag_params", {"ccr": NAN}),
]


@pytest.mark.parametrize("name,value", BAD_ENV_ARGUMENTS, ids=lambda v: repr(v))
def test_bad_env_arguments_are_refused_with_the_envs_message(name, value):
    kwargs = {"platform": "unrelated-3", name: value}
    with pytest.raises(ValueError) as core:
        fastsim.simulate("topcuoglu-fig2", "fifo", **kwargs)
    with pytest.raises(ValueError) as env:
        SoCDAGEnv(**kwargs)  # not gym.make, which appends to a TypeError's message
    assert str(core.value) == str(env.value)
    assert name in str(core.value)


@pytest.mark.parametrize("seed", [-1, 1.0, True, NAN, "0"], ids=repr)
def test_a_bad_seed_is_refused_by_name(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        fastsim.simulate("topcuoglu-fig2", "fifo", platform="unrelated-3", seed=seed)


def test_the_cores_defaults_are_the_envs():
    core = inspect.signature(fastsim.simulate).parameters
    env = inspect.signature(SoCDAGEnv).parameters
    shared = [name for name in core if name in env]
    assert len(shared) == 7 and all(core[n].default == env[n].default for n in shared)
