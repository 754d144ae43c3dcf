"""The capacity search's episode runner: baselines headless, anything else through the env."""

import numpy as np

from schedgym import baselines
from schedgym.envs.llm.capacity import run_metrics
from schedgym.envs.llm.fastsim import headless_driver
from schedgym.envs.llm.generator import sample_instance

ENV = "schedgym/LLMServe-v0"


class EnvOnly:
    """A baseline seen only through ``reset``/``act``, as a learned policy is (no headless path)."""

    def __init__(self, inner):
        self.inner = inner

    def reset(self, env, seed=None):
        self.inner.reset(env, seed=seed)

    def act(self, env):
        return self.inner.act(env)


def test_a_scheduler_without_a_headless_path_runs_through_the_env_with_the_same_metrics():
    instance = sample_instance(np.random.default_rng(5), workload="conversation", num_requests=40, rate=4.0)
    proxy = EnvOnly(baselines.make(ENV, "sarathi"))
    assert headless_driver(proxy) is None
    through_env = run_metrics(instance, proxy, seed=0)
    headless = run_metrics(instance, baselines.make(ENV, "sarathi"), seed=0)
    for key in ("slo_attainment", "ttft_p99", "tbt_p99", "goodput_tokens", "preemptions"):
        assert through_env[key] == headless[key], key
    assert 0.0 < headless["slo_attainment"] <= 1.0
