"""Imitation warm start: demonstrations from a baseline on generated instances, then cloning."""

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401
from policies.imitation import behaviour_clone, collect_demonstrations
from policies.pointer import INPUT_NAMES, PointerNet, net_kwargs_for


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
