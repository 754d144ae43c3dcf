"""Warm start by imitation: clone an expert scheduler before PPO fine-tunes the policy.

PPO from scratch spends most of a one-hour CPU budget discovering which migrations help. A
warm start copies an expert first: any scheduler of ``baselines`` (``cpsat``, ``greedy``, ...),
or a learned policy (``.zip``, ``.onnx``, ``pretrained:NAME``) run as best-of-K rollouts with
``expert_kwargs: {k: 64, temperature: 1.5}`` (expert iteration: the policy imitates its own
best samples; pair it with ``init_from``), plays episodes on freshly *generated training
instances* (never the fixed validation or test sets), every (observation, expert action, return-to-go) is recorded, and the pointer net is
trained to give the expert's action the highest logit (cross-entropy over the legal nodes) and
its value head to predict the return-to-go. PPO then continues from these weights.

Configured by the ``imitation`` section of the hyperparameter YAML (see ``train.py``)::

    imitation: {expert: cpsat, expert_kwargs: {work_limit: 2}, episodes: 300, epochs: 8,
                batch_size: 128, learning_rate: 0.001, workers: 2}

Memory: every step's observation is kept (about 20 kB at VM small), so this suits small
configurations; for large ones use fewer episodes.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from schedgym import envs  # noqa: F401  (registers the env ids)
from schedgym.policies.extras import raise_if_extra_missing

try:
    import torch
except ModuleNotFoundError as error:  # the train extra is not installed
    raise_if_extra_missing("schedgym.policies.imitation", error)
    raise

from schedgym.policies.pointer import INPUT_NAMES, PointerNet

#: Demonstration instances are generated from seeds ``DEMO_SEED_BASE + train seed * 100_000 + i``.
DEMO_SEED_BASE = 7_000_000


def _collect(args: tuple[str, dict[str, Any], str, dict[str, Any], list[int]]) -> dict[str, np.ndarray]:
    env_id, env_kwargs, expert_name, expert_kwargs, seeds = args
    torch.set_num_threads(1)
    make_expert = _expert_factory(env_id, expert_name, expert_kwargs)
    env = gym.make(env_id, **env_kwargs)
    rows: dict[str, list[np.ndarray]] = {key: [] for key in INPUT_NAMES}
    actions, returns = [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        expert = make_expert()
        expert.reset(env, seed=seed)
        rewards, done = [], False
        while not done:
            action = int(expert.act(env))
            for key in INPUT_NAMES:
                rows[key].append(obs[key])
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            done = terminated or truncated
        returns.extend(np.cumsum(rewards[::-1])[::-1].tolist())  # undiscounted return-to-go
    env.close()
    out = {key: np.stack(values) for key, values in rows.items()}
    out["action"] = np.asarray(actions, np.int64)
    out["return"] = np.asarray(returns, np.float32)
    return out


def _expert_factory(env_id: str, name: str, kwargs: dict[str, Any]) -> Callable[[], Any]:
    """A fresh expert per episode: a baseline by name, or a learned policy source run as
    best-of-K rollouts (``kwargs``: ``k``, ``temperature``), which is expert iteration."""
    from schedgym.policies.scheduler import is_learned, load_policy

    if is_learned(name):
        from schedgym.policies.sampling import BestOfKScheduler

        policy = load_policy(name, env_id)  # another env's policy is refused here, not at its first reset
        return lambda: BestOfKScheduler(policy, **kwargs)
    from schedgym import baselines

    return lambda: baselines.make(env_id, name, **kwargs)


def collect_demonstrations(env_id: str, env_kwargs: dict[str, Any] | Callable[[int], dict[str, Any]],
                           expert: str, episodes: int, seed: int,
                           expert_kwargs: dict[str, Any] | None = None, workers: int = 1,
                           progress: bool = True) -> dict[str, np.ndarray]:
    """The expert's (observation, action, return-to-go) on ``episodes`` generated instances,
    with a progress bar per episode (a CP-SAT expert takes many minutes on 2 cores).

    ``env_kwargs`` is the env arguments, or a function of the episode index giving them (a
    training ``env_mix``)."""
    seeds = [DEMO_SEED_BASE + seed * 100_000 + i for i in range(int(episodes))]
    workers = max(1, min(int(workers), len(seeds)))
    # Samples are concatenated as worker i's share seeds[i::workers] always was, so the demos
    # (and the cloning that shuffles them with a fixed seed) do not depend on the progress bar.
    order = [s for i in range(workers) for s in seeds[i::workers]]
    kwargs_of = env_kwargs if callable(env_kwargs) else (lambda index: env_kwargs)
    episode = {s: i for i, s in enumerate(seeds)}
    tasks = [(env_id, kwargs_of(episode[s]), expert, expert_kwargs or {}, [s]) for s in order]
    bar = tqdm(total=len(tasks), desc=f"demonstrations by {expert}", unit="episode", disable=not progress)
    with bar:
        if workers == 1:
            parts = []
            for task in tasks:
                parts.append(_collect(task))
                bar.update()
        else:
            with mp.get_context("fork").Pool(workers) as pool:
                parts = []
                for part in pool.imap(_collect, tasks):
                    parts.append(part)
                    bar.update()
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def behaviour_clone(net: PointerNet, demos: dict[str, np.ndarray], epochs: int = 8, batch_size: int = 128,
                    learning_rate: float = 1e-3, value_coef: float = 0.5, seed: int = 0) -> list[float]:
    """Trains ``net`` in place on ``demos``; returns the mean loss of each epoch."""
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
    tensors = {key: torch.as_tensor(value) for key, value in demos.items()}
    size = len(demos["action"])
    losses = []
    net.train()
    for _ in range(int(epochs)):
        order = rng.permutation(size)
        total = 0.0
        for start in range(0, size, batch_size):
            index = torch.as_tensor(order[start:start + batch_size])
            logits, value = net(*(tensors[key][index] for key in INPUT_NAMES))
            policy_loss = torch.nn.functional.cross_entropy(logits, tensors["action"][index])
            value_loss = torch.nn.functional.mse_loss(value.squeeze(-1), tensors["return"][index])
            loss = policy_loss + value_coef * value_loss
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            total += loss.item() * len(index)
        losses.append(total / size)
    return losses


def warm_start(net: PointerNet, config: dict[str, Any], seed: int, progress: bool = True) -> dict[str, Any]:
    """Runs the ``imitation`` section of ``config`` on ``net``; returns a record for the summary."""
    from schedgym.policies.training import env_kwargs_of  # here: training imports this module

    spec = dict(config["imitation"])
    start = time.perf_counter()
    demos = collect_demonstrations(
        config["env_id"], partial(env_kwargs_of, config), spec["expert"], spec.get("episodes", 100), seed,
        spec.get("expert_kwargs"), spec.get("workers", 1), progress,
    )
    collected = time.perf_counter() - start
    losses = behaviour_clone(net, demos, spec.get("epochs", 8), spec.get("batch_size", 128),
                             spec.get("learning_rate", 1e-3), spec.get("value_coef", 0.5), seed)
    return {"expert": spec["expert"], "episodes": int(spec.get("episodes", 100)), "samples": len(demos["action"]),
            "collect_s": collected, "clone_s": time.perf_counter() - start - collected, "losses": losses}


__all__ = ["collect_demonstrations", "behaviour_clone", "warm_start", "DEMO_SEED_BASE"]
