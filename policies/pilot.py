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
plans greedy decoding misses. With ``samples > 1`` each candidate gets the best of its greedy
pilot and ``samples - 1`` pilots sampled from the policy's softmax, a stronger but costlier
estimate of what follows it. Pilots of one depth step in lockstep, one batched forward pass per
step. Budget (deterministic): at most ``width * expand * samples`` pilots per depth, so about
``width * expand * samples * L**2 / 2`` env steps for an episode of ``L`` steps; the
leaderboard's ``wall_s`` includes all of them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from schedgym.policies.sampling import SearchScheduler, lockstep, observation_batch
from schedgym.policies.scheduler import LoadedPolicy


@dataclass
class _Node:
    """A partial episode: the env after ``actions``, and their return."""

    env: gym.Env
    actions: list[int] = field(default_factory=list)
    ret: float = 0.0


def completions(policy: LoadedPolicy, envs: list[gym.Env], samples: int = 1,
                rng: np.random.Generator | None = None) -> tuple[list[list[int]], np.ndarray]:
    """The best of ``samples`` continuations of each env to its episode's end by the policy:
    its greedy one and ``samples - 1`` drawn from its masked softmax, all in lockstep.

    Args:
        policy: The learned policy.
        envs: Unwrapped envs mid-episode; they are not stepped (copies are).
        samples: Continuations per env (1: greedy only).
        rng: Draws the sampled continuations (needed when ``samples > 1``).

    Returns:
        The actions of each env's best continuation and its return, shape (len(envs),); the
        greedy one on ties.
    """
    copies = [copy.deepcopy(env) for env in envs for _ in range(samples)]
    actions, returns = lockstep(policy, copies, np.arange(len(copies)) % samples != 0, rng=rng)
    best = returns.reshape(len(envs), samples).argmax(axis=1) + np.arange(len(envs)) * samples
    return [actions[i] for i in best], returns[best]


def top_actions(logits: np.ndarray, obs: dict[str, np.ndarray], count: int) -> list[int]:
    """The ``count`` legal actions of highest logit (fewer if fewer are legal), best first."""
    legal = np.asarray(obs["action_mask"]).astype(bool) & np.asarray(obs["node_mask"]).astype(bool)
    order = np.argsort(-np.where(legal, logits, -np.inf), kind="stable")
    return [int(a) for a in order[:min(count, int(legal.sum()))]]


def pilot_search(policy: LoadedPolicy, env: gym.Env, expand: int, width: int, samples: int = 1,
                 seed: int | None = None) -> tuple[list[int], float, int]:
    """The best complete episode the beam of pilots finds from ``env``'s current state.

    Args:
        policy: The learned policy.
        env: An env just reset; it is not stepped (copies are).
        expand: Candidate actions tried per partial sequence (the policy's most likely).
        width: Partial sequences kept per depth.
        samples: Pilots per candidate: the policy's greedy completion and ``samples - 1``
            sampled ones; the candidate scores the best of them.
        seed: Seed of the sampled pilots.

    Returns:
        The action sequence, its return, and the number of pilots run.
    """
    rng = np.random.default_rng(seed)
    root = copy.deepcopy(env.unwrapped)
    (best_actions,), (best_return,) = completions(policy, [root], samples, rng)
    pilots = samples
    frontier = [_Node(root)]
    while frontier:
        batch = observation_batch([node.env for node in frontier])
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
        tails, tail_returns = completions(policy, [child.env for child in children], samples, rng)
        pilots += len(children) * samples
        scores = np.array([child.ret for child in children]) + tail_returns
        for child, tail, score in zip(children, tails, scores):
            if score > best_return:
                best_actions, best_return = child.actions + tail, float(score)
        keep = np.argsort(-scores, kind="stable")[:width]
        frontier = [children[i] for i in keep]
    return best_actions, float(best_return), pilots


class PilotScheduler(SearchScheduler):
    """Plans by :func:`pilot_search` (the episode seed seeds the sampled pilots).

    Args:
        policy: The learned policy.
        expand: Candidate actions per partial sequence (at least 1).
        width: Partial sequences kept per depth (at least 1).
        samples: Pilots per candidate, the greedy one included (at least 1).
    """

    method = "pilot search"

    def __init__(self, policy: LoadedPolicy, expand: int, width: int, samples: int = 1) -> None:
        if min(expand, width, samples) < 1:
            raise ValueError(f"pilot search needs expand, width and samples of at least 1, "
                             f"got {expand}, {width} and {samples}")
        super().__init__(policy)
        self.expand, self.width, self.samples = expand, width, samples
        self.name = f"{policy.source} pilot-{expand}x{width}" + (f"x{samples}" if samples > 1 else "")

    def plan(self, env: gym.Env, seed: int | None) -> list[int]:
        return pilot_search(self.policy, env, self.expand, self.width, self.samples, seed)[0]


__all__ = ["PilotScheduler", "completions", "pilot_search", "top_actions"]
