"""The MaskablePPO pointer policy: legal actions only, saving and loading."""

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO

from schedgym import envs  # noqa: F401
from schedgym.policies.pointer import PointerPolicy
from schedgym.policies.training import InstancePool


def _model(env, seed=0):
    return MaskablePPO(PointerPolicy, env, n_steps=32, batch_size=32, n_epochs=1, seed=seed, device="cpu",
                       policy_kwargs={"features_extractor_kwargs": {"width": 8, "depth": 1}})


def test_masked_actions_are_never_chosen():
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    model = _model(env)
    obs, _ = env.reset(seed=0)
    steps = 0
    for _ in range(300):
        mask = env.unwrapped.action_masks()
        # Stochastic actions, the mask passed and not passed: the logits mask on their own.
        for masks in (mask, None):
            action, _ = model.predict(obs, deterministic=False, action_masks=masks)
            assert mask[int(action)], f"illegal action {action}"
        obs, _, terminated, truncated, _ = env.step(int(action))
        steps += 1
        if terminated or truncated:
            obs, _ = env.reset()
    assert steps == 300


def test_probability_mass_is_on_legal_actions_only():
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    model = _model(env)
    obs, _ = env.reset(seed=1)
    tensor, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        dist = model.policy.get_distribution(tensor)
    probs = dist.distribution.probs[0].numpy()
    assert probs[~obs["action_mask"].astype(bool)].max() == 0.0
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)


def test_save_load_round_trip(tmp_path):
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    model = _model(env)
    obs, _ = env.reset(seed=2)
    model.save(tmp_path / "m.zip")
    loaded = MaskablePPO.load(tmp_path / "m.zip", device="cpu")
    a, _ = model.predict(obs, deterministic=True, action_masks=env.unwrapped.action_masks())
    b, _ = loaded.predict(obs, deterministic=True, action_masks=env.unwrapped.action_masks())
    assert int(a) == int(b)
    assert type(loaded.policy) is PointerPolicy


def test_instance_pool_reuses_generated_instances():
    env = InstancePool(gym.make("schedgym/VMReschedule-v1", size="small"), size=2, refresh=0.0, seed=0)
    env.reset(seed=0)
    env.reset()
    assert len(env.pool) == 2
    names = set()
    for _ in range(6):
        env.reset()
        names.add(id(env.unwrapped.state.instance))
    assert names <= {id(inst) for inst in env.pool}
