"""Pilot search over a learned policy's actions (policies.pilot)."""

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines, envs  # noqa: F401
import evaluate
from schedgym.envs.vm.env import VMRescheduleEnv
from schedgym.policies.evaluation import replay, run_episode
from schedgym.policies.pilot import PilotScheduler, pilot_search
from schedgym.policies.scheduler import LoadedPolicy, load_policy

VM = "schedgym/VMReschedule-v1"


def _reset(instance, **kwargs) -> gym.Env:
    env = gym.make(VM, size="small", **kwargs)
    env.reset(seed=0, options={"instance": instance})
    return env


def _lowest_index_policy() -> LoadedPolicy:
    """Equal logits everywhere: greedy decoding takes the legal node of lowest index, and the
    pilot search's candidates are the legal nodes in index order."""
    return LoadedPolicy("lowest-index", lambda obs: np.zeros(np.shape(obs["action_mask"])), None,
                        lambda env: None)


def test_exhaustive_pilot_search_finds_the_best_single_migration():
    # With one migration allowed, expanding every legal action at a width that keeps them all
    # enumerates every (VM, destination) pair: the best of them is the greedy baseline's move.
    policy = _lowest_index_policy()
    for instance in VMRescheduleEnv.load_instance_set("small-val").instances[:3]:
        actions, best_return, _ = pilot_search(policy, _reset(instance, mnl=1), expand=10**6, width=10**6)
        searched = replay(_reset(instance, mnl=1), instance, 0, actions)
        greedy = run_episode(_reset(instance, mnl=1), baselines.make(VM, "greedy"), instance, seed=0)
        assert searched["fragment_rate"] == pytest.approx(greedy.metrics["fragment_rate"])
        assert searched["initial_fragment_rate"] - searched["fragment_rate"] == pytest.approx(best_return)


def test_pilot_search_is_never_worse_than_its_policy_and_beats_it_somewhere():
    policy = load_policy("pretrained:vm")
    gains = []
    for instance in VMRescheduleEnv.load_instance_set("small-val").instances[:4]:
        greedy = run_episode(_reset(instance), policy.scheduler(), instance, seed=0)
        actions, best_return, pilots = pilot_search(policy, _reset(instance), expand=3, width=2)
        metrics = replay(_reset(instance), instance, 0, actions)
        assert metrics["initial_fragment_rate"] - metrics["fragment_rate"] == pytest.approx(best_return)
        assert metrics["fragment_rate"] <= greedy.metrics["fragment_rate"] + 1e-12
        assert pilots > 1
        gains.append(greedy.metrics["fragment_rate"] - metrics["fragment_rate"])
    assert max(gains) > 0


def test_sampled_pilots_score_candidates_no_worse_than_the_greedy_pilot_alone():
    policy = load_policy("pretrained:vm")
    instance = VMRescheduleEnv.load_instance_set("small-val").instances[0]
    _, greedy_return, _ = pilot_search(policy, _reset(instance), expand=2, width=1)
    actions, sampled_return, pilots = pilot_search(policy, _reset(instance), 2, 1, samples=4, seed=0)
    assert sampled_return >= greedy_return
    metrics = replay(_reset(instance), instance, 0, actions)
    assert metrics["initial_fragment_rate"] - metrics["fragment_rate"] == pytest.approx(sampled_return)
    again = pilot_search(policy, _reset(instance), 2, 1, samples=4, seed=0)
    assert again == (actions, sampled_return, pilots)  # the seed fixes the sampled pilots


def test_a_pilot_search_of_one_candidate_is_greedy_decoding():
    policy = load_policy("pretrained:vm")
    instance = VMRescheduleEnv.load_instance_set("small-val").instances[0]
    greedy = run_episode(_reset(instance), policy.scheduler(), instance, seed=0)
    actions, _, pilots = pilot_search(policy, _reset(instance), expand=1, width=1)
    assert actions == greedy.actions and pilots == len(greedy.actions)


def test_pilot_scheduler_refuses_bad_arguments_and_hidden_randomness():
    policy = _lowest_index_policy()
    for bad in ((0, 2, 1), (2, 0, 1), (2, 2, 0)):
        with pytest.raises(ValueError, match="at least 1"):
            PilotScheduler(policy, *bad)
    env = gym.make("schedgym/SoCDAG-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="known_dynamics"):
        PilotScheduler(policy, 2, 2).reset(env)


def test_cli_pilot_adds_a_row_per_learned_policy(capsys):
    evaluate.main(["--env", VM, "--instances", "small-val", "--policies", "greedy,pretrained:vm",
                   "--pilot", "2x1x2", "--no-progress"])
    table = capsys.readouterr().out
    assert "pretrained:vm pilot-2x1x2" in table and "greedy pilot" not in table
    for bad in ("4", "0x2", "ax2", "2x2x2x2"):
        with pytest.raises(SystemExit):
            evaluate.main(["--env", VM, "--instances", "small-val", "--policies", "greedy", "--pilot", bad])
        assert "--pilot" in capsys.readouterr().err
