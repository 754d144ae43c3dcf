"""The protocol every scheduler follows, so evaluation treats heuristics, solvers and learned
policies alike: a name, ``reset(env)`` once per episode and
``act(env) -> int`` once per step (a pointer action, legal under ``env.action_masks()``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym


@runtime_checkable
class Scheduler(Protocol):
    """Anything that schedules an env. ``env`` is the (possibly wrapped) Gymnasium env after its
    ``reset``; heuristics and solvers may read ``env.unwrapped.state``, learned policies only the
    last observation."""

    name: str

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        """Prepares for a new episode; planners compute their plan here."""

    def act(self, env: gym.Env) -> int:
        """Returns the next pointer action."""


@dataclass
class SolverReport:
    """What an exact or budgeted solver reports about its last plan.

    Budgets are in deterministic units (CP-SAT's deterministic time, ant tours, ...), never wall
    time, so a solver's result does not depend on machine load; wall time is reported beside.

    Attributes:
        status: ``"optimal"``, ``"feasible"`` or ``"unknown"`` (CP-SAT's vocabulary).
        budget: The search budget, in ``budget_unit``.
        budget_unit: What ``budget`` counts, e.g. ``"CP-SAT deterministic s"``.
        budget_used: How much of it the last plan used.
        wall_seconds: Wall-clock time of the last plan's search (reported only).
        objective: The objective value the solver returned, in the env's metric units.
        bound: The proven lower bound on the objective, where the solver reports one.
        extra: Anything solver-specific worth logging.
    """

    status: str = "unknown"
    budget: float = 0.0
    budget_unit: str = ""
    budget_used: float = 0.0
    wall_seconds: float = 0.0
    objective: float | None = None
    bound: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
