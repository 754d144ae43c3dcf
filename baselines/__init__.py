"""Baselines by name: heuristics and exact solvers that follow :class:`baselines.base.Scheduler`.

``make(name, **kwargs)`` builds one; ``supports(name, env_id)`` and ``available(env_id)`` say
which envs they schedule.
"""

from __future__ import annotations

import importlib
from typing import Any

from schedgym.baselines.base import Scheduler, SolverReport

# name -> "module:Class"; imported lazily so that listing baselines stays cheap.
_REGISTRY: dict[str, str] = {
    "random": "schedgym.baselines.random_policy:RandomScheduler",
    "greedy": "schedgym.baselines.vm_greedy:GreedyMigration",
    "cpsat": "schedgym.baselines.vm_cpsat:CpSatRescheduler",
    "pop": "schedgym.baselines.vm_pop:PopRescheduler",
    # SoC DAG scheduling (schedgym/SoCDAG-v0)
    "heft": "schedgym.baselines.soc_heft:HEFTScheduler",
    "heft_rt": "schedgym.baselines.soc_heft_rt:HEFTRTScheduler",
    "cpop": "schedgym.baselines.soc_cpop:CPOPScheduler",
    "etf": "schedgym.baselines.soc_etf:ETFScheduler",
    "met": "schedgym.baselines.soc_met:METScheduler",
    "fifo": "schedgym.baselines.soc_fifo:FIFOScheduler",
}


def names() -> tuple[str, ...]:
    """All registered baseline names."""
    return tuple(_REGISTRY)


def _load(name: str) -> type:
    if name not in _REGISTRY:
        raise KeyError(f"unknown baseline {name!r}; known: {', '.join(_REGISTRY)}")
    module_name, class_name = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make(name: str, **kwargs: Any) -> Scheduler:
    """Builds the baseline registered as ``name``."""
    return _load(name)(**kwargs)


def supports(name: str, env_id: str) -> bool:
    """Whether the baseline ``name`` can schedule ``env_id``."""
    env_ids = _load(name).env_ids
    return "*" in env_ids or env_id in env_ids


def available(env_id: str) -> tuple[str, ...]:
    """Names of the baselines that support ``env_id``."""
    return tuple(name for name in _REGISTRY if supports(name, env_id))


__all__ = ["Scheduler", "SolverReport", "make", "names", "supports", "available"]
