"""``rl_aco``: ant colony optimisation guided by a learned placement policy, for
``schedgym/IoTPlacement-v0``.

The seed paper of the IoT env (arXiv 2508.04334) combines a policy-gradient agent with ant
colony optimisation; only its abstract is public, so this is our design in our formulation.

**Why this combination.** The window optimisers (``aco``, ``cpsat``) find each decision window's
best assignment, 0–1.2% from CP-SAT's optimum per window, but optimising each window alone is
myopic: under heavy or bursty load they keep cheap tasks on the devices and delay the windows
after them (README, IoT leaderboard). A policy trained by PPO on whole episodes has no such
horizon, but places one task at a time and searches nothing. Here the policy supplies the
long-term judgement and the ants the search:

- **Prior.** When a window opens, the policy scores every node for every task of the batch as if
  that task were selected now (one batched forward pass over the window's phase-1
  observations); ``π[i, j]`` is its softmax over the legal nodes.
- **Candidates.** Only each task's ``top_k`` nodes by ``π`` stay open to the ants (the policy
  proposes, ACO searches over the proposals); if an ant's partial schedule leaves none of them
  feasible, the task falls back to every feasible node.
- **Transition rule.** An ant puts task i on node j with probability ∝ ``τ^α · η^β · π^γ``
  (MMAS's rule of :mod:`baselines.iot.aco` times the prior): ``γ = 0`` with ``top_k = None`` is
  plain ``aco``, a large ``γ`` follows the policy.

Fitness, pheromone update, MMAS bounds and the online pheromone memory are ``aco``'s. The budget
per window is ``aco``'s ``ants × iterations`` tours plus one forward pass of the policy over the
batch (2 env-copy steps per task to build the observations); the leaderboard's ``wall_s``
includes all of it.

Run: ``python evaluate.py --env schedgym/IoTPlacement-v0 --instances small-tree-heavy
--policies aco,rl_aco,pretrained:iot`` (``rl_aco:SOURCE`` takes another policy file).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

from schedgym.baselines.iot.aco import ACOScheduler
from schedgym.baselines.iot.window import Window
from schedgym.envs.iot.env import HOLD_NODE
from schedgym.envs.validation import check_float, check_int

NAME = "rl_aco"
ENV_ID = "schedgym/IoTPlacement-v0"
DEFAULT_POLICY = "pretrained:iot"


def is_hybrid(source: str) -> bool:
    """Whether a leaderboard name means this hybrid: ``rl_aco`` or ``rl_aco:POLICY_SOURCE``."""
    return source == NAME or source.startswith(NAME + ":")


def policy_source(source: str) -> str:
    """The learned policy a hybrid name uses (``pretrained:iot`` by default)."""
    return source[len(NAME) + 1:] if source.startswith(NAME + ":") else DEFAULT_POLICY


class RLACOScheduler(ACOScheduler):
    """MMAS per decision window with a learned policy's prior and candidate nodes (module
    docstring).

    Args:
        policy: A loaded learned IoT policy (:func:`policies.scheduler.load_policy`).
        gamma: Exponent γ of the policy prior, in [0, 100].
        top_k: Candidate nodes per task by the prior, in [1, 10^5]; None keeps every node.
        **aco_kwargs: :class:`baselines.iot.aco.ACOScheduler`'s arguments (ants, iterations,
            alpha, beta, rho, q, deposit, order, seed).

    Attributes:
        forward_passes: Policy forward passes since the last reset (one per window planned).

    Raises:
        ValueError: If an argument is out of range (naming it).
    """

    name = NAME

    def __init__(self, policy: Any, gamma: float = 1.0, top_k: int | None = 2,
                 **aco_kwargs: Any) -> None:
        super().__init__(**aco_kwargs)
        self.policy = policy
        self.name = NAME if policy.source == DEFAULT_POLICY else f"{NAME}:{policy.source}"
        self.gamma = check_float("gamma", gamma, low=0.0, high=100.0)
        self.top_k = None if top_k is None else check_int("top_k", top_k, low=1, high=100_000)
        self.forward_passes = 0
        self._env: Any = None

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        self.policy.check(env)
        super().reset(env, seed)
        self.forward_passes = 0

    def choose(self, env: gym.Env) -> tuple[int, int] | None:
        self._env = env  # the prior needs the env's observations; plans see only the window
        return super().choose(env)

    def prior(self, window: Window) -> np.ndarray:
        probs = node_probabilities(self.policy, self._env, window.tasks)
        self.forward_passes += 1
        prior = probs ** self.gamma
        if self.top_k is not None and self.top_k < probs.shape[1]:
            # Ties at the k-th value stay in: a prior never splits equal scores.
            kth = -np.sort(-probs, axis=1)[:, self.top_k - 1:self.top_k]
            prior = np.where((probs >= kth) & (probs > 0), prior, 0.0)
        return prior


def node_probabilities(policy: Any, env: gym.Env, tasks: np.ndarray) -> np.ndarray:
    """The policy's node distribution for each of ``tasks`` (waiting, shown in the window) as if
    it were selected now, (n, K): softmax of its logits over the legal nodes, 0 elsewhere.

    The env is not changed: a copy selects each task (phase 1) and then unselects it (HOLD in
    phase 1 passes no time), and the n observations go through the policy in one batch.
    """
    probe = copy.deepcopy(env.unwrapped)
    observations = []
    for task in tasks:
        obs, *_ = probe.step(probe.task_node(int(task)))
        observations.append(obs)
        probe.step(HOLD_NODE)
    batch = {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
    logits = np.asarray(policy.logits_fn(batch), np.float64)
    node0, count = probe.compute_node(0), probe.sim.topology.num_nodes
    scores = logits[:, node0:node0 + count]
    legal = batch["action_mask"][:, node0:node0 + count].astype(bool)
    scores = np.where(legal, scores, -np.inf)
    top = scores.max(axis=1, keepdims=True)
    weights = np.where(legal, np.exp(scores - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


__all__ = ["RLACOScheduler", "node_probabilities", "is_hybrid", "policy_source", "NAME"]
