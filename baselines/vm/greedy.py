"""VMR2L's greedy baseline (GA): each step, the single migration that lowers FR the most."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np

from schedgym.envs.vm.sim import fragment_change, migrate
from schedgym.envs.vm.types import VMState

STOP = 0


class GreedyMigration:
    """Takes the legal migration with the largest fragment-rate decrease, one at a time, and
    stops when no migration decreases it (or the env's migration limit ends the episode).

    All migrations are scored at once (``envs.vm.sim.fragment_change``, a (V, 3P) array), so a
    decision costs a few vectorised passes over VMs × destinations. Ties go to the lowest VM
    and destination index, which keeps it deterministic.
    """

    name = "greedy"

    def __init__(self) -> None:
        self._destination: int | None = None

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self._destination = None

    def act(self, env: gym.Env) -> int:
        vm_env = env.unwrapped
        if self._destination is not None:
            destination, self._destination = self._destination, None
            return vm_env.destination_node(destination)
        change = fragment_change(vm_env.state)
        best = int(np.argmin(change))
        if not change.flat[best] < 0:
            return STOP
        vm, self._destination = divmod(best, change.shape[1])
        return vm_env.vm_node(vm)


def greedy_moves(state: VMState, budget: int) -> list[tuple[int, int]]:
    """The moves ``(vm, destination)`` :class:`GreedyMigration` makes from ``state`` within
    ``budget`` migrations (same choices and ties), computed on a copy of the state: the planners'
    incumbent, so that they are never worse than greedy."""
    state = copy.deepcopy(state)
    moves: list[tuple[int, int]] = []
    while len(moves) < budget:
        change = fragment_change(state)
        best = int(np.argmin(change))
        if not change.flat[best] < 0:
            break
        vm, destination = divmod(best, change.shape[1])
        migrate(state, vm, destination)
        moves.append((vm, destination))
    return moves
