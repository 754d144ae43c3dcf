"""Pilot search: a learned policy improved by looking ahead with itself (the rollout algorithm).

Where the env's outcome is a deterministic function of the instance and the actions
(``env.unwrapped.known_dynamics``), a policy can score a candidate action by what would follow
it: step a copy of the env with the action, then let the policy finish the episode greedily (the
*pilot*), and count the return of the whole. This is Bertsekas's rollout algorithm (the pilot
method of Duin and Voß), widened into a beam: at each depth the ``width`` best partial
sequences each try their ``expand`` most likely legal actions, every child is scored by its
return so far plus its pilot's return, and the ``width`` best children go on.

Every pilot is a complete episode, and the best one seen is what the scheduler replays, so the
plan is never worse than the policy's own greedy rollout (the root's pilot), and it can take a
move whose immediate reward is negative when the pilot shows it pays later, the multi-move
plans greedy decoding misses. Pilots of one depth step in lockstep, one batched forward pass per
step. Budget (deterministic): at most ``width * expand`` pilots per depth, so about
``width * expand * L**2 / 2`` env steps for an episode of ``L`` steps; the leaderboard's
``wall_s`` includes all of them.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from schedgym.policies.runtime import choose
from schedgym.policies.scheduler import LoadedPolicy


@dataclass
class _Node:
    """A partial episode: the env after ``actions``, and their return."""

    env: gym.Env
    actions: list[int] = field(default_factory=list)
    ret: float = 0.0


def _batch(envs: list[gym.Env]) -> dict[str, np.ndarray]:
    observations = [env.observation() for env in envs]
    return {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}


def greedy_completions(policy: LoadedPolicy, envs: list[gym.Env]) -> tuple[list[list[int]], np.ndarray]:
    """The policy's greedy continuation of each env to its episode's end, in lockstep.

    Args:
        policy: The learned policy.
        envs: Unwrapped envs mid-episode; they are not stepped (copies are).

    Returns:
        The actions of each continuation and their return, shape (len(envs),).
    """
    copies = [copy.deepcopy(env) for env in envs]
    actions: list[list[int]] = [[] for _ in envs]
    returns = np.zeros(len(envs))
    live = list(range(len(envs)))
    while live:
        batch = _batch([copies[i] for i in live])
        chosen = choose(policy.logits_fn(batch), batch)
        still = []
        for row, i in enumerate(live):
            _, reward, terminated, truncated, _ = copies[i].step(int(chosen[row]))
            actions[i].append(int(chosen[row]))
            returns[i] += reward
            if not (terminated or truncated):
                still.append(i)
        live = still
    return actions, returns


def top_actions(logits: np.ndarray, obs: dict[str, np.ndarray], count: int) -> list[int]:
    """The ``count`` legal actions of highest logit (fewer if fewer are legal), best first."""
    legal = np.asarray(obs["action_mask"]).astype(bool) & np.asarray(obs["node_mask"]).astype(bool)
    order = np.argsort(-np.where(legal, logits, -np.inf), kind="stable")
    return [int(a) for a in order[:min(count, int(legal.sum()))]]


def pilot_search(policy: LoadedPolicy, env: gym.Env, expand: int, width: int) -> tuple[list[int], float, int]:
    """The best complete episode the beam of pilots finds from ``env``'s current state.

    Args:
        policy: The learned policy.
        env: An env just reset; it is not stepped (copies are).
        expand: Candidate actions tried per partial sequence (the policy's most likely).
        width: Partial sequences kept per depth.

    Returns:
        The action sequence, its return, and the number of pilots run.
    """
    root = copy.deepcopy(env.unwrapped)
    (best_actions,), (best_return,) = greedy_completions(policy, [root])
    pilots = 1
    frontier = [_Node(root)]
    while frontier:
        batch = _batch([node.env for node in frontier])
        logits = policy.logits_fn(batch)
        children: list[_Node] = []
        for row, node in enumerate(frontier):
            obs = {key: value[row] for key, value in batch.items()}
            for action in top_actions(logits[row], obs, expand):
                child = _Node(copy.deepcopy(node.env), node.actions + [action])
                _, reward, terminated, truncated, _ = child.env.step(action)
                child.ret = node.ret + float(reward)
                if terminated or truncated:
                    if child.ret > best_return:
                        best_actions, best_return = child.actions, child.ret
                else:
                    children.append(child)
        if not children:
            break
        tails, tail_returns = greedy_completions(policy, [child.env for child in children])
        pilots += len(children)
        scores = np.array([child.ret for child in children]) + tail_returns
        for child, tail, score in zip(children, tails, scores):
            if score > best_return:
                best_actions, best_return = child.actions + tail, float(score)
        keep = np.argsort(-scores, kind="stable")[:width]
        frontier = [children[i] for i in keep]
    return best_actions, float(best_return), pilots


class PilotScheduler:
    """``baselines.base.Scheduler`` that plans by :func:`pilot_search` at reset.

    Args:
        policy: The learned policy.
        expand: Candidate actions per partial sequence (at least 1).
        width: Partial sequences kept per depth (at least 1).
    """

    def __init__(self, policy: LoadedPolicy, expand: int, width: int) -> None:
        if expand < 1 or width < 1:
            raise ValueError(f"pilot search needs expand >= 1 and width >= 1, got {expand} and {width}")
        self.policy, self.expand, self.width = policy, expand, width
        self.name = f"{policy.source} pilot-{expand}x{width}"
        self.pilots = 0
        self._plan: deque[int] = deque()

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        if not getattr(env.unwrapped, "known_dynamics", False):
            raise ValueError(f"{self.name}: pilot search needs an env whose outcome the scheduler "
                             f"can simulate (known_dynamics); {env.unwrapped.__class__.__name__} "
                             f"has hidden randomness")
        self.policy.check(env)
        actions, _, self.pilots = pilot_search(self.policy, env, self.expand, self.width)
        self._plan = deque(actions)

    def act(self, env: gym.Env) -> int:
        return self._plan.popleft()


__all__ = ["PilotScheduler", "greedy_completions", "pilot_search", "top_actions"]
