"""Best-of-K rollouts of a learned policy (policies.sampling)."""

import gymnasium as gym
import pytest

from schedgym import envs  # noqa: F401
import evaluate
from schedgym.policies.evaluation import replay, run_episode
from schedgym.envs.vm.env import VMRescheduleEnv
from schedgym.policies.sampling import BestOfKScheduler, best_of_k_rollouts, rollouts
from schedgym.policies.scheduler import load_policy

VM = "schedgym/VMReschedule-v1"


def _reset(instance) -> gym.Env:
    env = gym.make(VM, size="small")
    env.reset(seed=0, options={"instance": instance})
    return env


@pytest.mark.parametrize("artifact", ["model.onnx", "best_model.zip"])
def test_best_of_k_is_never_worse_than_greedy_and_replays_exactly(tiny_run, artifact):
    policy = load_policy(str(tiny_run / artifact))
    for instance in VMRescheduleEnv.load_instance_set("small-val").instances[:3]:
        greedy = run_episode(_reset(instance), policy.scheduler(), instance, seed=0)
        one_actions, _ = best_of_k_rollouts(policy, _reset(instance), k=1, seed=0)
        assert one_actions == greedy.actions  # k = 1 is greedy decoding
        actions, best_return = best_of_k_rollouts(policy, _reset(instance), k=8, seed=1)
        metrics = replay(_reset(instance), instance, 0, actions)
        initial = metrics["initial_fragment_rate"]
        assert initial - metrics["fragment_rate"] == pytest.approx(best_return)  # return = FR drop
        assert metrics["fragment_rate"] <= greedy.metrics["fragment_rate"] + 1e-12


def test_best_of_k_differs_from_greedy_somewhere(tiny_run):
    """Sampled rollouts explore: over a few instances some best plan is not the greedy one."""
    policy = load_policy(str(tiny_run / "model.onnx"))
    instances = VMRescheduleEnv.load_instance_set("small-val").instances[:4]
    plans = [(best_of_k_rollouts(policy, _reset(i), 1, 0)[0], best_of_k_rollouts(policy, _reset(i), 16, 0)[0])
             for i in instances]
    assert any(greedy != best for greedy, best in plans)


def test_best_of_k_refuses_envs_with_hidden_randomness(tiny_run):
    scheduler = BestOfKScheduler(load_policy(str(tiny_run / "model.onnx")), 4)
    env = gym.make("schedgym/SoCDAG-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="known_dynamics"):
        scheduler.reset(env)
    with pytest.raises(ValueError, match="k >= 1"):
        BestOfKScheduler(scheduler.policy, 0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        BestOfKScheduler(scheduler.policy, 4, temperature=0.0)


def test_temperature_controls_how_far_rollouts_stray_from_greedy():
    """With the shipped policy's peaked logits, a cold softmax only reproduces the greedy plan,
    a hot one draws many different plans."""
    policy = load_policy("pretrained:vm")
    instance = VMRescheduleEnv.load_instance_set("small-val").instances[0]
    cold, _ = rollouts(policy, _reset(instance), 8, 0, temperature=1e-3)
    hot, _ = rollouts(policy, _reset(instance), 8, 0, temperature=3.0)
    assert all(plan == cold[0] for plan in cold)
    assert len({tuple(plan) for plan in hot}) > 4


def test_cli_best_of_adds_a_row_per_learned_policy(tiny_run, capsys):
    source = str(tiny_run / "model.onnx")
    evaluate.main(["--env", VM, "--instances", "small-val", "--policies", f"greedy,{source}",
                   "--best-of", "4", "--temperature", "1.5", "--no-progress"])
    table = capsys.readouterr().out
    assert f"{source} best-of-4 t1.5" in table and "greedy best-of" not in table
    with pytest.raises(SystemExit):
        evaluate.main(["--env", "schedgym/SoCDAG-v0", "--instances", "stream-light-noise0",
                       "--policies", "heft_rt", "--best-of", "4"])
    assert "hidden randomness" in capsys.readouterr().err
