"""SchedGym schedulers inside Vidur (the ``vidur`` extra; skipped when Vidur is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vidur", reason="the vidur extra is not installed")

from schedgym import baselines  # noqa: E402
from schedgym.envs.llm.fastsim import run_headless  # noqa: E402
from schedgym.envs.llm.generator import sample_instance  # noqa: E402
from schedgym.envs.llm.vidur import PolicyDriver, run_native, run_schedgym  # noqa: E402
from schedgym.envs.llm.vidur.predictor import (CostModelPredictor,  # noqa: E402
                                                CostModelPredictorConfig)
from schedgym.envs.llm.vidur.scheduler import check_mirror  # noqa: E402
from schedgym.envs.validation import ArgumentError  # noqa: E402
from tests.envs.llm.helpers import A100, tiny_memory, workload  # noqa: E402

ENV_ID = "schedgym/LLMServe-v0"


class _Request:
    def __init__(self, prefill_complete: bool) -> None:
        self.is_prefill_complete = prefill_complete


class _Batch:
    def __init__(self, rows: list[tuple[bool, int, int]]) -> None:
        self.requests = [_Request(done) for done, _, _ in rows]
        self.num_q_tokens = [q for _, q, _ in rows]
        self.num_kv_tokens = [kv for _, _, kv in rows]


def test_the_predictor_prices_a_batch_as_the_cost_model() -> None:
    # A chunk of 300 tokens after 200 cached, and two decodes whose Vidur KV counts (1001, 51)
    # are one above the contexts they attend to (1000, 50).
    batch = _Batch([(False, 300, 500), (True, 1, 1001), (True, 1, 51)])
    seconds = CostModelPredictor(CostModelPredictorConfig()).get_execution_time(batch).total_time
    assert seconds == A100.iteration_ms(300, 300.0 * (2 * 200 + 300), 2, 1050, 3) / 1000.0
    # By hand: max(9, 2.3 + 0.0646 × 302) + 1.7e-6 × 210,000 + 4e-4 × 1,050 + 0.04 × 3 + 1.
    assert seconds == pytest.approx((21.8092 + 0.357 + 0.42 + 0.12 + 1.0) / 1000.0)


def test_an_empty_batch_idles_the_idle_step() -> None:
    predictor = CostModelPredictor(CostModelPredictorConfig(idle_step=0.25))
    assert predictor.get_execution_time(_Batch([])).total_time == 0.25


@pytest.mark.parametrize("name", ["fcfs", "sarathi"])
def test_a_baseline_in_vidur_schedules_as_in_schedgym(name) -> None:
    # A small KV cache forces preemptions and recomputation, the hardest path to mirror.
    preset = tiny_memory(120)
    instance = sample_instance(np.random.default_rng(1), num_requests=40, rate=6.0,
                               max_model_len=1500)
    result = run_schedgym(instance, baselines.make(ENV_ID, name), preset=preset)
    check_mirror(result.scheduler)
    sim, _ = run_headless(instance, baselines.make(ENV_ID, name), preset=preset)
    assert result.restarts.sum() > 0 and np.array_equal(result.restarts, sim.state.restarts)
    assert result.batches == sim.iterations
    np.testing.assert_allclose(result.first_token, sim.state.first_token, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.finish, sim.state.finish, rtol=1e-9, atol=1e-9)


def test_vidurs_own_sarathi_matches_schedgyms_without_memory_pressure() -> None:
    instance = sample_instance(np.random.default_rng(2), num_requests=60, rate=3.0)
    result = run_native(instance, "sarathi", chunk_size=512)
    sim, _ = run_headless(instance, baselines.make(ENV_ID, "sarathi"))
    np.testing.assert_allclose(result.first_token, sim.state.first_token, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.finish, sim.state.finish, rtol=1e-9, atol=1e-9)


def test_vidurs_vllm_packs_prefills_by_their_sum_where_schedgym_pads() -> None:
    # Three prompts at once: 3,000 + 500 + 500 = 4,000 ≤ 4,096 fit one Vidur prefill batch, while
    # the padded size 2 × 3,000 exceeds 4,096, so SchedGym's FCFS prefills the first alone.
    instance = workload([0.0, 0.0, 0.0], [3000, 500, 500], [4, 4, 4])
    vidur = run_native(instance, "vllm")
    sim, _ = run_headless(instance, baselines.make(ENV_ID, "fcfs"))
    assert len(set(vidur.first_token.tolist())) == 1
    assert sim.state.first_token[1] > sim.state.first_token[0]


@pytest.mark.parametrize("name", ["vllm", "sarathi"])
def test_vidurs_own_schedulers_fail_their_assertion_on_a_recompute(name) -> None:
    # Why the cross-check keeps Vidur's own schedulers below preemption (README): Request.restart
    # keeps the first pass's stage token count, which the recomputed prefill then overruns.
    instance = sample_instance(np.random.default_rng(1), num_requests=40, rate=6.0,
                               max_model_len=1500)
    with pytest.raises(AssertionError):
        run_native(instance, name, preset=tiny_memory(120))


def test_a_stand_in_for_a_missing_package_fails_loudly_when_used() -> None:
    import importlib

    from schedgym.envs.llm.vidur import _shims

    missing = _shims.install()
    if not missing:
        pytest.skip("every package the shims stand in for is installed")
    module = importlib.import_module(f"{missing[0]}.some.submodule")
    assert not module.anything  # reads as absent (``if wandb.run:``)
    with pytest.raises(ImportError, match=f"{missing[0]}.some.submodule.anything is not installed"):
        module.anything()


def test_bad_arguments_are_refused_by_name() -> None:
    instance = workload([0.0], [10], [2])
    with pytest.raises(ArgumentError, match="scheduler"):
        run_schedgym(instance, object())
    with pytest.raises(ArgumentError, match="token_budget"):
        run_schedgym(instance, baselines.make(ENV_ID, "fcfs"), token_budget=0)
    with pytest.raises(ValueError, match="scheduler"):
        run_native(instance, "orca")


def test_an_onnx_policy_makes_every_decision(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    import gymnasium as gym

    from schedgym.policies import runtime
    from schedgym.policies.export import export_net
    from schedgym.policies.pointer import PointerNet, net_kwargs_for

    kwargs = {"window": 8, "max_batch_size": 16}
    env = gym.make(ENV_ID, **kwargs)
    spec = env.unwrapped.spec_graph
    torch.manual_seed(0)  # an untrained policy whose argmax picks and runs (some preempt forever)
    net = PointerNet(**net_kwargs_for(env.observation_space, spec.node_features), width=16,
                     depth=1).eval()
    export_net(net, tmp_path / "llm.onnx", spec.metadata(), ENV_ID, kwargs)
    policy = runtime.load(tmp_path / "llm.onnx", env_id=ENV_ID)
    instance = workload([0.0, 0.0, 0.1, 0.3, 0.35, 0.6], [120, 800, 40, 300, 64, 500],
                        [6, 3, 9, 2, 5, 4])
    driver = PolicyDriver(policy, env.unwrapped, record=True)
    result = run_schedgym(instance, driver, record=True, **kwargs)
    scheduler = result.scheduler
    check_mirror(scheduler)
    assert np.all(np.isfinite(result.finish))
    assert len(driver.actions) == scheduler.decisions > 0
    for obs, action in zip(driver.observations, driver.actions):  # the policy's own argmax
        assert action == runtime.choose(policy.logits(obs), obs)
    # The prefill chunks Vidur ran are exactly the requests the policy picked, in its order, and
    # a preempted request never decodes in the batch formed after its preemption.
    picked = [row for kind, row in driver.ops if kind == "pick"]
    assert len(picked) >= instance.num_requests
    assert [row for _, _, picks in scheduler.history for row in picks] == picked
    assert sum(kind == "run" for kind, _ in driver.ops) <= len(scheduler.history)
