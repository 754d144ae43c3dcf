"""Tests of the IoT Gantt picture (:mod:`envs.iot.gantt`): its bars are the simulator's runs and
transfers, lanes never overlap nor exceed a node's cores, and the command writes a PNG."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.envs.iot.env import IoTPlacementEnv
from schedgym.envs.iot.fastsim import run_headless
from schedgym.envs.iot.gantt import RUNS_GID, TRANSFERS_GID, draw_gantt, gantt_bars, main
from schedgym.envs.iot.types import PLACED

ENV_ID = "schedgym/IoTPlacement-v0"


@pytest.mark.parametrize("set_name,rule", [("small-mesh-bursty", "greedy"),
                                           ("small-tree-heavy", "round_robin")])
def test_bars_are_the_sims_runs_and_transfers(set_name, rule):
    st = IoTPlacementEnv.load_instance_set(set_name)
    sim = run_headless(st.instances[0], baselines.make(ENV_ID, rule), **st.env_kwargs).sim
    state, inst = sim.state, sim.instance
    bars = gantt_bars(sim)
    placed = np.flatnonzero(state.status == PLACED)
    assert np.array_equal(np.sort(bars.task), placed)
    assert np.array_equal(bars.start, state.start[bars.task])
    assert np.array_equal(bars.finish, state.finish[bars.task])
    assert np.array_equal(bars.node, state.node[bars.task])
    assert np.array_equal(bars.device, inst.device[bars.task])
    cores = sim.topology.cores
    assert (bars.lane >= 0).all() and (bars.lane < cores[bars.node]).all()
    for k in np.unique(bars.node):  # runs in one lane never overlap
        for lane in np.unique(bars.lane[bars.node == k]):
            mine = (bars.node == k) & (bars.lane == lane)
            order = np.argsort(bars.start[mine], kind="stable")
            assert (bars.start[mine][order][1:] >= bars.finish[mine][order][:-1]).all()
    # Transfers: exactly the offloaded tasks, ending at the input's arrival, before the run.
    offloaded = placed[state.node[placed] != inst.device[placed]]
    assert len(offloaded) > 0
    assert np.array_equal(np.sort(bars.transfer_task), offloaded)
    assert np.array_equal(bars.transfer_end, state.input_arrival[bars.transfer_task])
    assert (bars.transfer_start >= inst.arrival[bars.transfer_task] - 1e-12).all()
    assert (bars.transfer_start < bars.transfer_end).all()
    assert (bars.transfer_end <= state.start[bars.transfer_task]).all()


def test_the_figure_draws_one_bar_per_run_and_per_transfer():
    st = IoTPlacementEnv.load_instance_set("small-tree-medium")
    sim = run_headless(st.instances[0], baselines.make(ENV_ID, "greedy"), **st.env_kwargs).sim
    bars = gantt_bars(sim)
    patches = [patch for axis in draw_gantt(sim).axes for patch in axis.patches]
    runs = [patch for patch in patches if patch.get_gid() == RUNS_GID]
    transfers = [patch for patch in patches if patch.get_gid() == TRANSFERS_GID]
    assert len(runs) == len(bars.task) == int((sim.state.status == PLACED).sum())
    assert len(transfers) == len(bars.transfer_task) > 0
    assert sorted(patch.get_x() for patch in runs) == sorted(bars.start.tolist())


def test_the_env_renders_the_episode_so_far():
    env = gym.make(ENV_ID, num_tasks=60, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    scheduler = baselines.make(ENV_ID, "greedy")
    scheduler.reset(env, seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(int(scheduler.act(env)))
        done = terminated or truncated
    last = env.render()
    assert first.dtype == last.dtype == np.uint8 and last.shape[2] == 3
    assert not np.array_equal(first, last)  # bars appeared


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
@pytest.mark.parametrize("policy", ["wfq", "random"])
def test_command_writes_a_png(tmp_path, policy, capsys):
    out = tmp_path / "pictures" / "gantt.png"
    assert main(["--instances", "small-tree-medium", "--index", "1", "--policy", policy,
                 "--until", "0.5", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["gantt.png"]  # no temporary file left
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize("arguments,message", [
    (["--instances", "no-such-set"], "no instance set"),
    (["--instances", "small-tree-medium", "--index", "5"], "--index must be in"),
    (["--instances", "small-tree-medium", "--policy", "nope"], "unknown policy"),
    (["--instances", "small-tree-medium", "--until", "0"], "--until must be positive")])
def test_command_refuses_bad_arguments(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
