"""Tests of the LLM cluster (:mod:`envs.llm.cluster`): one replica is the single-replica simulator
bit for bit, the exact event order of routing, hand-made cases with known answers, invariants
and the guards."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from schedgym import baselines
from schedgym.data.instance_sets import load_named
from schedgym.envs.llm.cluster import LLMCluster, local_scheduler_names, queued_blocks
from schedgym.envs.llm.fastsim import run_headless
from schedgym.envs.llm.sim import LLMSim, blocks_for
from schedgym.envs.llm.types import DONE, PENDING, LLMInstance

from tests.envs.llm.helpers import A100, tiny_memory, workload

STATE_FIELDS = ("status", "prefilled", "prefill_target", "generated", "kv_blocks", "admitted_at",
                "first_token", "last_token", "finish", "restarts", "goodput_tokens",
                "tenant_service")
PER_REQUEST = ("arrival", "prompt_tokens", "output_tokens", "max_new_tokens", "tenant",
               "ttft_slo", "tpot_slo")
SMALL_GPU = dataclasses.replace(A100, name="small-kv", gpu_memory_gb=20.0)


def _first_requests(set_name: str, count: int) -> LLMInstance:
    instance = load_named("llm", set_name).instances[0]
    return dataclasses.replace(instance, **{f: getattr(instance, f)[:count] for f in PER_REQUEST})


def _same(a, b) -> bool:
    """Exact equality; floats bit for bit (NaN equals NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _route_all(cluster: LLMCluster, choose) -> list[int]:
    """Routes every request with ``choose(cluster)``; returns the goodput of each step."""
    earned = []
    while cluster.pending is not None:
        earned.append(cluster.route(choose(cluster)))
    return earned


# ------------------------------------------------------------------ one replica is LLMSim

CASES = {  # (instance, preset): near saturation; four tenants with mixed SLOs; preemptions
    "conv-rate3.5": (lambda: _first_requests("conv-rate3.5", 100), A100),
    "tenants-flood": (lambda: _first_requests("tenants-flood", 100), A100),
    "small-kv": (lambda: _first_requests("conv-rate4", 50), SMALL_GPU),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("scheduler", ("fcfs", "sarathi", "vtc", "past_future", "srtf"))
def test_one_replica_equals_the_single_replica_simulator(case: str, scheduler: str) -> None:
    instance, preset = CASES[case][0](), CASES[case][1]
    single, steps = run_headless(instance, baselines.make("schedgym/LLMServe-v0", scheduler),
                                 seed=5, preset=preset)
    cluster = LLMCluster(instance, preset, 1, scheduler, seed=5)
    earned = _route_all(cluster, lambda c: 0)
    assert cluster.done and not cluster.truncated and cluster.operations == steps
    replica = cluster.replicas[0]
    for field in STATE_FIELDS:
        assert _same(getattr(single.state, field), getattr(replica.state, field)), field
    expected, actual = single.metrics(), cluster.metrics()
    for key, value in expected.items():
        assert _same(value, actual[key]), key
    assert sum(earned) == actual["goodput_tokens"] == expected["goodput_tokens"]
    if case == "small-kv" and scheduler == "fcfs":
        assert expected["preemptions"] > 0  # the case exercises recomputation


def test_kernel_and_numpy_reference_agree_on_a_cluster() -> None:
    instance = _first_requests("tenants-flood", 80)
    runs = []
    for compiled in (True, False):
        cluster = LLMCluster(instance, SMALL_GPU, 3, "vtc", compiled=compiled)
        _route_all(cluster, lambda c: c.next_request * 7 % 3)
        runs.append(cluster)
    for a, b in zip(runs[0].replicas, runs[1].replicas):
        for field in STATE_FIELDS:
            assert _same(getattr(a.state, field), getattr(b.state, field)), field
    assert runs[0].metrics() == runs[1].metrics()


# ------------------------------------------------------------------ event order, known answers


def test_requests_sharing_a_replica_share_its_prefill_iteration() -> None:
    # Two 1,000-token prompts at t = 0, one output token each. Apart, each replica runs one
    # 1k prefill; together, vLLM batches both prompts into one 2k-token prefill iteration.
    instance = workload([0.0, 0.0], [1000, 1000], [1, 1])
    alone = A100.iteration_ms(1000, 1000.0**2, 0, 0, 1) / 1000
    shared = A100.iteration_ms(2000, 2 * 1000.0**2, 0, 0, 2) / 1000
    apart = LLMCluster(instance, A100, 2)
    _route_all(apart, lambda c: c.next_request)
    together = LLMCluster(instance, A100, 2)
    _route_all(together, lambda c: 0)
    assert apart.metrics()["ttft_mean"] == alone
    assert together.metrics()["ttft_mean"] == shared > alone
    assert apart.metrics()["replica_requests"] == [1, 1]
    assert together.metrics()["replica_requests"] == [2, 0]


def test_an_arrival_during_an_iteration_is_routed_at_its_end() -> None:
    # Request 0's 2k prefill runs [0, d); request 1 arrives at d / 2. The busy replica has
    # finished that iteration when the router decides; an idle one waits at its last boundary.
    d = A100.iteration_ms(2000, 2000.0**2, 0, 0, 1) / 1000
    instance = workload([0.0, d / 2], [2000, 100], [5, 5])
    for target, first_pick in ((0, d), (1, d / 2)):
        cluster = LLMCluster(instance, A100, 2)
        cluster.route(0)
        assert cluster.pending == 1 and cluster.time == d / 2
        busy, idle = cluster.replicas
        assert busy.state.time == d and busy.state.generated[0] == 1  # the prefill's token
        assert idle.state.time == 0.0  # never had work: still at the first arrival
        cluster.route(target)
        assert cluster.replicas[target].first_scheduled[1] == first_pick
        _route_all(cluster, lambda c: 0)
        assert cluster.done


def test_requests_arriving_together_each_see_the_previous_decisions() -> None:
    instance = workload([0.0] * 4, [100] * 4, [3] * 4)
    cluster = LLMCluster(instance, A100, 4)
    seen = []
    while cluster.pending is not None:
        seen.append(cluster.outstanding().tolist())
        cluster.route(0)
    # Nothing runs between simultaneous arrivals: replica 0 holds 0, 1, 2, 3 of them in turn.
    assert seen == [[0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]]
    metrics = cluster.metrics()
    assert metrics["outstanding_max"] == 1.5 and metrics["outstanding_mean"] == 0.375
    assert metrics["load_imbalance"] == 4.0 and metrics["replica_requests"] == [4, 0, 0, 0]


def test_queued_blocks_counts_what_the_queue_still_needs() -> None:
    instance = workload([0.0, 0.0, 0.0], [100, 33, 16], [3, 3, 3])
    cluster = LLMCluster(instance, A100, 2)
    cluster.route(0)
    cluster.route(0)
    assert queued_blocks(cluster.replicas[0]) == blocks_for(100) + blocks_for(33) == 10
    assert queued_blocks(cluster.replicas[1]) == 0


# ------------------------------------------------------------------ invariants


def test_every_request_is_served_once_by_its_replica_and_goodput_adds_up() -> None:
    instance = _first_requests("tenants-flood", 120)
    rng = np.random.default_rng(0)
    cluster = LLMCluster(instance, SMALL_GPU, 3, "sarathi")
    earned = _route_all(cluster, lambda c: int(rng.integers(3)))
    assert cluster.done and cluster.requests_done == instance.num_requests
    statuses = np.stack([sim.state.status for sim in cluster.replicas])
    owner = cluster.assignment
    assert (statuses[owner, np.arange(instance.num_requests)] == DONE).all()
    others = np.ones_like(statuses, bool)
    others[owner, np.arange(instance.num_requests)] = False
    assert (statuses[others] == PENDING).all()
    metrics = cluster.metrics()
    assert sum(earned) == cluster.goodput_tokens == metrics["goodput_tokens"]
    assert metrics["requests_done"] == instance.num_requests
    assert sum(metrics["replica_requests"]) == instance.num_requests
    assert metrics["iterations"] == sum(sim.iterations for sim in cluster.replicas)
    assert np.allclose(metrics["tenant_service"],
                       np.sum([sim.state.tenant_service for sim in cluster.replicas], axis=0))
    assert 0 < metrics["kv_utilization_mean"] < 1


def test_clusters_are_deterministic() -> None:
    instance = _first_requests("conv-rate4", 60)
    runs = []
    for _ in range(2):
        cluster = LLMCluster(instance, A100, 2, "past_future", seed=3)
        _route_all(cluster, lambda c: c.next_request % 2)
        runs.append(cluster.metrics())
    assert runs[0] == runs[1]


# ------------------------------------------------------------------ guards


def test_routing_errors_are_refused() -> None:
    instance = workload([0.0, 1.0], [100, 100], [2, 2])
    cluster = LLMCluster(instance, A100, 2)
    with pytest.raises(ValueError, match="replica 2 of 2"):
        cluster.route(2)
    _route_all(cluster, lambda c: 0)
    with pytest.raises(ValueError, match="cannot route request None"):
        cluster.route(0)
    single = LLMSim(instance, A100, 128, 4096, 0.01, 64)  # not a routed replica
    with pytest.raises(ValueError, match="cannot be routed"):
        single.route(1)
    replica = LLMSim(instance, A100, 128, 4096, 0.01, 64, routed=True)
    replica.route(1)
    with pytest.raises(ValueError, match="cannot be routed"):
        replica.route(0)  # older than a request routed before
    with pytest.raises(ValueError, match="replicas must be"):
        LLMCluster(instance, A100, 0)


def test_only_headless_baselines_are_local_schedulers() -> None:
    assert "random" not in local_scheduler_names() and "fcfs" in local_scheduler_names()
    with pytest.raises(ValueError, match="cannot schedule a replica headlessly"):
        LLMCluster(workload([0.0], [10], [1]), A100, 2, "random")


def test_a_scheduler_that_never_admits_is_truncated() -> None:
    # A prompt that fills the whole 10-block cache: vLLM's watermark never admits it, so the
    # replica idles; the operation guard (the single-replica env's step limit) ends the episode.
    cluster = LLMCluster(workload([0.0], [150], [1]), tiny_memory(10), 2)
    cluster.route(1)
    assert cluster.truncated and not cluster.done
    assert cluster.operations == 4 * (1 + 1) + 1000
