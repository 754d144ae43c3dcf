"""Baselines by name: heuristics and exact solvers that follow :class:`baselines.base.Scheduler`.

``make(name, **kwargs)`` builds one; ``available(env_id)`` lists the names that support an env.
"""

from __future__ import annotations

import importlib
from typing import Any

from baselines.base import Scheduler, SolverReport

# name -> "module:Class"; imported lazily so that listing baselines stays cheap.
_REGISTRY: dict[str, str] = {
    "random": "baselines.random_policy:RandomScheduler",
    "greedy": "baselines.vm_greedy:GreedyMigration",
    "cpsat": "baselines.vm_cpsat:CpSatRescheduler",
    "pop": "baselines.vm_pop:PopRescheduler",
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


def available(env_id: str) -> tuple[str, ...]:
    """Names of the baselines that support ``env_id``."""
    return tuple(n for n in _REGISTRY if _supports(_load(n), env_id))


def _supports(cls: type, env_id: str) -> bool:
    return "*" in cls.env_ids or env_id in cls.env_ids


__all__ = ["Scheduler", "SolverReport", "make", "names", "available"]
