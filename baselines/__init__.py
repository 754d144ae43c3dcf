"""Baselines of every env: heuristics and exact solvers that follow
:class:`schedgym.baselines.base.Scheduler`.

Each env's baselines live in ``baselines/<env key>/``, one module per algorithm whose file name is
its registry name; ``random`` serves every env (the routers of ``llm_cluster`` have their own,
since there node 0 is a replica, not a no-op). The registry is keyed by (env, name), so
``fifo`` means the FIFO of the env at hand. Listing names imports nothing: modules are imported
only when a baseline is made.
"""

from __future__ import annotations

from typing import Any

from schedgym.baselines.base import Scheduler, SolverReport
from schedgym.envs import env_key, load_reference

_RANDOM = "schedgym.baselines.random:RandomScheduler"

# env key -> name -> "module:Class", in the order the leaderboard lists them.
_REGISTRY: dict[str, dict[str, str]] = {
    "vm": {
        "random": _RANDOM,
        "greedy": "schedgym.baselines.vm.greedy:GreedyMigration",
        "cpsat": "schedgym.baselines.vm.cpsat:CpSatRescheduler",
        "pop": "schedgym.baselines.vm.pop:PopRescheduler",
    },
    "soc": {
        "random": _RANDOM,
        "heft": "schedgym.baselines.soc.heft:HEFTScheduler",
        "heft_rt": "schedgym.baselines.soc.heft_rt:HEFTRTScheduler",
        "cpop": "schedgym.baselines.soc.cpop:CPOPScheduler",
        "etf": "schedgym.baselines.soc.etf:ETFScheduler",
        "met": "schedgym.baselines.soc.met:METScheduler",
        "fifo": "schedgym.baselines.soc.fifo:FIFOScheduler",
        "cpsat": "schedgym.baselines.soc.cpsat:CpSatScheduler",
    },
    "llm": {
        "random": _RANDOM,
        "fcfs": "schedgym.baselines.llm.fcfs:VLLMScheduler",
        "orca": "schedgym.baselines.llm.orca:OrcaScheduler",
        "static": "schedgym.baselines.llm.static:StaticBatchScheduler",
        "sarathi": "schedgym.baselines.llm.sarathi:SarathiScheduler",
        "sarathi_2048": "schedgym.baselines.llm.sarathi:Sarathi2048Scheduler",
        "past_future": "schedgym.baselines.llm.past_future:PastFutureScheduler",
        "sjf": "schedgym.baselines.llm.sjf:SJFScheduler",
        "srtf": "schedgym.baselines.llm.srtf:SRTFScheduler",
        "edf": "schedgym.baselines.llm.edf:EDFScheduler",
        "edf_triage": "schedgym.baselines.llm.edf:EDFTriageScheduler",
        "vtc": "schedgym.baselines.llm.vtc:VTCScheduler",
    },
    "iot": {
        "random": _RANDOM,
        "round_robin": "schedgym.baselines.iot.round_robin:RoundRobinScheduler",
        "local": "schedgym.baselines.iot.local:LocalScheduler",
        "cloud": "schedgym.baselines.iot.cloud:CloudScheduler",
        "greedy": "schedgym.baselines.iot.greedy:GreedyScheduler",
        "min_energy": "schedgym.baselines.iot.min_energy:MinEnergyScheduler",
        "edf": "schedgym.baselines.iot.edf:EDFScheduler",
        "wfq": "schedgym.baselines.iot.wfq:WFQScheduler",
        "aco": "schedgym.baselines.iot.aco:ACOScheduler",
        "cpsat": "schedgym.baselines.iot.cpsat:CpSatWindowScheduler",
    },
    "llm_cluster": {
        "random": "schedgym.baselines.llm_cluster.random:RandomRouter",
        "round_robin": "schedgym.baselines.llm_cluster.round_robin:RoundRobinRouter",
        "least_outstanding": ("schedgym.baselines.llm_cluster.least_outstanding:"
                              "LeastOutstandingRouter"),
        "llumnix": "schedgym.baselines.llm_cluster.llumnix:LlumnixRouter",
    },
}


def names(env_id: str) -> tuple[str, ...]:
    """Names of the baselines of ``env_id`` (imports none of them)."""
    return tuple(_REGISTRY.get(env_key(env_id), ()))


def make(env_id: str, name: str, **kwargs: Any) -> Scheduler:
    """Builds the baseline ``name`` of ``env_id``.

    Raises:
        KeyError: If ``env_id`` has no baseline ``name``; the message lists the ones it has.
    """
    table = _REGISTRY.get(env_key(env_id), {})
    if name not in table:
        raise KeyError(f"{env_id} has no baseline {name!r}; its baselines: {', '.join(table) or 'none'}")
    return load_reference(table[name])(**kwargs)


__all__ = ["Scheduler", "SolverReport", "make", "names"]
