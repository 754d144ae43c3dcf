"""Best-of-K rollouts: plan an episode with a learned policy by simulating copies of the env.

Where the env's outcome is a deterministic function of the instance and the actions
(``env.unwrapped.known_dynamics``, e.g. VM rescheduling), a policy can afford to try several
episodes before acting: one greedy rollout and ``k - 1`` rollouts that sample the policy's masked
softmax (at a temperature), stepped in lockstep so every step is one batched forward pass. The scheduler then
replays the rollout with the highest return (the greedy one on ties), so it is never worse than
its own greedy rollout (which can differ from single-observation greedy decoding where batched
logits break a near-tie differently, ~1e-6). Its wall time, counted by the leaderboard, includes all ``k`` rollouts.
"""

from __future__ import annotations

import copy
from collections import deque

import gymnasium as gym
import numpy as np

from schedgym.policies.runtime import choose
from schedgym.policies.scheduler import LoadedPolicy


def observation_batch(envs: list[gym.Env]) -> dict[str, np.ndarray]:
    """The observations of unwrapped ``envs`` stacked into one batch."""
    observations = [env.observation() for env in envs]
    return {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}


def lockstep(policy: LoadedPolicy, envs: list[gym.Env], sampled: np.ndarray, temperature: float = 1.0,
             rng: np.random.Generator | None = None) -> tuple[list[list[int]], np.ndarray]:
    """Steps every env to its episode's end by the policy, all in lockstep (one batched forward
    pass per step): greedily, or where ``sampled`` is set, drawn from ``softmax(logits /
    temperature)`` with ``rng``. The envs (unwrapped) are stepped in place.

    Returns:
        The actions taken in each env and its return, shape (len(envs),).
    """
    actions: list[list[int]] = [[] for _ in envs]
    returns = np.zeros(len(envs))
    draws = bool(sampled.any())  # then one draw per live env at every step, sampled or not
    live = np.arange(len(envs))
    while len(live):
        batch = observation_batch([envs[i] for i in live])
        logits = policy.logits_fn(batch)
        chosen = choose(logits, batch)
        if draws:
            chosen = np.where(sampled[live], choose(logits / temperature, batch, deterministic=False, rng=rng),
                              chosen)
        still = []
        for row, i in enumerate(live):
            _, reward, terminated, truncated, _ = envs[i].step(int(chosen[row]))
            actions[i].append(int(chosen[row]))
            returns[i] += reward
            if not (terminated or truncated):
                still.append(i)
        live = np.asarray(still, np.int64)
    return actions, returns


def rollouts(policy: LoadedPolicy, env: gym.Env, k: int, seed: int | None,
             temperature: float = 1.0) -> tuple[list[list[int]], np.ndarray]:
    """``k`` rollouts from ``env``'s current state: the first greedy, the others sampled.

    Args:
        policy: The learned policy.
        env: An env just reset; it is not stepped (copies are).
        k: Number of rollouts.
        seed: Seed of the sampling.
        temperature: The sampled rollouts draw from ``softmax(logits / temperature)``; above 1
            they stray further from the greedy rollout.

    Returns:
        The action sequence of each rollout and its return, shape (k,).
    """
    copies = [copy.deepcopy(env.unwrapped) for _ in range(k)]
    return lockstep(policy, copies, np.arange(k) > 0, temperature, np.random.default_rng(seed))


def best_of_k_rollouts(policy: LoadedPolicy, env: gym.Env, k: int, seed: int | None,
                       temperature: float = 1.0) -> tuple[list[int], float]:
    """The action sequence and return of the best of :func:`rollouts` (the greedy one on ties)."""
    actions, returns = rollouts(policy, env, k, seed, temperature)
    best = int(np.argmax(returns))  # the first maximum
    return actions[best], float(returns[best])


class SearchScheduler:
    """``baselines.base.Scheduler`` that plans the whole episode at reset, by searching on copies
    of the env with a learned policy, and replays the plan. Subclasses set ``name`` and
    ``method`` and implement :meth:`plan`."""

    method = "search"

    def __init__(self, policy: LoadedPolicy) -> None:
        self.policy = policy
        self._plan: deque[int] = deque()

    def plan(self, env: gym.Env, seed: int | None) -> list[int]:
        """The actions of the episode from ``env``'s current state."""
        raise NotImplementedError

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        if not getattr(env.unwrapped, "known_dynamics", False):
            raise ValueError(f"{self.name}: {self.method} needs an env whose outcome the scheduler "
                             f"can simulate (known_dynamics); {env.unwrapped.__class__.__name__} "
                             f"has hidden randomness")
        self.policy.check(env)
        self._plan = deque(self.plan(env, seed))

    def act(self, env: gym.Env) -> int:
        return self._plan.popleft()


class BestOfKScheduler(SearchScheduler):
    """Plans by :func:`best_of_k_rollouts`.

    Args:
        policy: The learned policy.
        k: Rollouts per episode (at least 1; 1 is greedy decoding).
        temperature: Softmax temperature of the sampled rollouts (positive).
    """

    method = "best-of-K sampling"

    def __init__(self, policy: LoadedPolicy, k: int, temperature: float = 1.0) -> None:
        if k < 1:
            raise ValueError(f"best-of-K needs k >= 1, got {k}")
        if not temperature > 0:
            raise ValueError(f"the sampling temperature must be positive, got {temperature}")
        super().__init__(policy)
        self.k, self.temperature = k, temperature
        self.name = f"{policy.source} best-of-{k}" + (f" t{temperature:g}" if temperature != 1 else "")

    def plan(self, env: gym.Env, seed: int | None) -> list[int]:
        return best_of_k_rollouts(self.policy, env, self.k, seed, self.temperature)[0]


__all__ = ["BestOfKScheduler", "SearchScheduler", "best_of_k_rollouts", "lockstep", "observation_batch",
           "rollouts"]
