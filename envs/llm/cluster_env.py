"""``schedgym/LLMCluster-v0``: routing LLM inference requests across serving replicas.

This module is the Gymnasium facade: arguments, spaces, pointer actions, observation encoding,
rewards and ``info``. The dynamics live in :mod:`envs.llm.cluster` (the replicas are
:class:`envs.llm.sim.LLMSim`), the workloads in :mod:`envs.llm.workload`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from schedgym.envs.graph import GraphEnv, GraphSpec
from schedgym.envs.llm.cluster import (LLMCluster, local_scheduler_names, queued_blocks,
                                       queued_prefill_tokens)
from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.env import check_replica_arguments
from schedgym.envs.llm.sim import blocks_for
from schedgym.envs.llm.types import LLMInstance
from schedgym.envs.llm.workload import WorkloadSource
from schedgym.envs.validation import check_choice, check_float, check_int

NODE_FEATURES = (
    "is_replica", "is_request",
    # replica
    "free_kv", "queued_kv", "running", "queued", "outstanding", "prefill_left", "freeness",
    "routed_share",
    # request
    "prompt_tokens", "prompt_kv", "max_new_tokens", "ttft_slo", "tpot_slo", "tenant_share",
    "tenant_weight",
)
EDGE_FEATURES = ("headroom",)
GLOBAL_FEATURES = ("routed_fraction", "done_fraction", "load", "free_kv")
_F = {name: i for i, name in enumerate(NODE_FEATURES)}
TOKEN_SCALE = 1000.0  # token counts in features are in thousands, as in LLMServe-v0
#: The single-replica env's default arrival rate and episode, which the defaults scale by K.
RATE_PER_REPLICA, REQUESTS_PER_REPLICA = 3.0, 400
MAX_REPLICAS = 256


class LLMClusterEnv(GraphEnv):
    """Route LLM inference requests, one decision per arrival, across K serving replicas.

    ## Description
    K identical replicas (a preset: Llama-2-7B on an A100-80GB by default) serve one arrival
    stream. Each is the replica of ``schedgym/LLMServe-v0`` (iteration-level batching, a paged
    KV cache, recompute preemption, per-request TTFT/TPOT SLOs and tenants) run by a local
    scheduler, one of that env's rule-based baselines (``fcfs``, vLLM, by default), without
    asking the agent. The agent is the router (a global scheduler, as in Vidur and Llumnix):
    when a request arrives it picks the replica that serves it; requests never move after.
    Before each decision every replica runs to its first iteration boundary at or after the
    arrival (``envs.llm.cluster`` gives the exact event order); one decision per request, so
    decisions per simulated second equal the arrival rate.

    Load scale: the default arrival rate is K times the single-replica default (3 req/s per
    replica), the default episode K times its 400 requests, and a replayed trace runs at K
    times its rate by default, so each replica sees the load of one ``LLMServe-v0`` replica.

    ## Action Space
    ``Discrete(K + 1)`` pointers: node ``k < K`` routes the request to replica ``k``; node K is
    the request (never an action). Legal: the replicas whose KV cache can hold the request's
    prompt (every replica: they are identical and every request of a loaded workload fits
    one). Node 0 is thus legal in every state; it is an ordinary choice, not a no-op, so the
    ``random`` baseline of this env draws among all legal replicas. Illegal actions raise
    ``ValueError``.

    ## Observation Space
    The padded graph of ``envs.graph``. Replica nodes: free KV share, the KV its queue still
    needs, decode batch size, queued and outstanding (routed, not completed) requests, prefill
    tokens its queue still needs, Llumnix's freeness ((free − queued KV) / requests, as a
    share of the cache) and its share of the requests routed so far. The request node: prompt
    tokens and KV blocks, max new tokens, its SLOs, its tenant's service share (over the
    cluster) and weight; never its true output length. Edges join the request to every
    replica, both ways, with the headroom the replica's KV would have after taking it ((free −
    queued − prompt blocks) / capacity). Globals: share of the requests routed and done, the
    load (outstanding requests / (K × batch cap)) and the cluster's free KV share. After the last
    decision the request node is absent.

    ## Rewards
    The JITServe token goodput (as in ``LLMServe-v0``) the cluster earns during each step (the
    replicas running to the next arrival; at the last step, to completion) times
    ``reward_scale``: the return is the episode's ``goodput_tokens`` × ``reward_scale``.

    ## Starting State
    The first request's arrival, every replica empty; the workload is ``options["instance"]``
    (an :class:`LLMInstance`, e.g. from :meth:`load_instance_set`), else the replayed
    ``trace``, else sampled from the generator. The local schedulers' seeds are drawn from the
    env's generator after the workload.

    ## Episode End
    Terminated when every request has been routed and completed: one step per request.
    Truncated if the local schedulers exceed ``4 × (requests + output tokens) + 1000``
    operations (``LLMServe-v0``'s step guard, over the cluster; no shipped scheduler does).

    ``info`` carries ``time``, ``requests_done``, ``goodput_tokens`` and ``steps`` at every
    step; at the episode's end every metric of ``LLMServe-v0`` over all requests of the cluster
    (``envs.llm.sim.episode_metrics``: TTFT/TPOT/TBT/E2E percentiles, throughput,
    ``slo_attainment``, ``token_goodput``, ``preemptions``, ``kv_utilization_mean`` over the
    cluster's KV, tenant service, ``fairness_jain``, ``max_service_gap`` with tenants backlogged
    anywhere), and the load balance (``LLMCluster.metrics``): ``replica_requests`` (requests
    per replica), ``outstanding_max`` and ``outstanding_mean`` (mean over the decisions of the
    largest and of the mean outstanding count of a replica) and ``load_imbalance``, their ratio.

    ## Arguments
    - ``replicas``: K (default 4, at most 256).
    - ``local_scheduler``: the replicas' scheduler, a baseline name of ``LLMServe-v0`` other
      than ``random`` (default ``"fcfs"``, vLLM).
    - ``preset``, ``max_batch_size``, ``token_budget``, ``idle_step``: each replica's, as in
      ``LLMServe-v0`` (defaults Llama-2-7B/A100, 128, 4096, 0.01 s).
    - ``window``: the queue window a local scheduler picks from (default 64, as in
      ``LLMServe-v0``).
    - ``workload``, ``rate``, ``num_requests``, ``generator_config``: the sampled workload, as in
      ``LLMServe-v0``; ``rate`` None is 3 × K req/s and ``num_requests`` None is 400 × K.
    - ``trace``, ``rate_scale``, ``trace_start``, ``trace_duration``: replay an Azure LLM trace,
      as in ``LLMServe-v0``; ``rate_scale`` None is K.
    - ``reward_scale``: reward per goodput token (default 1e-3).
    - ``render_mode``: ``None`` (default) or ``"rgb_array"``: ``render()`` then returns the
      timeline of the episode so far (``envs.llm.timeline``: tokens per second over the
      replicas, each replica's KV use, TTFT and TBT CDFs); the replicas then run the numpy
      reference of their iterations, which logs them (the same episode, slower).

    ## What baselines may read
    Baselines (routers) may read ``env.unwrapped.cluster`` (:class:`envs.llm.cluster.LLMCluster`,
    also ``state``): ``pending`` (the request to route), ``instance``, ``replicas`` (each an
    ``LLMSim``: ``state``, ``queue``, ``running``, ``outstanding``, ``capacity``, ...),
    ``outstanding()``, ``routed_counts()``, and ``envs.llm.cluster.queued_blocks(sim)``; they
    act with ``node_of(replica)`` and may check ``action_masks()``. Learned policies read only
    the observation.

    ## Version History
    - v0: initial release; later ``render_mode="rgb_array"`` (a timeline picture), which
      changes no episode.
    """

    leaderboard_metrics = ("slo_attainment", "token_goodput", "ttft_p50", "ttft_p99", "tpot_p99",
                           "tbt_p99", "e2e_p99", "throughput_rps", "preemptions", "load_imbalance")
    known_dynamics = True

    def __init__(
        self,
        replicas: int = 4,
        local_scheduler: str = "fcfs",
        preset: str | HardwarePreset = "llama2-7b-a100",
        max_batch_size: int = 128,
        token_budget: int = 4096,
        window: int = 64,
        workload: str = "conversation",
        rate: float | None = None,
        num_requests: int | None = None,
        generator_config: dict[str, Any] | None = None,
        trace: str | Path | None = None,
        rate_scale: float | None = None,
        trace_start: float = 0.0,
        trace_duration: float | None = None,
        reward_scale: float = 1e-3,
        idle_step: float = 0.01,
        render_mode: str | None = None,
    ) -> None:
        self._init_render(render_mode)
        self.replicas = check_int("replicas", replicas, low=1, high=MAX_REPLICAS)
        self.local_scheduler = check_choice("local_scheduler", local_scheduler,
                                            local_scheduler_names())
        # Each replica's arguments, checked as LLMServe-v0 checks them.
        self.preset, self.max_batch_size, self.token_budget, self.window, self.idle_step, _ = \
            check_replica_arguments(preset, max_batch_size, token_budget, window, idle_step, None)
        k = self.replicas
        self.source = WorkloadSource(
            workload=workload, rate=RATE_PER_REPLICA * k if rate is None else rate,
            num_requests=REQUESTS_PER_REPLICA * k if num_requests is None else num_requests,
            generator_config=generator_config, trace=trace,
            rate_scale=float(k) if rate_scale is None else rate_scale, trace_start=trace_start,
            trace_duration=trace_duration, default_rate_scale=float(k))
        self.reward_scale = check_float("reward_scale", reward_scale, low=0.0, high=1e6,
                                        low_open=True)
        self._request = k  # the request node
        self._init_spaces(GraphSpec(k + 1, 2 * k, NODE_FEATURES, EDGE_FEATURES, GLOBAL_FEATURES),
                          sized_by={"replicas": k})
        nodes = self._obs["nodes"]
        nodes[:k, _F["is_replica"]] = 1.0
        nodes[k, _F["is_request"]] = 1.0
        self.cluster: LLMCluster | None = None

    # ------------------------------------------------------------------ Gym API

    def reset(self, *, seed: int | None = None,  # noqa: ANN201
              options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        instance = (options or {}).get("instance")
        if instance is None:
            instance = self.source.sample(self.np_random, self.preset.max_model_len)
        elif not isinstance(instance, LLMInstance):
            raise ValueError("options['instance'] must be an LLMInstance, got "
                             f"{type(instance).__name__}")
        self.cluster = LLMCluster(instance, self.preset, self.replicas, self.local_scheduler,
                                  self.max_batch_size, self.token_budget, self.idle_step,
                                  self.window, seed=int(self.np_random.integers(2**31)),
                                  compiled=self.render_mode is None,
                                  record=self.render_mode is not None)
        self._steps = 0
        self._encode()
        return self.observation(), self._info(final=self.cluster.done)

    def step(self, action: Any):  # noqa: ANN201
        if self.cluster is None:
            raise RuntimeError("call reset() before step()")
        if self.cluster.pending is None:
            raise RuntimeError("the episode has ended: call reset()")
        earned = self.cluster.route(self._check_action(action))
        self._steps += 1
        terminated = self.cluster.done
        truncated = not terminated and self.cluster.truncated
        self._encode()
        return (self.observation(), earned * self.reward_scale, terminated, truncated,
                self._info(terminated or truncated))

    # ------------------------------------------------------------------ actions

    @property
    def state(self) -> LLMCluster | None:
        """The cluster (``cluster``), ``None`` before the first reset."""
        return self.cluster

    def node_of(self, replica: int) -> int:
        """The pointer action that routes the pending request to ``replica``."""
        if not 0 <= replica < self.replicas:
            raise ValueError(f"replica {replica} is not in [0, {self.replicas})")
        return int(replica)

    def _render_frame(self) -> np.ndarray:
        """The timeline picture of the episode so far (:mod:`envs.llm.timeline`)."""
        if self.cluster is None:
            raise RuntimeError("call reset() before render()")
        from schedgym.envs.llm.timeline import render_timeline

        return render_timeline(self.cluster.replicas)

    def _info(self, final: bool) -> dict[str, Any]:
        cluster = self.cluster
        if final:
            return {**cluster.metrics(), "steps": self._steps}
        return {"time": cluster.time, "requests_done": cluster.requests_done,
                "goodput_tokens": cluster.goodput_tokens, "steps": self._steps}

    # ------------------------------------------------------------------ observation encoding

    def _encode(self) -> None:
        cluster, obs, k = self.cluster, self._obs, self.replicas
        instance, nodes = cluster.instance, obs["nodes"]
        sims = cluster.replicas
        capacity = np.asarray([sim.capacity for sim in sims], np.float64)
        free = np.asarray([sim.state.free_blocks for sim in sims], np.float64)
        queued_kv = np.asarray([queued_blocks(sim) for sim in sims], np.float64)
        running = np.asarray([len(sim.running) for sim in sims], np.float64)
        queued = np.asarray([len(sim.queue) for sim in sims], np.float64)
        outstanding = cluster.outstanding().astype(np.float64)
        routed = cluster.routed_counts()
        replica_columns = {
            "free_kv": free / capacity, "queued_kv": queued_kv / capacity,
            "running": running / self.max_batch_size, "queued": queued / self.window,
            "outstanding": outstanding / self.max_batch_size,
            "prefill_left": [queued_prefill_tokens(sim) / self.token_budget for sim in sims],
            "freeness": (free - queued_kv) / np.maximum(running + queued, 1) / capacity,
            "routed_share": routed / max(cluster.next_request, 1),
        }
        nodes[:, 2:] = 0.0
        for name, values in replica_columns.items():
            nodes[:k, _F[name]] = values
        request = cluster.pending
        obs["node_mask"][:k] = 1
        obs["node_mask"][k] = request is not None
        obs["edge_index"][:] = 0
        obs["edge_attr"][:] = 0.0
        obs["edge_mask"][:] = 0
        mask = obs["action_mask"]
        mask[:] = 0
        if request is None:
            mask[:k] = 1  # a terminal state keeps node 0 legal, as every state must
        else:
            need = float(blocks_for(int(instance.prompt_tokens[request])))
            self._encode_request(request, need)
            replicas = np.arange(k)
            obs["edge_index"][0, :k], obs["edge_index"][1, :k] = self._request, replicas
            obs["edge_index"][0, k:], obs["edge_index"][1, k:] = replicas, self._request
            obs["edge_mask"][:] = 1
            obs["edge_attr"][:k, 0] = obs["edge_attr"][k:, 0] = (free - queued_kv - need) / capacity
            mask[:k] = blocks_for(int(instance.prompt_tokens[request]) + 1) <= capacity
        obs["globals"][:] = (
            cluster.next_request / max(instance.num_requests, 1),
            cluster.requests_done / max(instance.num_requests, 1),
            outstanding.sum() / (k * self.max_batch_size), free.sum() / capacity.sum(),
        )

    def _encode_request(self, request: int, need: float) -> None:
        cluster = self.cluster
        instance, row = cluster.instance, self._obs["nodes"][self._request]
        service = np.sum([sim.state.tenant_service for sim in cluster.replicas], axis=0)
        mean_service = service.mean() if service.any() else 1.0
        tenant = instance.tenant[request]
        columns = {
            "prompt_tokens": instance.prompt_tokens[request] / TOKEN_SCALE,
            "prompt_kv": need * 100.0 / cluster.replicas[0].capacity,
            "max_new_tokens": instance.max_new_tokens[request] / TOKEN_SCALE,
            "ttft_slo": instance.ttft_slo[request], "tpot_slo": instance.tpot_slo[request] * 10.0,
            "tenant_share": service[tenant] / mean_service,
            "tenant_weight": instance.tenant_weight[tenant],
        }
        for name, value in columns.items():
            row[_F[name]] = value


__all__ = ["LLMClusterEnv", "NODE_FEATURES", "EDGE_FEATURES", "GLOBAL_FEATURES"]
