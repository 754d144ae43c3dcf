"""Tests of the LLM headless path (:mod:`envs.llm.fastsim`) and of the compiled iteration kernel
of :mod:`envs.llm.sim`: the headless runner must reproduce the env driven by the same baseline,
and the kernel the numpy reference, bit for bit (floats compared by their bytes)."""

from __future__ import annotations

import dataclasses
import pickle

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.data.instance_sets import load_named
from schedgym.envs.llm.cost import PRESETS, get_preset
from schedgym.envs.llm.env import LLMServeEnv
from schedgym.envs.llm.fastsim import run_headless
from schedgym.envs.llm.sim import RUN, LLMSim, apply, round_robin_window
from schedgym.envs.llm.types import LLMInstance

ENV_ID = "schedgym/LLMServe-v0"
BATCH_SCHEDULERS = tuple(name for name in baselines.names(ENV_ID) if name != "random")
# A GPU with room for 536 blocks (8,576 tokens): a few long requests fill it, so decodes
# preempt each other and recomputed requests come back (every path of the memory rules).
SMALL_GPU = dataclasses.replace(PRESETS["llama2-7b-a100"], name="small-kv", gpu_memory_gb=20.0)
STATE_FIELDS = ("status", "prefilled", "prefill_target", "generated", "kv_blocks", "admitted_at", "first_token",
                "last_token", "finish", "restarts", "goodput_tokens", "tenant_service", "picked")
PER_REQUEST = ("arrival", "prompt_tokens", "output_tokens", "max_new_tokens", "tenant", "ttft_slo", "tpot_slo")


def _first_requests(set_name: str, count: int) -> LLMInstance:
    """The first ``count`` requests of a shipped test set's first instance."""
    instance = load_named("llm", set_name).instances[0]
    return dataclasses.replace(instance, **{field: getattr(instance, field)[:count] for field in PER_REQUEST},
                               name=f"{instance.name}[:{count}]")


# (case id, instance, env kwargs): near saturation; four tenants with mixed SLOs (fairness
# measure, VTC), also with a window of 4 that their queue outgrows (the round-robin window); a
# small KV cache under the heaviest load (preemption and recomputation).
CASES = {
    "conv-rate3.5": (lambda: _first_requests("conv-rate3.5", 100), {}),
    "tenants-flood": (lambda: _first_requests("tenants-flood", 100), {}),
    "tenants-window4": (lambda: _first_requests("tenants-flood", 100), {"window": 4}),
    "small-kv": (lambda: _first_requests("conv-rate4", 50), {"preset": SMALL_GPU}),
}


def _same(a, b) -> bool:
    """Exact equality; floats bit for bit (NaN equals NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _assert_same_sim(expected: LLMSim, actual: LLMSim, where: str) -> None:
    for key, value in expected.metrics().items():
        assert _same(value, actual.metrics()[key]), (where, key)
    for field in STATE_FIELDS:
        assert _same(getattr(expected.state, field), getattr(actual.state, field)), (where, field)
    assert _same(expected.first_scheduled, actual.first_scheduled), where
    assert _same(expected._gaps[:expected._gap_count], actual._gaps[:actual._gap_count]), where
    assert (expected.queue, expected.running, expected.state.time) == (actual.queue, actual.running,
                                                                       actual.state.time), where


@pytest.mark.parametrize("name,case", [("fcfs", "conv-rate3.5"), ("sarathi", "conv-rate3.5"), ("srtf", "small-kv"),
                                       ("vtc", "tenants-flood"), ("past_future", "conv-rate3.5"),
                                       ("static", "tenants-flood"), ("vtc", "tenants-window4"),
                                       ("static", "tenants-window4"),
                                       ("sarathi", "tenants-window4")])
def test_headless_equals_env_and_baseline(name, case):
    make_instance, kwargs = CASES[case]
    instance = make_instance()
    env = gym.make(ENV_ID, **kwargs)
    scheduler = baselines.make(ENV_ID, name)
    env.reset(seed=0, options={"instance": instance})
    scheduler.reset(env, seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(scheduler.act(env))
        steps += 1
        done = terminated or truncated
    sim, headless_steps = run_headless(instance, baselines.make(ENV_ID, name), seed=0, **kwargs)
    assert sim.done and headless_steps == steps
    _assert_same_sim(env.unwrapped.sim, sim, f"{name} on {case}")
    assert _same(info["max_service_gap"], sim.metrics()["max_service_gap"])


@pytest.mark.parametrize("case", CASES)
def test_kernel_equals_numpy_reference(case):
    make_instance, kwargs = CASES[case]
    instance = make_instance()
    preemptions = 0
    for name in BATCH_SCHEDULERS:
        reference, reference_steps = run_headless(instance, baselines.make(ENV_ID, name), compiled=False, **kwargs)
        compiled, compiled_steps = run_headless(instance, baselines.make(ENV_ID, name), **kwargs)
        assert compiled_steps == reference_steps, name
        _assert_same_sim(reference, compiled, f"{name} on {case}")
        preemptions += reference.preemptions
    if case == "small-kv":
        assert preemptions > 0  # the memory paths ran


_WEIGHTS = {"run": 2.0, "pause": 0.5, "budget": 0.5, "pick": 4.0, "preempt": 0.2}  # progress, with every kind


class RandomOps:
    """Uniformly random legal operations, seeded: exercises what the baselines never do
    (preempting partial prefills, pausing, lowering budgets mid-episode, idle runs)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        pass

    def next_op(self, sim: LLMSim):
        st = sim.state
        ops = [RUN]
        if not sim.paused and not sim._picks and sim.running:
            ops.append(("pause", 0))
        if not sim._picks:
            ops += [("budget", b) for b in (256, 1024) if b < st.budget]
        visible = np.asarray(sim.visible_queue(), np.int64)
        chunks = sim.pick_chunks(visible)
        assert chunks.tolist() == [sim.chunk_if_picked(int(r)) for r in visible]  # scalar and vector forms agree
        ops += [("pick", int(r)) for r in visible[chunks > 0]]
        holders = np.asarray(sim.running + sim.queue, np.int64)
        ops += [("preempt", int(r)) for r in holders[sim.preemptible(holders)]]
        weights = np.array([_WEIGHTS[op[0]] for op in ops])
        return ops[int(self.rng.choice(len(ops), p=weights / weights.sum()))]


@pytest.mark.parametrize("case", ["tenants-flood", "tenants-window4", "small-kv"])
def test_kernel_equals_numpy_reference_under_random_operations(case):
    make_instance, kwargs = CASES[case]
    instance = make_instance()
    preset = get_preset(kwargs.get("preset", "llama2-7b-a100"))
    window = kwargs.get("window", 64)
    sims = [LLMSim(instance, preset, 128, 4096, 0.01, window, compiled=compiled)
            for compiled in (False, True)]
    schedulers = [RandomOps(seed=7), RandomOps(seed=7)]
    interleaved = 0  # boundaries where the round-robin window is not the oldest requests
    for _ in range(1500):
        ops = [scheduler.next_op(sim) for scheduler, sim in zip(schedulers, sims)]
        assert ops[0] == ops[1]
        interleaved += sims[0].visible_queue() != sims[0].queue[:window]
        rewards = [apply(sim, op) for sim, op in zip(sims, ops)]
        assert _same(rewards[0], rewards[1]) and sims[0].queue == sims[1].queue, ops[0]
        assert sims[0].visible_queue() == sims[1].visible_queue()
        if sims[0].done:
            break
    assert sims[0].preemptions > 0 and sims[0]._done_count > 10
    if case == "tenants-window4":
        assert interleaved > 0
    _assert_same_sim(sims[0], sims[1], f"random operations on {case}")


def test_pickled_sim_continues_alike():
    """A sim pickled mid-boundary (picks pending) continues exactly as the original: its state
    arrays, which the kernel keeps as rows of shared blocks, are shared again when loaded."""
    make_instance, kwargs = CASES["conv-rate3.5"]
    instance = make_instance()
    sim = LLMSim(instance, get_preset("llama2-7b-a100"), 128, 4096, 0.01, 64)
    scheduler = baselines.make(ENV_ID, "sarathi")
    scheduler.reset_sim(sim, 0)
    for _ in range(300):
        apply(sim, scheduler.next_op(sim))
    while not sim._picks:
        apply(sim, scheduler.next_op(sim))
    copy = pickle.loads(pickle.dumps(sim))
    copy_scheduler = pickle.loads(pickle.dumps(scheduler))
    for one, its_scheduler in ((sim, scheduler), (copy, copy_scheduler)):
        for _ in range(5000):
            if one.done:
                break
            apply(one, its_scheduler.next_op(one))
    _assert_same_sim(sim, copy, "pickled sarathi")


@pytest.mark.parametrize("case", ["small-kv", "tenants-window4"])
def test_shortcuts_equal_their_definitions(case):
    """The cached or searched quantities the fast path uses equal their plain definitions at
    every step of random operations with a small window (picks then preemptions shift it)."""
    instance = CASES[case][0]()
    sim = LLMSim(instance, SMALL_GPU, 128, 4096, 0.01, 4)
    ops = RandomOps(seed=3)
    schedulers = [baselines.make(ENV_ID, name) for name in BATCH_SCHEDULERS]
    for scheduler in schedulers:
        scheduler.reset_sim(sim, 0)
    pushed_out = 0
    for _ in range(500):
        if sim.done:
            break
        st = sim.state
        visible = sim.visible_queue()
        assert visible == round_robin_window(sim.queue, instance.tenant, 4)  # the cache is current
        candidates = [r for r in visible if not st.picked[r]]
        pushed_out += len(sim._picks) > sum(bool(st.picked[r]) for r in visible)
        assert sim.prefilling == [r for r in sim.queue if st.kv_blocks[r] > 0]
        assert [sim.is_visible(r) for r in range(instance.num_requests)] == [
            r in visible for r in range(instance.num_requests)]
        rows = np.asarray(sim.running, np.int64)
        need = 0 if sim.paused or not len(rows) else int(
            ((instance.prompt_tokens[rows] + st.generated[rows] + 15) // 16 - st.kv_blocks[rows]).sum())
        assert sim.decode_blocks_needed() == need
        for scheduler in schedulers:
            assert scheduler.candidates(sim) == candidates
            if candidates:
                expected = int(scheduler.order(sim, np.asarray(candidates, np.int64))[0])
                assert scheduler.first(sim, candidates) == expected, scheduler.name
        apply(sim, ops.next_op(sim))
    assert pushed_out > 0  # a preemption pushed a picked request out of the window


# (case of the env kwargs, set, requests): 8 requests finish (about 1,100 steps); 20 requests
# take far longer than the 4,000 steps allowed, so the truncation is reproduced too.
@pytest.mark.parametrize("case,set_name,count", [("tenants-window4", "tenants-flood", 8),
                                                 ("tenants-window4", "tenants-flood", 20),
                                                 ("small-kv", "conv-rate4", 20)])
def test_headless_random_takes_the_actions_of_the_random_baseline_stepping_the_env(case, set_name,
                                                                                   count):
    instance = _first_requests(set_name, count)
    kwargs = {**CASES[case][1], "max_steps": 4000}
    env = gym.make(ENV_ID, **kwargs)
    env.reset(seed=3, options={"instance": instance})
    scheduler = baselines.make(ENV_ID, "random")
    scheduler.reset(env, seed=3)
    actions, done = [], False
    while not done:
        actions.append(scheduler.act(env))
        *_, terminated, truncated, _ = env.step(actions[-1])
        done = terminated or truncated
    recorded: list[int] = []
    sim, steps = run_headless(instance, baselines.make(ENV_ID, "random"), seed=3, actions=recorded,
                              **kwargs)
    assert recorded == actions and steps == len(actions)
    assert len(set(actions)) > 10 and sim.preemptions > 0  # picks, preemptions, controls too
    _assert_same_sim(env.unwrapped.sim, sim, f"random on {case}")


# ------------------------------------------------------------------------------ bad arguments

NAN, INF = float("nan"), float("inf")
# (argument, bad value): NaN, inf, 0, negative, wrong type, bool for int, out of range.
BAD_REPLICA_ARGUMENTS = [
    ("max_batch_size", 0), ("max_batch_size", -4), ("max_batch_size", 8.0),
    ("max_batch_size", True), ("max_batch_size", NAN), ("max_batch_size", 10**5),
    ("token_budget", 0), ("token_budget", -1), ("token_budget", NAN), ("token_budget", False),
    ("token_budget", "4096"), ("window", 0), ("window", INF), ("window", True),
    ("idle_step", NAN), ("idle_step", INF), ("idle_step", 0.0), ("idle_step", -0.01),
    ("idle_step", True), ("idle_step", "0.01"), ("max_steps", 0), ("max_steps", -3),
    ("max_steps", 2.5), ("max_steps", True), ("max_steps", NAN),
    ("preset", "llama2-7b-h200"), ("preset", 7), ("preset", None),
]


@pytest.mark.parametrize("name,value", BAD_REPLICA_ARGUMENTS, ids=lambda v: repr(v))
def test_headless_refuses_bad_env_arguments_with_the_envs_message(name, value) -> None:
    instance = _first_requests("conv-rate3", 5)
    with pytest.raises(ValueError) as headless:
        run_headless(instance, baselines.make(ENV_ID, "fcfs"), **{name: value})
    with pytest.raises(ValueError) as env:
        LLMServeEnv(**{name: value})  # not gym.make, which appends to a TypeError's message
    assert str(headless.value) == str(env.value)
    assert str(headless.value).startswith(f"{name} must be") and repr(value) in str(headless.value)


@pytest.mark.parametrize("name,value,match", [
    ("seed", -1, "seed must be an integer >= 0"), ("seed", 1.0, "seed must be an integer"),
    ("seed", True, "seed must be an integer"), ("seed", NAN, "seed must be an integer"),
    ("compiled", 1, "compiled must be True or False"), ("instance", None, "instance must be an "
                                                                          "LLMInstance"),
    ("scheduler", object(), "scheduler must be a BatchScheduler"),
])
def test_headless_refuses_bad_arguments_of_its_own(name, value, match) -> None:
    arguments = {"instance": _first_requests("conv-rate3", 5),
                 "scheduler": baselines.make(ENV_ID, "fcfs"), name: value}
    with pytest.raises(ValueError, match=match):
        run_headless(**arguments)
