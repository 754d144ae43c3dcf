"""The replica simulator against hand-computed timelines and the reference's calibration."""

import math

import numpy as np
import pytest

from schedgym.envs.llm.sim import LLMSim, round_robin_window
from schedgym.envs.llm.types import DONE, RUNNING, WAITING

from tests.envs.llm.helpers import A100, fcfs_run, make_sim, tiny_memory, workload


def test_cost_model_reproduces_the_reference_sanity_values():
    # ../shared/reference/llm_serving.md: a 1k-token prefill ≈ 71 ms, 4k ≈ 297 ms; decode at 1k
    # context: batch 1 ≈ 10.4 ms, batch 32 ≈ 24 ms, batch 128 ≈ 69 ms.
    prefill = lambda n: A100.iteration_ms(n, n * n, 0, 0, 1)  # noqa: E731
    decode = lambda b: A100.iteration_ms(0, 0, b, b * 1024, b)  # noqa: E731
    assert prefill(1024) == pytest.approx(71, abs=1.0)
    assert prefill(4096) == pytest.approx(297, abs=3.0)
    assert decode(1) == pytest.approx(10.4, abs=0.2)
    assert decode(32) == pytest.approx(24, abs=0.5)
    assert decode(128) == pytest.approx(69, abs=1.0)


def test_kv_capacity_is_the_reference_figure():
    assert A100.kv_blocks == 6973  # (0.9 × 80 − 13.5) GB / (0.5 MiB × 16)


def test_one_request_follows_the_hand_computed_timeline():
    sim = fcfs_run(make_sim(workload([0.0], [100], [3])))
    first = (9.0 + 1.7e-6 * 100 * 100 + 0.04 + 1.0) / 1000  # prefill of 100 tokens
    second = first + (9.0 + 4e-4 * 101 + 0.04 + 1.0) / 1000  # decode over 101 tokens
    third = second + (9.0 + 4e-4 * 102 + 0.04 + 1.0) / 1000
    st = sim.state
    assert st.first_token[0] == pytest.approx(first, rel=1e-12)
    assert st.finish[0] == pytest.approx(third, rel=1e-12)
    assert st.status[0] == DONE and st.free_blocks == A100.kv_blocks
    metrics = sim.metrics()
    assert metrics["ttft_p50"] == pytest.approx(first, rel=1e-12)
    assert metrics["tpot_mean"] == pytest.approx((third - first) / 2, rel=1e-12)
    assert metrics["tbt_p99"] == pytest.approx(np.percentile([second - first, third - second], 99), rel=1e-9)
    # All SLOs met: goodput earns the 100 prompt tokens and the 3 output tokens.
    assert metrics["goodput_tokens"] == 103 and metrics["slo_attainment"] == 1.0


def test_chunked_prefill_respects_the_budget_and_delivers_after_the_last_chunk():
    sim = make_sim(workload([0.0], [1000], [2]))
    sim.lower_budget(512)
    assert sim.pick(0) == 512
    sim.run()
    st = sim.state
    assert st.prefilled[0] == 512 and st.generated[0] == 0 and math.isnan(st.first_token[0])
    assert sim.pick(0) == 488  # the rest, within the full budget
    sim.run()
    assert st.generated[0] >= 1 and not math.isnan(st.first_token[0])


def test_decodes_that_run_out_of_blocks_preempt_the_newest_admission_and_recompute():
    # 4 blocks of 16 tokens; two requests of 16 prompt + 40 output tokens each need 4 blocks at the end.
    sim = make_sim(workload([0.0, 0.0], [16, 16], [40, 40]), preset=tiny_memory(4))
    fcfs_run(sim)
    st = sim.state
    assert np.all(st.status == DONE) and sim.preemptions >= 1
    assert st.restarts[1] >= 1 and st.restarts[0] == 0  # request 1 was admitted last
    assert st.free_blocks == 4
    assert np.array_equal(st.generated, [40, 40])


def test_a_preempted_request_recomputes_prompt_and_generated_tokens():
    sim = make_sim(workload([0.0, 0.0], [100, 100], [10, 10]))
    sim.pick(0)
    sim.run()  # request 1 still waits, so this is a boundary
    st = sim.state
    assert st.status[0] == RUNNING and st.generated[0] == 1
    sim.preempt(0)
    assert st.status[0] == WAITING and st.kv_blocks[0] == 0 and st.restarts[0] == 1
    assert st.free_blocks == A100.kv_blocks
    assert sim.pick(0) == 101  # prompt + the generated token, recomputed
    first_token = st.first_token[0]
    sim.run()
    assert st.first_token[0] == first_token  # the timestamps are kept
    assert st.generated[0] == 2


def test_requests_too_long_for_the_model_are_refused_with_their_index():
    with pytest.raises(ValueError, match="request 1 needs 5000 tokens"):
        make_sim(workload([0.0, 1.0], [10, 4000], [5, 1000]))


def test_picks_leave_room_for_the_decodes_blocks():
    sim = make_sim(workload([0.0, 0.0], [16, 48], [20, 5]), preset=tiny_memory(4))
    sim.pick(0)
    sim.run()  # request 0 decodes now; its next token needs a second block
    assert sim.state.status[0] == RUNNING and sim.state.status[1] == WAITING
    assert sim.decode_blocks_needed() == 1
    # Request 1 needs 3 blocks; 3 are free but one belongs to the decode: not pickable.
    assert not sim.pickable(np.array([1]))[0]


def test_backlogged_service_gap_is_measured_between_tenants():
    # Tenant 0 floods at time 0, tenant 1 sends one request: FCFS serves tenant 0 first.
    arrivals = [0.0] * 30 + [0.001]
    sim = make_sim(workload(arrivals, [2000] * 31, [50] * 31, tenant=[0] * 30 + [1], tenants=2, tpot=1.0))
    fcfs_run(sim)
    metrics = sim.metrics()
    assert metrics["max_service_gap"] > 2000
    # Tenant 1's one request waits behind the flood and misses its TTFT SLO: unfair.
    assert sim.state.first_token[30] - 0.001 > 0.8 and metrics["fairness_jain"] < 1.0


def test_the_window_of_several_tenants_is_round_robin_over_them():
    # Tenant 0 queues requests 0-4 first, then tenant 1 requests 5-6 and tenant 2 request 7.
    instance = workload([0.0] * 8, [100] * 8, [5] * 8, tenant=[0] * 5 + [1, 1, 2], tenants=3)
    # Round 0: 0, 5, 7 (each tenant's oldest); round 1: 1, 6 (by arrival); round 2 is cut off.
    sim = make_sim(instance, window=5)
    assert sim.visible_queue() == [0, 1, 5, 6, 7]
    assert [sim.is_visible(r) for r in range(8)] == [True] * 2 + [False] * 3 + [True] * 3
    assert make_sim(instance, window=4).visible_queue() == [0, 1, 5, 7]  # round 1 by arrival
    with pytest.raises(ValueError, match="request 2 cannot be picked"):
        sim.pick(2)
    sim.pick(0)
    sim.run()  # request 0's prefill is done: it leaves the queue, request 2 leads tenant 0
    assert sim.state.status[0] == RUNNING and sim.visible_queue() == [1, 2, 5, 6, 7]


def _naive_round_robin(queue: list[int], tenant: np.ndarray, window: int) -> list[int]:
    """The round-robin window by its definition: rounds over the tenants' queues."""
    queues = [[r for r in queue if tenant[r] == u] for u in range(int(tenant.max()) + 1)]
    shown: list[int] = []
    for rank in range(len(queue)):
        shown += sorted(q[rank] for q in queues if rank < len(q))
    return sorted(shown[:window])


def test_round_robin_window_follows_its_definition_and_is_the_oldest_with_one_tenant():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, tenants = int(rng.integers(1, 60)), int(rng.integers(1, 6))
        window = int(rng.integers(1, 20))
        tenant = rng.integers(0, tenants, n)
        queue = sorted(rng.choice(n, int(rng.integers(0, n + 1)), replace=False).tolist())
        expected = _naive_round_robin(queue, tenant, window)
        assert round_robin_window(queue, tenant, window) == expected
        assert round_robin_window(queue, np.zeros(n, np.int64), window) == queue[:window]


def test_the_round_robin_window_follows_requests_routed_to_a_cluster_replica():
    instance = workload([0.0] * 6, [100] * 6, [5] * 6, tenant=[0, 0, 0, 0, 1, 1], tenants=2)
    sim = LLMSim(instance, A100, 128, 4096, 0.01, 3, routed=True)
    for request in range(4):
        sim.route(request)
    assert sim.visible_queue() == [0, 1, 2]
    sim.route(4)  # tenant 1's oldest enters round 0
    assert sim.visible_queue() == [0, 1, 4] and sim.is_visible(4) and not sim.is_visible(2)
