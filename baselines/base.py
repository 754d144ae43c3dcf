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
    """What an exact or time-limited solver reports about its last plan.

    Attributes:
        status: ``"optimal"``, ``"feasible"`` or ``"unknown"`` (CP-SAT's vocabulary).
        time_limit_s: The solver's wall-clock limit.
        objective: The objective value the solver returned, in the env's metric units.
        bound: The proven lower bound on the objective, where the solver reports one.
        extra: Anything solver-specific worth logging.
    """

    status: str = "unknown"
    time_limit_s: float = 0.0
    objective: float | None = None
    bound: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
