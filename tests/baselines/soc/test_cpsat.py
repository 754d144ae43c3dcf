"""The ``cpsat`` SoC baseline: CP-SAT's plan on mean latencies, replayed in the env."""

from __future__ import annotations

import gymnasium as gym
import pytest

import schedgym  # noqa: F401  (registers the envs)
from schedgym import baselines
from schedgym.data.instance_sets import load_named
from schedgym.envs.soc.platform import topcuoglu_instance
from schedgym.policies.evaluation import run_episode

ENV_ID = "schedgym/SoCDAG-v0"


def test_topcuoglu_example_replays_the_proven_optimum():
    env = gym.make(ENV_ID, platform="unrelated-3", mode="static", window=16)
    scheduler = baselines.make(ENV_ID, "cpsat")
    result = run_episode(env, scheduler, topcuoglu_instance(), 0)
    assert scheduler.report.status == "optimal"
    # The replay realises the plan: the makespan is the proven optimum, below HEFT's 80.
    assert result.metrics["makespan"] == pytest.approx(scheduler.report.bound)
    assert result.metrics["makespan"] < 80.0
    heft = run_episode(env, baselines.make(ENV_ID, "heft"), topcuoglu_instance(), 0)
    assert heft.metrics["makespan"] == 80.0


@pytest.mark.parametrize("index", [0, 2, 7])
def test_static_apps_replay_is_no_worse_than_the_plan(index):
    instance_set = load_named("soc", "static-apps")
    env = gym.make(ENV_ID, **instance_set.env_kwargs)
    scheduler = baselines.make(ENV_ID, "cpsat", deterministic_time=2.0)
    instance = instance_set.instances[index]
    result = run_episode(env, scheduler, instance, 0)
    assert result.metrics["jobs_completed"] == len(instance.jobs)
    assert result.metrics["avg_job_duration"] <= scheduler.report.objective + 1e-6
    assert result.metrics["avg_job_duration"] >= scheduler.report.bound - 1e-6
    if scheduler.report.status == "optimal":
        heft = run_episode(env, baselines.make(ENV_ID, "heft"), instance, 0)
        assert result.metrics["avg_job_duration"] <= heft.metrics["avg_job_duration"] + 1e-6


def test_refuses_what_it_cannot_plan():
    with pytest.raises(ValueError, match="deterministic_time must be > 0"):
        baselines.make(ENV_ID, "cpsat", deterministic_time=0)
    env = gym.make(ENV_ID, n_jobs=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="cpsat plans static instances"):
        baselines.make(ENV_ID, "cpsat").reset(env, 0)
