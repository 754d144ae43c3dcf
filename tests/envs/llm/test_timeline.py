"""Tests of the LLM timeline picture (:mod:`envs.llm.timeline`): the sim's iteration log on a
hand-made workload with known batches, token totals that the time bins conserve, one CDF point
per request and per token gap, for a replica and for a cluster."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.timeline import TBT_GID, TTFT_GID, draw_timeline, timeline
from schedgym.policies.evaluation import run_episode
from tests.envs.llm.helpers import A100, fcfs_run, workload


def _cdf_points(figure, gid: str) -> int:
    (line,) = [line for axis in figure.axes for line in axis.lines if line.get_gid() == gid]
    return len(line.get_xdata())


def _totals(data) -> tuple[float, float]:
    width = np.diff(data.edges)
    return float((data.prefill_rate * width).sum()), float((data.decode_rate * width).sum())


def test_the_log_holds_each_iterations_batch():
    # Both prompts fit one iteration (150 tokens), which gives both first tokens; request 1
    # (one output token) is then done, request 0 decodes its two other tokens alone.
    sim = LLMSim(workload([0.0, 0.0], [100, 50], [3, 1]), A100, 128, 4096, 0.01, 64,
                 compiled=False, record=True)
    fcfs_run(sim)
    log = np.asarray(sim.iteration_log)
    assert log[:, 2].tolist() == [150, 0, 0] and log[:, 3].tolist() == [0, 1, 1]
    assert (log[1:, 0] == log[:-1, 1]).all() and log[-1, 1] == sim.state.time
    assert log[-1, 4] == 0  # the last token freed every block
    assert log[0, 4] == 7  # request 0's 100 tokens in blocks of 16; request 1 freed its 4
    data = timeline([sim])
    assert _totals(data) == pytest.approx((150.0, 2.0))
    np.testing.assert_allclose(data.ttft, [log[0, 1], log[0, 1]])
    np.testing.assert_allclose(data.tbt, np.diff(log[:, 1]))
    figure = draw_timeline([sim])
    assert _cdf_points(figure, TTFT_GID) == 2 and _cdf_points(figure, TBT_GID) == 2


def test_the_log_needs_the_numpy_reference_and_is_off_by_default():
    instance = workload([0.0], [10], [2])
    with pytest.raises(ValueError, match="compiled=False"):
        LLMSim(instance, A100, 128, 4096, 0.01, 64, compiled=True, record=True)
    sim = fcfs_run(LLMSim(instance, A100, 128, 4096, 0.01, 64, compiled=False))
    assert sim.iteration_log is None
    with pytest.raises(ValueError, match="record=True"):
        timeline([sim])


@pytest.mark.parametrize("env_id,policy,kwargs", [
    ("schedgym/LLMServe-v0", "sarathi", {"num_requests": 40}),
    ("schedgym/LLMCluster-v0", "round_robin", {"num_requests": 60, "replicas": 3}),
])
def test_an_episode_conserves_its_tokens(env_id, policy, kwargs):
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    env.reset(seed=5)
    replica = env_id.endswith("Serve-v0")
    instance = (env.unwrapped.sim if replica else env.unwrapped.cluster).instance
    run_episode(env, baselines.make(env_id, policy), instance, seed=5)
    sims = [env.unwrapped.sim] if replica else env.unwrapped.cluster.replicas
    assert all(sim.done for sim in sims) and sum(sim.preemptions for sim in sims) == 0
    data = timeline(sims)
    # Without preemptions every prompt is prefilled once and every later token decoded once.
    decodes = int((instance.output_tokens - 1).sum())
    assert _totals(data) == pytest.approx((float(instance.prompt_tokens.sum()), float(decodes)))
    assert len(data.kv_time) == len(sims) and all((s >= 0).all() and (s <= 1).all()
                                                  for s in data.kv_share)
    figure = draw_timeline(sims)
    assert _cdf_points(figure, TTFT_GID) == instance.num_requests
    assert _cdf_points(figure, TBT_GID) == decodes
