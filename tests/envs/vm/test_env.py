"""The VM rescheduling env: masks, rewards, info and the observation encoding."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401
from schedgym.envs.vm.env import NODE_FEATURES, SIZES, VMRescheduleEnv
from schedgym.envs.vm.sim import fragment_change, fragment_rate, placement_violations
from schedgym.envs.vm.types import BOTH_NUMA
from tests.envs.vm.helpers import make_instance

F = {name: i for i, name in enumerate(NODE_FEATURES)}


def _random_episode(env: VMRescheduleEnv, rng: np.random.Generator) -> tuple[list[float], dict]:
    """Random legal migrations (never stopping early) until the limit; checks every state.

    Returns:
        The rewards and the last ``info``.
    """
    rewards, done = [], False
    while not done:
        legal = np.flatnonzero(env.action_masks())
        legal = legal[legal != 0] if len(legal) > 1 else legal
        _, reward, done, _, info = env.step(int(rng.choice(legal)))
        rewards.append(reward)
        state = env.state
        assert placement_violations(state.instance, state.vm_pm, state.vm_numa) == []
        assert (state.free_cpu >= 0).all() and (state.free_mem >= 0).all()
    return rewards, info


@pytest.mark.parametrize("size", ["small", "medium"])
def test_masks_never_allow_capacity_or_anti_affinity_violations(size: str) -> None:
    env = VMRescheduleEnv(size=size, generator_config={"anti_affinity_probability": 0.6})
    rng = np.random.default_rng(0)
    for seed in range(3 if size == "medium" else 15):
        env.reset(seed=seed)
        rewards, info = _random_episode(env, rng)
        final = env.state
        # The return is the FR improvement, and info agrees with a recomputation from scratch.
        assert sum(rewards) == pytest.approx(info["initial_fragment_rate"] - info["fragment_rate"])
        assert info["fragment_rate"] == pytest.approx(fragment_rate(final.free_cpu, 16))
        assert info["migrations"] == len(final.history) <= env.mnl


def test_two_step_migration_on_a_hand_made_cluster() -> None:
    # PM0 NUMA0: 8 cores free of 32 (a 24-core VM); PM1 NUMA0: a 8-core VM, 24 free.
    # Moving the 8-core VM next to the 24-core one leaves 0 + 32 + 32 + 32 free: FR 0.
    inst = make_instance([32, 32], [(24, 0, 0), (8, 1, 0)])
    env = VMRescheduleEnv(size="small", migration_cost=0.01)
    _, info = env.reset(options={"instance": inst})
    assert info["initial_fragment_rate"] == pytest.approx((8 + 8) / 96)
    obs, reward, done, _, info = env.step(env.vm_node(1))
    assert reward == 0.0 and not done and info["phase"] == 1
    assert obs["nodes"][env.vm_node(1), F["selected"]] == 1.0
    assert obs["globals"][0] == 1.0
    legal = set(np.flatnonzero(obs["action_mask"]))
    # Stop, PM0 NUMA0 (8 free), PM0 NUMA1, PM1 NUMA1; not its own NUMA node or PM nodes.
    assert legal == {0, env.destination_node(0), env.destination_node(1), env.destination_node(3)}
    obs, reward, done, _, info = env.step(env.destination_node(0))
    assert info["fragment_rate"] == 0.0 and info["migrations"] == 1 and info["fr_reduction"] == 1.0
    assert reward == pytest.approx(16 / 96 - 0.01)
    numa0 = env.destination_node(0)
    assert obs["nodes"][numa0, F["cpu"]] == 0.0
    # The VM's placement edges now join it to PM0 NUMA0, both ways.
    edges = obs["edge_index"][:, obs["edge_mask"].astype(bool)]
    assert {(env.vm_node(1), numa0), (numa0, env.vm_node(1))} <= set(map(tuple, edges.T))
    assert (env.vm_node(1), env.destination_node(2)) not in set(map(tuple, edges.T))
    _, _, done, _, _ = env.step(0)
    assert done


def test_double_vm_moves_to_a_pm_and_occupies_both_numa_nodes() -> None:
    inst = make_instance([32, 32], [(20, 0, BOTH_NUMA), (4, 1, 0)])
    env = VMRescheduleEnv(size="small")
    obs, _ = env.reset(options={"instance": inst})
    obs, *_ = env.step(env.vm_node(0))
    assert set(np.flatnonzero(obs["action_mask"])) == {0, env.destination_node(2 * 2 + 1)}
    env.step(env.destination_node(5))
    np.testing.assert_array_equal(env.state.free_cpu, [[32, 32], [18, 22]])


def test_episode_ends_at_the_migration_limit() -> None:
    env = VMRescheduleEnv(size="small", mnl=3)
    env.reset(seed=4)
    rewards, _ = _random_episode(env, np.random.default_rng(1))
    assert len(rewards) == 6 and env.state.migrations == 3


def test_incremental_observation_equals_a_fresh_encoding() -> None:
    env = VMRescheduleEnv(size="small")
    env.reset(seed=8)
    rng = np.random.default_rng(2)
    for _ in range(9):  # ends in phase 1
        legal = np.flatnonzero(env.action_masks())
        env.step(int(rng.choice(legal[legal != 0])))
    incremental = env.observation()
    env._encode_all()  # from the current state, from scratch
    if env.state.selected_vm >= 0:  # _encode_all starts a migration afresh
        env._select(env.state.selected_vm)
    for key, value in env.observation().items():
        np.testing.assert_allclose(incremental[key], value, err_msg=key)


def test_move_gain_features_predict_single_migrations() -> None:
    """``best_move_gain`` is each VM's best single-migration change of Σ free mod g, and
    ``move_gain`` (phase 1) that of each destination of the selected VM, whose reward it gives."""
    env = VMRescheduleEnv(size="small")
    env.reset(seed=4)
    rng = np.random.default_rng(5)
    g = env.granularity
    for _ in range(6):
        state, nodes = env.state, env.observation()["nodes"]
        change = fragment_change(state)
        movable = np.isfinite(change).any(axis=1)
        vm_rows = env.vm_node(0) + np.arange(state.instance.num_vms)
        np.testing.assert_allclose(nodes[vm_rows[movable], F["best_move_gain"]], change[movable].min(1) / g)
        assert (nodes[vm_rows[~movable], F["best_move_gain"]] == 0).all()
        vm = int(rng.choice(np.flatnonzero(movable)))
        nodes = env.step(env.vm_node(vm))[0]["nodes"]
        legal = np.flatnonzero(state.feasible[vm])
        rows = [env.destination_node(d) for d in legal]
        np.testing.assert_allclose(nodes[rows, F["move_gain"]], change[vm, legal] / g)
        destination = int(rng.choice(legal))
        obs, reward = env.step(env.destination_node(destination))[:2]
        assert reward == pytest.approx(-change[vm, destination] / state.free_cpu.sum())
        assert (obs["nodes"][:, F["move_gain"]] == 0).all()  # cleared between migrations


def test_bad_arguments_and_instances_fail_clearly() -> None:
    with pytest.raises(ValueError, match="size must be one of 'small', 'medium', 'large', got 'huge'"):
        VMRescheduleEnv(size="huge")
    with pytest.raises(ValueError, match="mnl must be an integer >= 1, got 0"):
        VMRescheduleEnv(mnl=0)
    env = VMRescheduleEnv(size="small")
    too_big = make_instance([32] * (SIZES["small"].num_pms + 1), [(4, 0, 0)])
    with pytest.raises(ValueError, match="choose a larger size"):
        env.reset(options={"instance": too_big})
    with pytest.raises(ValueError, match="must be a VMInstance"):
        env.reset(options={"instance": "small-test/0"})
    with pytest.raises(RuntimeError, match="reset"):
        VMRescheduleEnv(size="small").step(0)


def test_fixed_instance_sets_load_with_their_size() -> None:
    assert {"small-test", "medium-test"} <= set(VMRescheduleEnv.instance_sets())
    small = VMRescheduleEnv.load_instance_set("small-test")
    assert small.env_kwargs == {"size": "small"} and len(small.instances) == 20
    env = gym.make("schedgym/VMReschedule-v1", **small.env_kwargs)
    _, info = env.reset(options={"instance": small.instances[0]})
    assert 0.0 < info["initial_fragment_rate"] <= 1.0
    with pytest.raises(KeyError, match="available"):
        VMRescheduleEnv.load_instance_set("tiny-test")


def test_v1_and_v2_differ_only_by_their_generator() -> None:
    # The same seed draws from generator version 1 or 2; a given instance plays identically.
    v1 = gym.make("schedgym/VMReschedule-v1", size="small").unwrapped
    v2 = gym.make("schedgym/VMReschedule-v2", size="small").unwrapped
    assert (v1.generator_version, v2.generator_version) == (1, 2)
    v1.reset(seed=3)
    v2.reset(seed=3)
    assert v1.state.instance.num_vms != v2.state.instance.num_vms or not np.array_equal(
        v1.state.instance.vm_cpu, v2.state.instance.vm_cpu)
    instance = VMRescheduleEnv.load_instance_set("small-test").instances[0]
    rng = np.random.default_rng(0)
    obs1, _ = v1.reset(options={"instance": instance})
    obs2, _ = v2.reset(options={"instance": instance})
    for _ in range(8):
        for key in obs1:
            np.testing.assert_array_equal(obs1[key], obs2[key], err_msg=key)
        action = int(rng.choice(np.flatnonzero(v1.action_masks())))
        obs1, r1, done1, _, _ = v1.step(action)
        obs2, r2, done2, _, _ = v2.step(action)
        assert (r1, done1) == (r2, done2)
        if done1:
            break
