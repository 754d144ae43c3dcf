"""``schedgym/LLMServe-v0``: iteration-level request batching on an LLM serving replica.

This module is the Gymnasium facade: arguments, spaces, pointer actions, observation encoding,
rewards and ``info``. The dynamics live in :mod:`envs.llm.sim`, the cost model and presets in
:mod:`envs.llm.cost`, the workloads in :mod:`envs.llm.generator` and :mod:`data.azure_llm`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from schedgym.envs.graph import NOOP_NODE, GraphEnv, GraphSpec
from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.sim import PAUSE, RUN, LLMSim, Op, apply
from schedgym.envs.llm.types import PREFILLING, RUNNING, WAITING, LLMInstance
from schedgym.envs.llm.workload import WorkloadOptions, WorkloadSource, check_preset
from schedgym.envs.validation import check_float, check_int

RUN_NODE = NOOP_NODE  # run the batch formed so far
PAUSE_NODE = 1  # make this iteration prefill-only
BUDGETS = (256, 512, 1024, 2048)  # token budgets a scheduler may lower an iteration to
REPLICA_NODE = 2 + len(BUDGETS)
QUEUE_NODE0 = REPLICA_NODE + 1  # the first queue slot; the window's slots, then the running ones

NODE_FEATURES = (
    "is_run", "is_pause", "is_budget", "is_replica", "is_request",
    "budget_tokens",
    "waiting", "prefilling", "running", "picked", "recomputing",
    "prompt_tokens", "generated_tokens", "prefill_left", "kv_blocks", "max_new_tokens",
    "waiting_time", "ttft_slack", "token_slack", "ttft_slo", "tpot_slo",
    "tenant_share", "tenant_weight", "restarts", "pick_chunk",
    "free_kv", "batch_tokens", "decodes", "budget_left", "paused", "queue_length",
)
EDGE_FEATURES = ("kv_share",)
GLOBAL_FEATURES = ("queue_length", "hidden_queue", "running", "free_kv", "budget_left", "paused",
                   "done_fraction")
_F = {name: i for i, name in enumerate(NODE_FEATURES)}
TOKEN_SCALE = 1000.0  # token counts in features are in thousands
SLACK_CLIP = 10.0  # slacks are in SLO units, clipped to ±10


class ReplicaArguments(NamedTuple):
    """The checked arguments of one serving replica (see :func:`check_replica_arguments`)."""

    preset: HardwarePreset
    max_batch_size: int
    token_budget: int
    window: int
    idle_step: float
    max_steps: int | None


def check_replica_arguments(preset: Any, max_batch_size: Any, token_budget: Any, window: Any,
                            idle_step: Any, max_steps: Any) -> ReplicaArguments:
    """The replica arguments of :class:`LLMServeEnv` checked by the rules of
    :mod:`schedgym.envs.validation`; the headless runner (``envs.llm.fastsim``) calls it too,
    so both refuse the same values with the same messages.

    Raises:
        schedgym.envs.validation.ArgumentError: Naming the argument, its value and what is
            allowed (also a ``TypeError`` for a value of the wrong type).
    """
    preset = check_preset(preset)
    return ReplicaArguments(
        preset,
        check_int("max_batch_size", max_batch_size, low=1, high=4096),
        check_int("token_budget", token_budget, low=1, high=preset.max_model_len * 64),
        check_int("window", window, low=1, high=4096),
        check_float("idle_step", idle_step, low=0.0, high=3600.0, low_open=True),
        None if max_steps is None else check_int("max_steps", max_steps, low=1))


class LLMServeEnv(GraphEnv):
    """Schedule LLM inference requests, iteration by iteration, on one serving replica.

    ## Description
    A replica serves one model on one GPU (a preset: Llama-2-7B on an A100-80GB by default).
    Requests arrive with a prompt; each needs a prefill (the whole prompt, possibly in chunks)
    and then one decode iteration per further output token. The replica runs *iterations*: a
    batch of prefill chunks plus one token for every running request (continuous batching),
    lasting what the preset's cost model says (``envs.llm.cost``). The KV cache is paged in
    blocks of 16 tokens; a request holds the blocks of its context. When decodes need a block
    and none is free, the most recently admitted KV holders are preempted and later recomputed
    (vLLM's default); preempted requests keep their timestamps and count restarts. Every request
    has a tenant and per-request TTFT and TPOT SLOs (JITServe-style classes).

    The scheduler decides at iteration boundaries where a request waits; while nothing waits,
    the replica decodes (or idles until the next arrival) without asking. Decisions per
    simulated second are thus at most (1 / the shortest iteration, 10 ms on the A100 preset) ×
    (1 + the picks, preemptions, budget and pause actions of a boundary).

    ## Action Space
    ``Discrete(N_MAX)`` pointers. Node 0 RUN executes the batch formed so far (legal in every
    state; with an empty batch it idles to the next arrival, legal but never useful). Node 1
    PAUSE makes this iteration prefill-only (vLLM's prefill-first batches; before any pick, with
    decodes running). Nodes 2-5 lower this iteration's token budget to 256/512/1024/2048
    (before any pick; Sarathi-Serve's chunk budgets). Node 6 is the replica (never an action).
    Then ``window`` queue slots — the queued requests a scheduler may pick, shown in arrival
    order: the oldest ``window`` with one tenant; with several, the first ``window`` in
    round-robin order over the tenants (each tenant's oldest, then each one's second oldest, ...,
    one round's requests by arrival; ``envs.llm.sim.round_robin_window``), so that a flooding
    tenant cannot hide the others from a fair scheduler. Pointing at one *picks* it: its next
    prefill chunk, ``min(prefill left, budget left)`` tokens, joins the batch if the batch-size
    cap (running requests, paused or not, plus picks) and the free KV blocks (after the decodes'
    needs) allow. Then ``max_batch_size`` running slots; pointing at one *preempts* it (frees
    its KV; it is recomputed later). Every published batching policy is a sequence of these
    actions (``baselines/llm/``). Illegal actions raise ``ValueError``.

    ## Observation Space
    The padded graph of ``envs.graph``. Nodes: the control nodes (budget value on budget
    nodes), the replica (free KV share, batch tokens and decodes so far, budget left, paused,
    queue length) and one node per shown request: status (waiting / prefilling / running,
    picked, recomputing), prompt, generated and prefill-left tokens, KV blocks held, max new
    tokens, waiting time, TTFT slack and next-token slack in SLO units (JITServe's per-token
    deadlines), its SLOs, its tenant's service share and weight, restarts, and the chunk a pick
    would schedule now. The true output length is never shown. Edges join every node to the
    replica, both ways, with the request's share of the KV cache. Globals: queue length, queued
    requests beyond the window, running share, free KV, budget left, paused, share of requests
    done.

    ## Rewards
    The JITServe token goodput earned by each step times ``reward_scale`` (per 1,000 tokens by
    default): a request earns its prompt tokens if its first token meets its TTFT SLO, and each
    output token ``k`` (0-based) delivered by ``arrival + TTFT_slo + k · TPOT_slo``. The return is
    the episode's ``goodput_tokens`` × ``reward_scale``. With ``fairness_weight`` w > 0 each step
    also pays w × the growth of VTC's ``max_service_gap`` that step (in service units: weighted
    input + 2 × output tokens), so the return is ``(goodput_tokens − w × max_service_gap) ×
    reward_scale``: a fairness/goodput trade-off in the reward for multi-tenant workloads.

    ## Starting State
    The first request's arrival; the workload is ``options["instance"]`` (an
    :class:`LLMInstance`, e.g. from :meth:`load_instance_set`), else the replayed ``trace``,
    else sampled from the generator with ``workload``/``rate``/``num_requests``.

    ## Episode End
    Terminated when every request has completed; truncated after ``max_steps`` steps (default
    ``4 × (requests + output tokens) + 1000``, a guard against policies that never run work).

    ``info`` carries ``time`` and ``requests_done`` and ``goodput_tokens`` at every step, and at
    the episode's end every metric of :func:`envs.llm.sim.episode_metrics`: ``ttft_mean``,
    ``ttft_p50``/``p90``/``p99``, ``tpot_mean``/``p99`` (per request), ``tbt_p99`` (over all
    token gaps), ``e2e_mean``/``p99``, ``scheduling_delay_p50``/``p99``, ``throughput_rps``,
    ``throughput_tps``, ``slo_attainment`` (share of the workload's requests that completed
    meeting both SLOs: in a truncated episode the unfinished ones count as misses),
    ``token_goodput`` (tokens per second), ``preemptions``, ``kv_utilization_mean``, ``tenant_service`` (weighted
    input + 2 × output tokens per tenant, VTC's measure), ``fairness_jain`` (Jain's index of the
    tenants' SLO attainment) and ``max_service_gap`` (VTC's: the largest service difference of two tenants over an
    interval in which both were backlogged). Times in seconds. The statistics over completed
    requests (TTFT, TPOT, E2E, scheduling delay) and SLO attainment are NaN while none has
    completed, ``tbt_p99`` while no request has two tokens (an episode truncated early).

    ## Arguments
    - ``preset``: a name of ``envs.llm.cost.PRESETS`` or a ``HardwarePreset``.
    - ``max_batch_size``: most requests per iteration (default 128, Vidur's vLLM setting).
    - ``token_budget``: most tokens per iteration (default 4096, vLLM's ``max_num_batched_tokens``
      in Vidur).
    - ``window``: queue slots in the observation (default 64).
    - ``workload``, ``rate``, ``num_requests``, ``generator_config``: the sampled workload
      (``envs.llm.generator.sample_instance``); defaults "conversation", 3 req/s, 400 requests.
    - ``trace``, ``rate_scale``, ``trace_start``, ``trace_duration``: replay an Azure LLM trace
      file (``data.azure_llm``), its rate scaled, optionally a window of it.
    - ``reward_scale``: reward per goodput token (default 1e-3).
    - ``fairness_weight``: goodput tokens charged per unit of ``max_service_gap`` growth, in
      [0, 10^6] (default 0: goodput alone).
    - ``idle_step``: seconds an empty RUN idles when no arrival is left (default 0.01).
    - ``max_steps``: truncation limit (default above).
    - ``render_mode``: ``None`` (default) or ``"rgb_array"``: ``render()`` then returns the
      timeline of the episode so far (``envs.llm.timeline``: prefill and decode tokens per
      second, KV use, TTFT and TBT CDFs); the sim then runs the numpy reference of its
      iterations, which logs them (the same episode, bit for bit, slower).

    ## What baselines may read
    Baselines may read the simulation through ``env.unwrapped`` (learned policies only the
    observation) and act through operations (``envs.llm.sim.Op``):

    - ``sim`` (:class:`envs.llm.sim.LLMSim`): ``state`` (:class:`envs.llm.types.LLMState`),
      ``instance`` (true output lengths are the oracle field), ``queue``, ``visible_queue()``,
      ``running``, ``pickable(requests)``, ``chunk_if_picked(r)``, ``preemptible(requests)``,
      ``decode_blocks_needed()``, ``capacity``, ``preset``, ``max_batch_size``, ``token_budget``.
      Read it; change it only through :meth:`node_of` actions.
    - ``node_of(op) -> int``: the pointer action of an operation.
    - ``action_masks() -> np.ndarray``: the legal actions, (N_MAX,) bool.

    ## Version History
    - v0: initial release. While v0 had no trained policy, the queue window of multi-tenant
      instances became round-robin over the tenants (it had been the oldest ``window``
      requests, which one flooding tenant could fill). The id was kept: single-tenant
      instances are unchanged bit for bit, no shipped policy depends on the window, and the
      multi-tenant leaderboard figures were measured again. Later ``render_mode="rgb_array"``
      (a timeline picture), which changes no episode, and ``fairness_weight`` (default 0
      leaves every reward as it was). ``slo_attainment`` of a truncated episode then counted
      its unfinished requests as misses (it had been over the completed ones; a finished
      episode's figure is unchanged): a policy that stops serving requests no longer looks
      better for it.
    """

    leaderboard_metrics = ("slo_attainment", "token_goodput", "ttft_p50", "ttft_p99", "tpot_p99",
                           "tbt_p99", "e2e_p99", "throughput_rps", "preemptions", "fairness_jain",
                           "max_service_gap")
    known_dynamics = True

    def __init__(
        self,
        preset: str | HardwarePreset = "llama2-7b-a100",
        max_batch_size: int = 128,
        token_budget: int = 4096,
        window: int = 64,
        workload: str = "conversation",
        rate: float = 3.0,
        num_requests: int = 400,
        generator_config: dict[str, Any] | None = None,
        trace: str | Path | None = None,
        rate_scale: float = 1.0,
        trace_start: float = 0.0,
        trace_duration: float | None = None,
        reward_scale: float = 1e-3,
        fairness_weight: float = 0.0,
        idle_step: float = 0.01,
        max_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        self._init_render(render_mode)
        (self.preset, self.max_batch_size, self.token_budget, self.window, self.idle_step,
         self.max_steps) = check_replica_arguments(preset, max_batch_size, token_budget, window,
                                                   idle_step, max_steps)
        self.source = WorkloadSource(
            workload=workload, rate=rate, num_requests=num_requests,
            generator_config=generator_config, trace=trace, rate_scale=rate_scale,
            trace_start=trace_start, trace_duration=trace_duration)
        self.workload, self.rate = self.source.workload, self.source.rate
        self.num_requests, self.workload_options = self.source.num_requests, self.source.options
        self.reward_scale = check_float("reward_scale", reward_scale, low=0.0, high=1e6, low_open=True)
        self.fairness_weight = check_float("fairness_weight", fairness_weight, low=0.0, high=1e6)
        self._replica, self._queue0 = REPLICA_NODE, QUEUE_NODE0
        self._run0 = self._queue0 + self.window
        n_max = self._run0 + self.max_batch_size
        self._init_spaces(GraphSpec(n_max, 2 * (n_max - 1), NODE_FEATURES, EDGE_FEATURES, GLOBAL_FEATURES),
                          sized_by={"window": self.window, "max_batch_size": self.max_batch_size})
        self._static_nodes()
        self.sim: LLMSim | None = None
        # The requests shown on the queue and running slots, in slot order.
        self._shown_queue: list[int] = []
        self._shown_running: list[int] = []

    # ------------------------------------------------------------------ Gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # noqa: ANN201
        super().reset(seed=seed)
        instance = (options or {}).get("instance")
        if instance is None:
            instance = self.source.sample(self.np_random, self.preset.max_model_len)
        elif not isinstance(instance, LLMInstance):
            raise ValueError(f"options['instance'] must be an LLMInstance, got {type(instance).__name__}")
        # A picture needs every iteration: the numpy reference logs them (the same episode).
        record = self.render_mode is not None
        self.sim = LLMSim(instance, self.preset, self.max_batch_size, self.token_budget, self.idle_step,
                          self.window, compiled=not record, record=record)
        self._steps = 0
        self._limit = self.max_steps or 4 * (instance.num_requests + int(instance.output_tokens.sum())) + 1000
        self._encode()
        return self.observation(), self._info(final=self.sim.done)

    def step(self, action: Any):  # noqa: ANN201
        if self.sim is None:
            raise RuntimeError("call reset() before step()")
        node = self._check_action(action)
        gap = self.sim.max_service_gap
        earned = apply(self.sim, self._op_of(node))
        if self.fairness_weight:
            earned -= self.fairness_weight * (self.sim.max_service_gap - gap)
        self._steps += 1
        terminated = self.sim.done
        truncated = not terminated and self._steps >= self._limit
        self._encode()
        return self.observation(), earned * self.reward_scale, terminated, truncated, self._info(terminated or truncated)

    # ------------------------------------------------------------------ actions

    @property
    def state(self):  # noqa: ANN201
        """The replica state (``sim.state``), ``None`` before the first reset."""
        return None if self.sim is None else self.sim.state

    def node_of(self, op: Op) -> int:
        """The pointer action of operation ``op`` (see ``envs.llm.sim.apply``).

        Raises:
            ValueError: If the operation has no node now (a request not shown, a budget not offered).
        """
        return node_of_op(op, self.window, self._shown_queue, self._shown_running)

    def _op_of(self, node: int) -> Op:
        return op_of_node(node, self.window, self._shown_queue, self._shown_running)

    def finish_headless(self, scheduler: Any) -> tuple[dict[str, Any], list[int]] | None:
        """Plays the episode begun by ``reset`` (and ``scheduler.reset``) to its end on the
        headless path (:func:`envs.llm.fastsim.play`), calling the simulator directly instead of
        encoding an observation every step: bit-identical to stepping the env with the
        scheduler's actions (tested), and the env is left as those steps would leave it (the
        last observation encoded). ``policies.evaluation.run_episode`` calls it.

        Returns:
            The final ``info`` and the actions taken, or None (nothing done) if ``scheduler``
            has no headless form (:func:`envs.llm.fastsim.headless_driver`: learned policies
            read observations) or the episode has ended.
        """
        from schedgym.envs.llm.fastsim import headless_driver, play

        driver = headless_driver(scheduler)
        if self.sim is None or driver is None or self.sim.done or self._steps >= self._limit:
            return None
        actions: list[int] = []
        self._steps += play(self.sim, driver, self._limit - self._steps, actions)
        self._encode()
        return self._info(final=True), actions

    def observe(self, sim: LLMSim) -> dict[str, np.ndarray]:
        """The observation of ``sim``, a simulator this env did not reset: how an external
        simulator whose state is mirrored into an ``LLMSim`` (``envs.llm.vidur``) is shown to a
        policy. The env then acts on ``sim`` (``node_of``, ``action_masks``) as after a reset."""
        self.sim = sim
        self._encode()
        return self.observation()

    def _render_frame(self) -> np.ndarray:
        """The timeline picture of the episode so far (:mod:`envs.llm.timeline`)."""
        if self.sim is None:
            raise RuntimeError("call reset() before render()")
        from schedgym.envs.llm.timeline import render_timeline

        return render_timeline([self.sim])

    def _info(self, final: bool) -> dict[str, Any]:
        sim = self.sim
        if final:
            return {**sim.metrics(), "steps": self._steps}
        return {"time": sim.state.time, "requests_done": sim._done_count,
                "goodput_tokens": int(sim.state.goodput_tokens.sum()), "steps": self._steps}

    # ------------------------------------------------------------------ observation encoding

    def _static_nodes(self) -> None:
        """The control nodes and the replica never change their type or budget value."""
        nodes = self._obs["nodes"]
        nodes[RUN_NODE, _F["is_run"]] = 1.0
        nodes[PAUSE_NODE, _F["is_pause"]] = 1.0
        for k, budget in enumerate(BUDGETS):
            nodes[2 + k, _F["is_budget"]] = 1.0
            nodes[2 + k, _F["budget_tokens"]] = budget / self.token_budget
        nodes[self._replica, _F["is_replica"]] = 1.0

    def _encode(self) -> None:
        sim, obs = self.sim, self._obs
        st, instance = sim.state, sim.instance
        queue, running = np.asarray(sim.visible_queue(), np.int64), np.asarray(sim.running, np.int64)
        n_control = self._queue0
        nodes, mask = obs["nodes"], obs["action_mask"]
        nodes[n_control:] = 0.0
        self._shown_queue, self._shown_running = queue.tolist(), list(sim.running)
        rows = np.concatenate([self._queue0 + np.arange(len(queue)), self._run0 + np.arange(len(running))])
        requests = np.concatenate([queue, running])
        self._encode_requests(rows, requests)
        self._encode_replica(len(sim.queue))
        obs["node_mask"][:] = 0
        obs["node_mask"][:n_control] = 1
        obs["node_mask"][rows] = 1
        # Edges: every real node <-> the replica.
        others = np.concatenate([np.setdiff1d(np.arange(n_control), [self._replica]), rows])
        k = len(others)
        obs["edge_index"][:] = 0
        obs["edge_index"][0, :k], obs["edge_index"][1, :k] = others, self._replica
        obs["edge_index"][0, k:2 * k], obs["edge_index"][1, k:2 * k] = self._replica, others
        obs["edge_mask"][:] = 0
        obs["edge_mask"][:2 * k] = 1
        obs["edge_attr"][:] = 0.0
        share = np.zeros(k, np.float32)
        share[n_control - 1:] = st.kv_blocks[requests] / sim.capacity
        obs["edge_attr"][:k, 0] = obs["edge_attr"][k:2 * k, 0] = share
        chunks = sim.pick_chunks(queue)
        fill_action_mask(mask, sim, queue, running, chunks)
        nodes[self._queue0:self._queue0 + len(queue), _F["pick_chunk"]] = chunks / self.token_budget
        obs["globals"][:] = (
            len(sim.queue) / self.window, max(len(sim.queue) - self.window, 0) / self.window,
            len(sim.running) / self.max_batch_size, st.free_blocks / sim.capacity,
            max(st.budget - st.batch_tokens, 0) / self.token_budget, float(sim.paused),
            sim._done_count / max(instance.num_requests, 1),
        )

    def _encode_requests(self, rows: np.ndarray, requests: np.ndarray) -> None:
        sim, nodes = self.sim, self._obs["nodes"]
        st, instance, now = sim.state, sim.instance, sim.state.time
        status = st.status[requests]
        ttft_slo, tpot_slo = instance.ttft_slo[requests], instance.tpot_slo[requests]
        arrival = instance.arrival[requests]
        started = ~np.isnan(st.first_token[requests])
        ttft_slack = np.where(started, 0.0, (arrival + ttft_slo - now) / ttft_slo)
        next_deadline = arrival + ttft_slo + st.generated[requests] * tpot_slo
        service = st.tenant_service
        mean_service = service.mean() if service.any() else 1.0
        tenants = instance.tenant[requests]
        columns = {
            "is_request": 1.0,
            "waiting": status == WAITING, "prefilling": status == PREFILLING, "running": status == RUNNING,
            "picked": st.picked[requests] > 0, "recomputing": (st.restarts[requests] > 0) & (status != RUNNING),
            "prompt_tokens": instance.prompt_tokens[requests] / TOKEN_SCALE,
            "generated_tokens": st.generated[requests] / TOKEN_SCALE,
            "prefill_left": (st.prefill_target[requests] - st.prefilled[requests]) * (status != RUNNING) / TOKEN_SCALE,
            "kv_blocks": st.kv_blocks[requests] * 100.0 / sim.capacity,
            "max_new_tokens": instance.max_new_tokens[requests] / TOKEN_SCALE,
            "waiting_time": now - arrival,
            "ttft_slack": np.clip(ttft_slack, -SLACK_CLIP, SLACK_CLIP),
            "token_slack": np.clip((next_deadline - now) / tpot_slo, -SLACK_CLIP, SLACK_CLIP),
            "ttft_slo": ttft_slo, "tpot_slo": tpot_slo * 10.0,
            "tenant_share": service[tenants] / mean_service, "tenant_weight": instance.tenant_weight[tenants],
            "restarts": st.restarts[requests],
        }
        for name, values in columns.items():
            nodes[rows, _F[name]] = values

    def _encode_replica(self, queue_length: int) -> None:
        sim, st = self.sim, self.sim.state
        row = self._obs["nodes"][self._replica]
        row[_F["is_replica"]] = 1.0
        row[_F["free_kv"]] = st.free_blocks / sim.capacity
        row[_F["batch_tokens"]] = st.batch_tokens / self.token_budget
        row[_F["decodes"]] = (0 if sim.paused else len(sim.running)) / self.max_batch_size
        row[_F["budget_left"]] = max(st.budget - st.batch_tokens, 0) / self.token_budget
        row[_F["paused"]] = float(sim.paused)
        row[_F["queue_length"]] = queue_length / self.window


def fill_action_mask(mask: np.ndarray, sim: LLMSim, queue: np.ndarray, running: np.ndarray,
                     chunks: np.ndarray) -> None:
    """Writes the legal actions of ``sim`` into ``mask``, (N_MAX,): the env's ``action_mask``.

    Args:
        mask: The mask to fill (every entry is written).
        sim: The simulator at a decision.
        queue: Its visible queue (``sim.visible_queue()``), as shown on the queue slots.
        running: Its running requests (``sim.running``), as shown on the running slots.
        chunks: ``sim.pick_chunks(queue)``.
    """
    mask[:] = 0
    mask[RUN_NODE] = 1
    mask[PAUSE_NODE] = not sim.paused and not sim._picks and bool(sim.running)
    if not sim._picks:
        mask[2:2 + len(BUDGETS)] = np.asarray(BUDGETS) < sim.state.budget
    mask[QUEUE_NODE0:QUEUE_NODE0 + len(queue)] = chunks > 0
    run0 = QUEUE_NODE0 + sim.window
    mask[run0:run0 + len(running)] = sim.preemptible(running)


def node_of_op(op: Op, window: int, queue: Sequence[int], running: Sequence[int]) -> int:
    """The pointer action of operation ``op`` when ``queue`` and ``running`` are shown (see
    :func:`fill_action_mask`) with ``window`` queue slots.

    Raises:
        ValueError: If the operation has no node (a request not shown, a budget not offered).
    """
    kind, argument = op
    if kind == "run":
        return RUN_NODE
    if kind == "pause":
        return PAUSE_NODE
    if kind == "budget":
        if argument not in BUDGETS:
            raise ValueError(f"budget {argument} is not one of {BUDGETS}")
        return 2 + BUDGETS.index(argument)
    slots = {"pick": (queue, QUEUE_NODE0), "preempt": (running, QUEUE_NODE0 + window)}
    shown, first = slots.get(kind, ((), 0))
    try:
        return first + list(shown).index(argument)
    except ValueError:
        raise ValueError(f"operation {op!r} has no node in this state") from None


def op_of_node(node: int, window: int, queue: Sequence[int], running: Sequence[int]) -> Op:
    """The operation of pointer action ``node`` (a legal one) when ``queue`` and ``running``
    are shown with ``window`` queue slots; the inverse of :func:`node_of_op`."""
    if node == RUN_NODE:
        return RUN
    if node == PAUSE_NODE:
        return PAUSE
    if node < REPLICA_NODE:
        return ("budget", BUDGETS[node - 2])
    if node < QUEUE_NODE0 + window:
        return ("pick", int(queue[node - QUEUE_NODE0]))
    return ("preempt", int(running[node - QUEUE_NODE0 - window]))


__all__ = ["LLMServeEnv", "WorkloadOptions", "NODE_FEATURES", "EDGE_FEATURES", "GLOBAL_FEATURES",
           "BUDGETS", "ReplicaArguments", "check_replica_arguments"]
