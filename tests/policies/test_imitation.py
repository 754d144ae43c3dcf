"""Imitation warm start: demonstrations from a baseline on generated instances, then cloning."""

import gymnasium as gym
import numpy as np
import torch

from schedgym import envs  # noqa: F401
from schedgym.policies.imitation import behaviour_clone, collect_demonstrations
from schedgym.policies.pointer import INPUT_NAMES, PointerNet, net_kwargs_for


def test_demonstrations_are_legal_with_returns():
    demos = collect_demonstrations("schedgym/VMReschedule-v1", {"size": "small"}, "greedy", episodes=4, seed=0)
    n = len(demos["action"])
    assert n >= 4 and all(demos[key].shape[0] == n for key in INPUT_NAMES)
    assert demos["action_mask"][np.arange(n), demos["action"]].all()
    # The return-to-go of an episode's first step is its whole return: FR0 - FR_final >= 0 for greedy.
    assert (demos["return"] >= -1e-9).all()


def test_cloning_reproduces_the_expert_on_its_demonstrations():
    demos = collect_demonstrations("schedgym/VMReschedule-v1", {"size": "small"}, "greedy", episodes=6, seed=1)
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    torch.manual_seed(0)
    net = PointerNet(**net_kwargs_for(env.observation_space, env.unwrapped.spec_graph.node_features),
                     width=32, depth=2)
    losses = behaviour_clone(net, demos, epochs=60, batch_size=32, learning_rate=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        logits, _ = net(*(torch.as_tensor(demos[key]) for key in INPUT_NAMES))
    accuracy = float((logits.argmax(-1).numpy() == demos["action"]).mean())
    assert accuracy >= 0.8, accuracy


def test_a_learned_policy_demonstrates_its_best_of_k_rollouts():
    """Expert iteration: a policy source as expert plays its best-of-K plans, which are never
    worse than its own greedy rollout (the first-step return-to-go is the episode return)."""
    from schedgym.policies.evaluation import run_episode
    from schedgym.policies.scheduler import load_policy

    kwargs = {"k": 8, "temperature": 1.5}
    demos = collect_demonstrations("schedgym/VMReschedule-v1", {"size": "small"}, "pretrained:vm", episodes=3,
                                   seed=0, expert_kwargs=kwargs)
    n = len(demos["action"])
    assert n >= 3 and demos["action_mask"][np.arange(n), demos["action"]].all()
    first = np.flatnonzero(demos["globals"][:, 1] == 0)  # migrations used = 0 ...
    first = first[demos["globals"][first, 0] == 0]  # ... in phase 0: each episode's first step
    policy, env = load_policy("pretrained:vm"), gym.make("schedgym/VMReschedule-v1", size="small")
    greedy = [run_episode(env, policy.scheduler(), None, seed) for seed in range(7_000_000, 7_000_003)]
    greedy_returns = [r.metrics["initial_fragment_rate"] - r.metrics["fragment_rate"] for r in greedy]
    assert len(first) == 3
    assert (demos["return"][first] >= np.asarray(greedy_returns) - 1e-9).all()
