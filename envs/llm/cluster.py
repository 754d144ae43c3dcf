"""Several LLM serving replicas behind a router, sharing one arrival stream and one clock.

Each replica is an :class:`envs.llm.sim.LLMSim` in routed mode (requests arrive only when the
router sends them) driven by its own *local scheduler*, one of the registered rule-based
baselines of ``schedgym/LLMServe-v0`` (``fcfs``, vLLM, by default), headlessly through
``envs.llm.sim.apply`` as ``envs.llm.fastsim`` drives one replica. The router makes one
decision per arrival: which replica serves the request.

Event order, exactly: before request ``i`` is routed, every replica runs until its first
iteration boundary at or after ``arrival[i]`` (iterations are atomic: one in progress at the
arrival finishes, and a request that arrives during an iteration joins a queue at its end, as
on one replica); an idle replica waits at its last boundary. The router then sees every replica
at that boundary and assigns request ``i``, which joins the chosen replica's queue before any
decision there (an idle replica's clock moves to the arrival). Requests arriving at the same
time are routed one by one in id order, each decision seeing the previous ones. After the last
arrival every replica runs to completion. With one replica this is the single-replica
simulator, bit for bit (tested). Everything is deterministic given the instance, the routing
decisions and the local schedulers' seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.sim import RUN, LLMSim, _BacklogGaps, apply, blocks_for, episode_metrics
from schedgym.envs.llm.types import LLMInstance, LLMState

#: The env whose rule-based baselines serve as local schedulers.
REPLICA_ENV_ID = "schedgym/LLMServe-v0"


def queued_blocks(sim: LLMSim) -> int:
    """KV blocks the queued requests of a replica still need to hold their whole prefill (a
    partial prefill counts what it does not hold yet): Llumnix's demand of the waiting
    requests (``num_blocks_all_waiting_requests``)."""
    if not sim.queue:
        return 0
    rows = np.asarray(sim.queue, np.int64)
    st = sim.state
    return int((blocks_for(st.prefill_target[rows]) - st.kv_blocks[rows]).sum())


def queued_prefill_tokens(sim: LLMSim) -> int:
    """Prefill tokens the queued requests of a replica still need (recomputation included)."""
    if not sim.queue:
        return 0
    rows = np.asarray(sim.queue, np.int64)
    return int((sim.state.prefill_target[rows] - sim.state.prefilled[rows]).sum())


def make_local_scheduler(name: str) -> Any:
    """A fresh local scheduler: the ``LLMServe-v0`` baseline ``name`` (a ``BatchScheduler``).

    Raises:
        ValueError: If ``name`` is not a rule-based baseline with a headless path.
    """
    from schedgym import baselines

    known = name in baselines.names(REPLICA_ENV_ID)
    scheduler = baselines.make(REPLICA_ENV_ID, name) if known else None
    if not hasattr(scheduler, "next_op"):
        raise ValueError(f"{name!r} cannot schedule a replica headlessly; local schedulers: "
                         f"{', '.join(local_scheduler_names())}")
    return scheduler


def local_scheduler_names() -> tuple[str, ...]:
    """The baselines of ``LLMServe-v0`` that can be local schedulers (all but ``random``,
    which acts on observations only)."""
    from schedgym import baselines

    return tuple(name for name in baselines.names(REPLICA_ENV_ID) if name != "random")


_PER_REQUEST_STATE = ("status", "prefilled", "prefill_target", "generated", "kv_blocks",
                      "admitted_at", "first_token", "last_token", "finish", "restarts",
                      "goodput_tokens", "picked")


@dataclass
class _Merged:
    """The attributes of a replica that ``episode_metrics`` reads, over the whole cluster: each
    request's state from the replica it was routed to, counts and integrals summed."""

    instance: LLMInstance
    state: LLMState
    first_scheduled: np.ndarray
    _gaps: np.ndarray
    _gap_count: int
    preemptions: int
    iterations: int
    _kv_block_seconds: float
    capacity: int
    _backlog: _BacklogGaps

    @property
    def max_service_gap(self) -> float:
        return self._backlog.max_gap


class LLMCluster:
    """K identical replicas, one local scheduler each, and the routing decisions in between.

    Args:
        instance: The workload; every request must fit one replica (context and KV cache).
        preset: Hardware and model of every replica.
        replicas: K ≥ 1.
        local_scheduler: Name of a baseline of ``LLMServe-v0`` (:func:`local_scheduler_names`).
        max_batch_size, token_budget, idle_step, window: Each replica's, as in ``LLMSim``.
        seed: Replica k's local scheduler is seeded ``seed + k`` (only ``past_future`` draws).
        compiled: Run the replicas' iterations in the numba kernel (see ``LLMSim``).
        record: Log the replicas' iterations (``LLMSim``'s ``record``; needs ``compiled=False``).

    Raises:
        ValueError: If a request cannot be served or the local scheduler is not one.
    """

    def __init__(self, instance: LLMInstance, preset: HardwarePreset, replicas: int,
                 local_scheduler: str = "fcfs", max_batch_size: int = 128, token_budget: int = 4096,
                 idle_step: float = 0.01, window: int = 64, seed: int = 0,
                 compiled: bool = True, record: bool = False) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be ≥ 1, got {replicas!r}")
        self.instance = instance
        self.replicas = [LLMSim(instance, preset, max_batch_size, token_budget, idle_step, window,
                                compiled, routed=True, record=record) for _ in range(replicas)]
        self.schedulers = [make_local_scheduler(local_scheduler) for _ in range(replicas)]
        for k, (sim, scheduler) in enumerate(zip(self.replicas, self.schedulers)):
            scheduler.reset_sim(sim, seed + k)
        n = instance.num_requests
        self.assignment = np.full(n, -1, np.int64)  # (R,) replica of each routed request
        self.next_request = 0  # requests [0, next_request) are routed
        self.truncated = False  # the local schedulers exceeded the operation limit
        # As the single-replica env's max_steps default: a guard against a scheduler that idles.
        self._operation_limit = 4 * (n + int(instance.output_tokens.sum())) + 1000
        self.operations = 0  # local scheduling operations applied, over every replica
        self._backlog = _BacklogGaps(instance.num_tenants)
        self._goodput = 0
        # Sums over routing decisions of the largest and of the mean outstanding count.
        self._outstanding_max = self._outstanding_mean = 0.0

    # ------------------------------------------------------------------ queries

    @property
    def num_replicas(self) -> int:
        return len(self.replicas)

    @property
    def pending(self) -> int | None:
        """The request to route now (arrival order), None once every request is routed."""
        return self.next_request if self.next_request < self.instance.num_requests else None

    @property
    def done(self) -> bool:
        """Whether every request has been routed and completed."""
        return self.pending is None and all(sim.done for sim in self.replicas)

    @property
    def time(self) -> float:
        """The arrival of the pending request; at the end, the last replica's clock."""
        if self.pending is not None:
            return float(self.instance.arrival[self.pending])
        return max(sim.state.time for sim in self.replicas)

    @property
    def goodput_tokens(self) -> int:
        """JITServe goodput tokens earned so far, over every replica."""
        return self._goodput

    @property
    def requests_done(self) -> int:
        return sum(sim._done_count for sim in self.replicas)

    def outstanding(self) -> np.ndarray:
        """(K,) requests routed to each replica and not completed."""
        return np.asarray([sim.outstanding for sim in self.replicas], np.int64)

    def routed_counts(self) -> np.ndarray:
        """(K,) requests routed to each replica so far."""
        routed = self.assignment[:self.next_request]
        return np.bincount(routed, minlength=self.num_replicas)

    # ------------------------------------------------------------------ routing

    def route(self, replica: int) -> int:
        """Routes the pending request to ``replica``, then runs every replica to the next arrival
        (after the last one, to completion).

        Returns:
            The goodput tokens the cluster earned meanwhile.

        Raises:
            ValueError: If no request is pending or ``replica`` is out of range.
        """
        request = self.pending
        if request is None or not 0 <= replica < self.num_replicas:
            raise ValueError(f"cannot route request {request} to replica {replica} "
                             f"of {self.num_replicas}")
        outstanding = self.outstanding()
        self._outstanding_max += float(outstanding.max())
        self._outstanding_mean += float(outstanding.mean())
        self.replicas[replica].route(request)
        self.assignment[request] = replica
        self.next_request += 1
        following = self.pending
        horizon = float(self.instance.arrival[following]) if following is not None else np.inf
        before = self._goodput
        for sim, scheduler in zip(self.replicas, self.schedulers):
            self._drive(sim, scheduler, horizon)
        self._goodput = sum(int(sim.state.goodput_tokens.sum()) for sim in self.replicas)
        return self._goodput - before

    def _drive(self, sim: LLMSim, scheduler: Any, horizon: float) -> None:
        """Runs one replica with its local scheduler to its first boundary at or after
        ``horizon``, or until it has nothing left to do."""
        sim.horizon = horizon
        if sim.done or sim.state.time >= horizon:
            return
        # The tenants' backlog is observed at each boundary of a replica once every request that
        # arrived by then is routed (as one replica observes it after admitting its arrivals).
        self._observe_backlog()
        while not sim.done and sim.state.time < horizon and not self.truncated:
            if sim.queue:  # asked only where a request waits, as on one replica
                op = scheduler.next_op(sim)
                apply(sim, op)
                moved = op == RUN
            else:
                sim.advance()
                moved = True
            if moved and sim.state.time < horizon:  # else once the arrivals up to it are routed
                self._observe_backlog()
            self.operations += 1
            self.truncated = self.operations >= self._operation_limit

    def _observe_backlog(self) -> None:
        """VTC's service-gap measure over the cluster: tenants backlogged on any replica,
        service summed over the replicas."""
        tenants = self.instance.num_tenants
        if tenants < 2:
            return
        backlogged = np.zeros(tenants, bool)
        for sim in self.replicas:
            if sim.queue:
                backlogged[self.instance.tenant[sim.queue]] = True
        service = np.sum([sim.state.tenant_service for sim in self.replicas], axis=0)
        self._backlog.update(service, backlogged)

    # ------------------------------------------------------------------ metrics

    def merged(self) -> _Merged:
        """The cluster as one replica for ``episode_metrics``: per request, the state of the
        replica it was routed to (a request never routed is pending everywhere)."""
        rows, columns = np.maximum(self.assignment, 0), np.arange(self.instance.num_requests)
        states = [sim.state for sim in self.replicas]
        per_request = {name: np.stack([getattr(st, name) for st in states])[rows, columns]
                       for name in _PER_REQUEST_STATE}
        state = LLMState(
            time=max(st.time for st in states), free_blocks=sum(st.free_blocks for st in states),
            arrived=sum(st.arrived for st in states), budget=0, batch_tokens=0,
            tenant_service=np.sum([st.tenant_service for st in states], axis=0), **per_request)
        sims = self.replicas
        return _Merged(
            instance=self.instance, state=state,
            first_scheduled=np.stack([sim.first_scheduled for sim in sims])[rows, columns],
            _gaps=np.concatenate([sim.token_gaps() for sim in sims]),
            _gap_count=sum(sim._gap_count for sim in sims),
            preemptions=sum(sim.preemptions for sim in sims),
            iterations=sum(sim.iterations for sim in sims),
            _kv_block_seconds=sum(sim._kv_block_seconds for sim in sims),
            capacity=sum(sim.capacity for sim in sims), _backlog=self._backlog)

    def metrics(self) -> dict[str, Any]:
        """``episode_metrics`` over every request of the cluster, and the load balance:
        ``replica_requests`` (requests routed to each replica), ``outstanding_max`` and
        ``outstanding_mean`` (over the routing decisions, the largest and the mean number of
        outstanding requests of a replica, seen just before the decision) and
        ``load_imbalance``, their ratio (1 = perfectly even)."""
        decisions = max(self.next_request, 1)
        top, mean = self._outstanding_max / decisions, self._outstanding_mean / decisions
        return {**episode_metrics(self.merged()),
                "replica_requests": self.routed_counts().tolist(),
                "outstanding_max": top, "outstanding_mean": mean,
                "load_imbalance": top / mean if mean > 0 else 1.0}


__all__ = ["LLMCluster", "REPLICA_ENV_ID", "local_scheduler_names", "make_local_scheduler",
           "queued_blocks", "queued_prefill_tokens"]
