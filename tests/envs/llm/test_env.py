"""The LLM env facade: pointer actions map to the simulator's operations, masks and features."""

from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import schedgym  # noqa: F401  (registers the ids)
from schedgym.envs.llm.env import BUDGETS, NODE_FEATURES, PAUSE_NODE, QUEUE_NODE0, RUN_NODE
from schedgym.envs.llm.sim import LLMSim, apply
from tests.envs.llm.helpers import workload

CONV_TRACE = Path(__file__).resolve().parents[4] / "shared" / "data" / "azure_llm_2023" / "conv.csv"
F = {name: i for i, name in enumerate(NODE_FEATURES)}


def make(**kwargs):
    return gym.make("schedgym/LLMServe-v0", **kwargs).unwrapped


def test_a_pick_action_schedules_the_request_shown_on_that_node():
    env = make()
    obs, _ = env.reset(seed=0, options={"instance": workload([0.0, 0.0], [300, 200], [4, 4])})
    node = env.node_of(("pick", 1))
    assert obs["action_mask"][node] and obs["nodes"][node, F["prompt_tokens"]] == pytest.approx(0.2)
    assert obs["nodes"][node, F["pick_chunk"]] == pytest.approx(200 / 4096)
    obs, reward, *_ = env.step(node)
    assert env.sim.state.picked[1] == 200 and obs["nodes"][node, F["picked"]] == 1.0
    assert not obs["action_mask"][node]  # picked once per iteration
    assert not obs["action_mask"][2:2 + len(BUDGETS)].any()  # budgets only before a pick
    assert reward == 0.0


def test_run_earns_the_goodput_of_the_iteration_as_reward():
    env = make(reward_scale=1.0)
    env.reset(seed=0, options={"instance": workload([0.0, 0.0], [300, 200], [4, 4])})
    env.step(env.node_of(("pick", 0)))
    _, reward, terminated, _, info = env.step(RUN_NODE)
    # Request 0's prefill finished within its TTFT SLO: its 300 prompt tokens and first token.
    assert reward == 301.0 and not terminated and info["goodput_tokens"] == 301


def test_an_episode_return_equals_its_goodput_tokens():
    env = make(reward_scale=1.0)
    env.reset(seed=3, options={"instance": workload([0.0, 0.1, 0.2], [500, 900, 100], [20, 5, 30])})
    total, done = 0.0, False
    while not done:
        legal = np.flatnonzero(env.action_masks())
        _, reward, terminated, truncated, info = env.step(int(legal[-1]))  # a preempt/pick-happy policy
        total += reward
        done = terminated or truncated
    assert terminated and total == info["goodput_tokens"]


def test_a_fairness_weight_charges_the_growth_of_the_service_gap():
    # Tenant 0 floods with long prompts, tenant 1 waits behind it: the gap grows while both queue.
    instance = workload([0.0] * 6 + [0.01] * 2, [3000] * 6 + [100] * 2, [8] * 8,
                        tenant=[0] * 6 + [1] * 2, tenants=2)
    returns = {}
    for weight in (0.0, 0.5):
        env = make(reward_scale=1.0, fairness_weight=weight, token_budget=2048)
        env.reset(seed=0, options={"instance": instance})
        total, done = 0.0, False
        while not done:  # FCFS: the oldest pickable request, else run
            picks = np.flatnonzero(env.action_masks()[QUEUE_NODE0:QUEUE_NODE0 + env.window])
            action = QUEUE_NODE0 + int(picks[0]) if len(picks) else RUN_NODE
            _, reward, terminated, truncated, info = env.step(action)
            total += reward
            done = terminated or truncated
        returns[weight] = (total, info)
    (plain, info0), (fair, info1) = returns[0.0], returns[0.5]
    assert info0["max_service_gap"] == info1["max_service_gap"] > 0  # the same actions either way
    assert plain == info0["goodput_tokens"]
    assert fair == pytest.approx(info1["goodput_tokens"] - 0.5 * info1["max_service_gap"])


def test_pause_and_budget_nodes_follow_their_rules():
    env = make()
    obs, _ = env.reset(seed=0, options={"instance": workload([0.0, 0.0], [300, 200], [40, 4])})
    assert not obs["action_mask"][PAUSE_NODE]  # nothing decodes yet
    assert obs["action_mask"][2:2 + len(BUDGETS)].all()
    env.step(env.node_of(("pick", 0)))
    obs, *_ = env.step(RUN_NODE)  # request 1 still waits, request 0 decodes
    assert obs["action_mask"][PAUSE_NODE]
    obs, *_ = env.step(PAUSE_NODE)
    assert env.sim.paused and not obs["action_mask"][PAUSE_NODE]
    assert obs["nodes"][env._replica, F["paused"]] == 1.0


def test_a_paused_iteration_cannot_fill_the_batch_past_its_cap():
    """Regression (soak: llm-small-batch, episode seed 988344000): picks in a prefill-only
    iteration ignored the paused decodes, so the running set outgrew ``max_batch_size`` and its
    running slots (the encoder raised IndexError)."""
    env = make(max_batch_size=2)
    env.reset(seed=0, options={"instance": workload([0.0] * 3, [100] * 3, [40] * 3)})
    env.step(env.node_of(("pick", 0)))
    env.step(RUN_NODE)  # request 0 decodes, 1 and 2 wait
    obs, *_ = env.step(PAUSE_NODE)
    obs, *_ = env.step(env.node_of(("pick", 1)))  # 1 running + 1 pick: the cap
    assert not obs["action_mask"][env.node_of(("pick", 2))]
    with pytest.raises(ValueError, match="cannot be picked"):
        env.sim.pick(2)
    obs, *_ = env.step(RUN_NODE)
    assert len(env.sim.running) == 2  # 1 queued, 2 running nodes shown:
    assert obs["node_mask"].sum() == env._queue0 + 3


def test_a_preempt_action_frees_the_kv_of_the_running_request():
    env = make()
    env.reset(seed=0, options={"instance": workload([0.0, 0.0], [300, 200], [40, 4])})
    env.step(env.node_of(("pick", 0)))
    env.step(RUN_NODE)
    node = env.node_of(("preempt", 0))
    obs, *_ = env.step(node)
    st = env.sim.state
    assert st.kv_blocks[0] == 0 and st.restarts[0] == 1
    assert obs["nodes"][env.node_of(("pick", 0)), F["recomputing"]] == 1.0


def test_hidden_output_lengths_never_reach_the_observation():
    a = workload([0.0, 0.0], [300, 200], [40, 4])
    b = replace(workload([0.0, 0.0], [300, 200], [7, 9]), max_new_tokens=a.max_new_tokens)
    env = make()
    obs_a, _ = env.reset(seed=0, options={"instance": a})
    obs_b, _ = env.reset(seed=0, options={"instance": b})
    np.testing.assert_array_equal(obs_a["nodes"], obs_b["nodes"])


@pytest.mark.parametrize("bad", [{"max_batch_size": 0}, {"token_budget": 1.5}, {"rate": float("nan")},
                                 {"window": True}, {"preset": "gpt-9"}, {"reward_scale": -1.0}])
def test_bad_arguments_are_refused_at_make(bad):
    name, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=name if name != "preset" else "gpt-9"):
        make(**bad)


@pytest.mark.skipif(not CONV_TRACE.exists(), reason="the shared Azure conversation trace is absent")
def test_a_trace_window_is_replayed_at_a_scaled_rate():
    with pytest.warns(UserWarning, match="shortened"):
        env = make(trace=str(CONV_TRACE), trace_duration=60.0, rate_scale=0.5)
        env.reset(seed=0)
    arrival = env.sim.instance.arrival
    assert arrival[-1] == pytest.approx(120.0, abs=2.0)  # 60 s of trace at half the rate


def test_with_one_tenant_the_queue_slots_show_the_oldest_requests_in_arrival_order():
    # The rule before multi-tenant windows, kept bit for bit: the first `window` of the queue.
    from schedgym import baselines
    from schedgym.envs.llm.generator import sample_instance

    instance = sample_instance(np.random.default_rng(2), num_requests=80, rate=30.0)
    env = make(window=8)
    env.reset(seed=0, options={"instance": instance})
    scheduler = baselines.make("schedgym/LLMServe-v0", "sarathi")
    scheduler.reset(env, seed=0)
    longest, done = 0, False
    while not done:
        assert env._shown_queue == env.sim.queue[:8] == env.sim.visible_queue()
        longest = max(longest, len(env.sim.queue))
        *_, terminated, truncated, _ = env.step(scheduler.act(env))
        done = terminated or truncated
    assert longest > 8  # the window was full


def test_a_flooding_tenant_does_not_hide_another_tenants_request():
    # Tenant 0 queues 70 requests before tenant 1's one (request 70): with the oldest 64 shown
    # it would be hidden; round-robin over the tenants shows it, pickable.
    instance = workload([0.0] * 71, [100] * 71, [5] * 71, tenant=[0] * 70 + [1], tenants=2)
    env = make()
    obs, _ = env.reset(seed=0, options={"instance": instance})
    assert env._shown_queue == list(range(63)) + [70]
    assert obs["action_mask"][env.node_of(("pick", 70))]


def test_observe_shows_an_outside_simulator_as_the_env_shows_its_own():
    instance = workload([0.0, 0.0, 0.2], [300, 200, 900], [4, 6, 3])
    env, other = make(), make()
    obs, _ = env.reset(seed=0, options={"instance": instance})
    sim = LLMSim(instance, env.preset, env.max_batch_size, env.token_budget, env.idle_step, env.window)
    for op in (("pick", 0), ("pick", 1), ("run", 0), ("pick", 2)):  # apart from a fresh reset
        obs, *_ = env.step(env.node_of(op))
        apply(sim, op)
    seen = other.observe(sim)
    for key, value in obs.items():
        np.testing.assert_array_equal(seen[key], value, err_msg=key)
    assert other.sim is sim and other.node_of(("pick", 2)) == env.node_of(("pick", 2))


def test_a_truncated_episode_counts_its_unfinished_requests_as_slo_misses():
    env = make(max_steps=3)
    env.reset(seed=0, options={"instance": workload([0.0, 0.0, 5.0, 5.0], [100, 100, 100, 100], [2, 2, 2, 2])})
    done = False
    while not done:  # FCFS until the guard cuts the episode off
        picks = np.flatnonzero(env.action_masks()[QUEUE_NODE0:QUEUE_NODE0 + env.window])
        action = QUEUE_NODE0 + int(picks[0]) if len(picks) else RUN_NODE
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    assert truncated and not terminated and 0 < info["requests_done"] < 4
    assert info["slo_attainment"] == info["requests_done"] / 4  # the finished ones met their SLOs
