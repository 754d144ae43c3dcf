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
    rng = np.random.default_rng(seed)
    actions: list[list[int]] = [[] for _ in range(k)]
    returns = np.zeros(k)
    live = list(range(k))
    while live:
        observations = [copies[i].observation() for i in live]
        batch = {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
        logits = policy.logits_fn(batch)  # one forward pass for every live rollout
        greedy = choose(logits, batch)
        sampled = choose(logits / temperature, batch, deterministic=False, rng=rng)
        finished = set()
        for row, i in enumerate(live):
            action = int(greedy[row] if i == 0 else sampled[row])
            _, reward, terminated, truncated, _ = copies[i].step(action)
            actions[i].append(action)
            returns[i] += reward
            if terminated or truncated:
                finished.add(i)
        live = [i for i in live if i not in finished]
    return actions, returns


def best_of_k_rollouts(policy: LoadedPolicy, env: gym.Env, k: int, seed: int | None,
                       temperature: float = 1.0) -> tuple[list[int], float]:
    """The action sequence and return of the best of :func:`rollouts` (the greedy one on ties)."""
    actions, returns = rollouts(policy, env, k, seed, temperature)
    best = int(np.argmax(returns))  # the first maximum
    return actions[best], float(returns[best])


class BestOfKScheduler:
    """``baselines.base.Scheduler`` that plans by :func:`best_of_k_rollouts` at reset.

    Args:
        policy: The learned policy.
        k: Rollouts per episode (at least 1; 1 is greedy decoding).
        temperature: Softmax temperature of the sampled rollouts (positive).
    """

    def __init__(self, policy: LoadedPolicy, k: int, temperature: float = 1.0) -> None:
        if k < 1:
            raise ValueError(f"best-of-K needs k >= 1, got {k}")
        if not temperature > 0:
            raise ValueError(f"the sampling temperature must be positive, got {temperature}")
        self.policy, self.k, self.temperature = policy, k, temperature
        self.name = f"{policy.source} best-of-{k}" + (f" t{temperature:g}" if temperature != 1 else "")
        self._plan: deque[int] = deque()

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        if not getattr(env.unwrapped, "known_dynamics", False):
            raise ValueError(f"{self.name}: best-of-K rollouts need an env whose outcome the "
                             f"scheduler can simulate (known_dynamics); {env.unwrapped.__class__.__name__} "
                             f"has hidden randomness")
        self.policy.check(env)
        self._plan = deque(best_of_k_rollouts(self.policy, env, self.k, seed, self.temperature)[0])

    def act(self, env: gym.Env) -> int:
        return self._plan.popleft()


__all__ = ["BestOfKScheduler", "best_of_k_rollouts", "rollouts"]
