"""Tests of the IoT headless path (:mod:`envs.iot.fastsim`): every rule baseline must give the
env's episode bit for bit (metrics, actions and the simulator's arrays compared by their bytes),
and the leaderboard must give the same rows through it."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym import envs  # noqa: F401  (registers the ids)
from schedgym.baselines.iot.common import OrderedPlacement
from schedgym.data.instance_sets import InstanceSet
from schedgym.envs.iot.env import HOLD_NODE, IoTPlacementEnv
from schedgym.envs.iot.fastsim import RULES, run_headless
from schedgym.envs.iot.types import DEVICE, EDGE, IoTInstance, IoTState
from schedgym.policies.evaluation import evaluate, replay, run_episode

ENV_ID = "schedgym/IoTPlacement-v0"
TASK_FIELDS = ("arrival", "device", "input_bits", "cycles", "memory_mb", "output_bits",
               "deadline_s", "qos")


def _first_tasks(instance: IoTInstance, count: int) -> IoTInstance:
    return dataclasses.replace(instance, **{f: getattr(instance, f)[:count] for f in TASK_FIELDS},
                               name=f"{instance.name}[:{count}]")


def _scarce_memory(instance: IoTInstance) -> IoTInstance:
    """Devices and edge servers with room for a few tasks only: rules hold, tasks are dropped."""
    topo = instance.topology
    memory = np.where(np.isin(topo.tier, (DEVICE, EDGE)), 3.0 * instance.memory_mb.max(),
                      topo.memory_mb)
    return dataclasses.replace(instance, topology=dataclasses.replace(topo, memory_mb=memory),
                               name=f"{instance.name}-scarce")


def _case(set_name: str, index: int, edit=None, **env_kwargs):
    st = IoTPlacementEnv.load_instance_set(set_name)
    instance = st.instances[index]
    return (edit(instance) if edit else instance), {**st.env_kwargs, **env_kwargs}


# (case id) -> (instance, env kwargs): a tree under heavy load, a bursty mesh, an epoch at every
# arrival, the medium mesh (its first 300 tasks), memory so scarce that rules hold and tasks
# are dropped, and an episode truncated by max_steps right after a task pointer (odd limit).
CASES = {
    "tree-heavy": lambda: _case("small-tree-heavy", 0),
    "mesh-bursty": lambda: _case("small-mesh-bursty", 1),
    "every-arrival": lambda: _case("small-tree-light", 2, decision_interval=0.0),
    "medium-mesh": lambda: _case("medium-mesh-medium", 0, lambda inst: _first_tasks(inst, 300)),
    "scarce-memory": lambda: _case("small-tree-heavy", 3, _scarce_memory, decision_interval=0.002),
    "truncated": lambda: _case("small-mesh-bursty", 0, max_steps=301),
}


def _same(a, b) -> bool:
    """Exact equality; floats bit for bit (NaN equals NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _env_episode(instance: IoTInstance, name: str, env_kwargs: dict):
    env = gym.make(ENV_ID, **env_kwargs)
    scheduler = baselines.make(ENV_ID, name)
    env.reset(seed=0, options={"instance": instance})
    scheduler.reset(env, seed=0)
    actions, done = [], False
    while not done:
        actions.append(int(scheduler.act(env)))
        _, _, terminated, truncated, info = env.step(actions[-1])
        done = terminated or truncated
    return env.unwrapped.sim, info, actions


def test_every_rule_baseline_is_covered():
    # The ordered placement rules; random acts on the mask, the window planners search.
    ordered = {name for name in baselines.names(ENV_ID)
               if isinstance(baselines.make(ENV_ID, name), OrderedPlacement)}
    assert set(RULES) == ordered and {"random", "aco", "cpsat"}.isdisjoint(RULES)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", RULES)
def test_headless_equals_env_and_baseline(name, case):
    instance, env_kwargs = CASES[case]()
    sim, info, actions = _env_episode(instance, name, env_kwargs)
    episode = run_headless(instance, baselines.make(ENV_ID, name), seed=0, **env_kwargs)
    assert episode.actions == actions
    assert episode.info.keys() == info.keys()
    for key, value in info.items():
        assert _same(episode.info[key], value), key
    for field in dataclasses.fields(IoTState):
        name = field.name
        assert _same(getattr(episode.sim.state, name), getattr(sim.state, name)), name
    assert (episode.sim.waiting, episode.sim.objective) == (sim.waiting, sim.objective)


def test_the_cases_reach_holds_drops_and_truncation():
    # The cases are meant to exercise these paths; check that they do.
    instance, env_kwargs = CASES["scarce-memory"]()
    episode = run_headless(instance, baselines.make(ENV_ID, "local"), **env_kwargs)
    assert HOLD_NODE in episode.actions and episode.info["tasks_dropped"] > 0
    instance, env_kwargs = CASES["truncated"]()
    episode = run_headless(instance, baselines.make(ENV_ID, "greedy"), **env_kwargs)
    assert episode.steps == 301 and not episode.sim.done and episode.sim.state.selected >= 0


def test_leaderboard_rows_are_the_same_through_the_headless_path():
    st = IoTPlacementEnv.load_instance_set("small-mesh-bursty")
    subset = InstanceSet(st.name, st.env_kwargs,
                         tuple(_first_tasks(i, 120) for i in st.instances[:2]))
    schedulers = {name: lambda name=name: baselines.make(ENV_ID, name)
                  for name in ("random", "wfq", "edf")}
    rows = [evaluate(ENV_ID, subset, schedulers, seeds=(0, 1), progress=False, headless=headless)
            .drop(columns="wall_s") for headless in (True, False)]
    assert rows[0].equals(rows[1])
    env = gym.make(ENV_ID, **st.env_kwargs)
    for row in rows[0].itertuples():
        instance = subset.instances[0 if row.instance.startswith(st.instances[0].name) else 1]
        metrics = replay(env, instance, row.seed, [int(a) for a in row.actions.split()])
        assert all(metrics[key] == getattr(row, key) for key in metrics)


def test_run_episode_leaves_the_env_as_stepping_does():
    instance, env_kwargs = CASES["every-arrival"]()
    envs_after = []
    for headless in (True, False):
        env = gym.make(ENV_ID, **env_kwargs)
        run_episode(env, baselines.make(ENV_ID, "wfq"), _first_tasks(instance, 80), 0, headless)
        envs_after.append(env.unwrapped)
    fast, stepped = envs_after
    assert fast.observation().keys() == stepped.observation().keys()
    for key, value in stepped.observation().items():
        assert _same(fast.observation()[key], value), key
    assert fast._steps == stepped._steps and fast.sim.done


def test_run_episode_falls_back_for_other_schedulers():
    instance, env_kwargs = CASES["mesh-bursty"]()
    env = gym.make(ENV_ID, **env_kwargs)
    short = _first_tasks(instance, 30)
    env.reset(seed=0, options={"instance": short})
    assert env.unwrapped.finish_headless(baselines.make(ENV_ID, "random")) is None
    greedy = baselines.make(ENV_ID, "greedy")
    greedy.reset(env, seed=0)
    env.step(greedy.act(env))  # a task selected: phase 1
    assert env.unwrapped.finish_headless(greedy) is None and env.unwrapped.phase == 1
    result = run_episode(env, baselines.make(ENV_ID, "random"), short, 0)
    assert result.actions and env.unwrapped.sim.done and env.unwrapped._steps == len(result.actions)


def test_bad_arguments_are_refused():
    instance, _ = CASES["tree-heavy"]()
    with pytest.raises(TypeError, match="scheduler must be one of the rule baselines"):
        run_headless(instance, baselines.make(ENV_ID, "random"))
    with pytest.raises(ValueError, match="decision_interval"):
        run_headless(instance, baselines.make(ENV_ID, "greedy"), decision_interval=-1.0)
    medium, _ = CASES["medium-mesh"]()
    with pytest.raises(ValueError, match="raise max_nodes"):
        run_headless(medium, baselines.make(ENV_ID, "greedy"))  # the small scale's slots
