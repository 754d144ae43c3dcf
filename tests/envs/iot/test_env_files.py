"""The env's file options: topology_file, tasks_csv and google_trace_dir, each loaded at make and
used at every reset; and the arguments that have no effect with them refused."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from schedgym import baselines
from schedgym.data.google_cluster import TraceWarning
from schedgym.data.iot_google import load_google_tasks
from schedgym.data.iot_topology import TopologyFormatError, load_topology
from schedgym.data.raycloudsim import COLUMNS, load_tasks_csv
from schedgym.envs.iot.types import DEVICE
from schedgym.envs.validation import ArgumentError
from schedgym.policies.evaluation import run_episode
from tests.data.test_iot_google import write_trace

ENV_ID = "schedgym/IoTPlacement-v0"
EXAMPLE = Path(__file__).resolve().parents[3] / "data" / "iot" / "example_topology.yaml"
CSV_ROWS = [
    "t0,0.0,0,270,1000.0,100,30,Bulk,Mobile",
    "t1,0.41,1,80,50.0,20,89,SmallTextual,Nodes",
    "t2,1.82,2,220,900.0,90,56,Medical,Acuator",
    "t3,1.9,7,300,250.0,150,48,Abrupt,Sensor",
]


@pytest.fixture
def tasks_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.csv"
    path.write_text("\n".join([",".join(COLUMNS), *CSV_ROWS]) + "\n")
    return path


def _run(env: gym.Env, seed: int = 0) -> dict:
    result = run_episode(env, baselines.make(ENV_ID, "greedy"), None, seed)
    return {**result.metrics, "instance": env.unwrapped.sim.instance}


def test_topology_file_is_the_topology_of_every_episode() -> None:
    env = gym.make(ENV_ID, topology_file=EXAMPLE, num_tasks=30)
    iot = env.unwrapped
    assert (iot.max_nodes, iot.max_links) == (8, 9)  # the file's sizes
    expected = load_topology(EXAMPLE)
    for seed in (0, 1):
        instance = _run(env, seed)["instance"]
        assert instance.num_tasks == 30 and iot.sim.done
        assert np.array_equal(instance.topology.link_bandwidth_bps, expected.link_bandwidth_bps)
        assert np.array_equal(instance.topology.memory_mb, expected.memory_mb)
        assert set(instance.device.tolist()) <= set(np.flatnonzero(expected.tier == DEVICE))
    with pytest.raises(ArgumentError, match="max_nodes must be .*the topology_file has 8 nodes"):
        gym.make(ENV_ID, topology_file=EXAMPLE, max_nodes=7)


def test_tasks_csv_replays_the_same_tasks_every_reset(tasks_csv: Path) -> None:
    env = gym.make(ENV_ID, topology_file=EXAMPLE, tasks_csv=tasks_csv, decision_interval=0.0)
    stream = load_tasks_csv(tasks_csv)
    first, second = _run(env, 0)["instance"], _run(env, 5)["instance"]
    for instance in (first, second):
        assert np.array_equal(instance.arrival, stream.arrival)
        assert np.array_equal(instance.cycles, stream.cycles)
        assert np.array_equal(instance.deadline_s, stream.deadline_s)
    assert np.array_equal(first.device, second.device)
    window = gym.make(ENV_ID, tasks_csv=tasks_csv, trace_start=0.4, rate_scale=2.0, num_tasks=2)
    instance = _run(window)["instance"]  # on a generated small topology
    assert np.allclose(instance.arrival, [0.005, 0.71]) and instance.topology.num_nodes == 12
    with pytest.raises(ArgumentError, match="num_tasks=4, but the window holds only 3 tasks"):
        gym.make(ENV_ID, tasks_csv=tasks_csv, trace_start=0.4, num_tasks=4)


def test_google_trace_dir_gives_the_trace_stream(tmp_path: Path) -> None:
    root = write_trace(tmp_path / "trace")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        env = gym.make(ENV_ID, topology_file=EXAMPLE, google_trace_dir=root, rate_scale=10.0)
        stream = load_google_tasks(root, rate_scale=10.0)
    instance = _run(env)["instance"]
    assert np.allclose(instance.arrival, [0.1, 0.3, 0.8, 0.9])
    assert np.array_equal(instance.cycles, stream.cycles)
    assert instance.device[0] == instance.device[3]  # one job, one device
    with pytest.warns(TraceWarning, match="left out"):
        gym.make(ENV_ID, google_trace_dir=root)  # loaded at make, so the warning comes there


def test_arguments_without_effect_and_bad_files_fail_at_make(tasks_csv: Path,
                                                             tmp_path: Path) -> None:
    cases = [
        ({"tasks_csv": tasks_csv, "rate": 10.0},
         "rate=10.0 has no effect: the task file gives the arrivals"),
        ({"tasks_csv": tasks_csv, "arrival": "bursty", "cv": 2.0},
         "arrival='bursty', cv=2.0 has no effect"),
        ({"topology_file": EXAMPLE, "scale": "medium"},
         "scale='medium' has no effect: topology_file=PATH"),
        ({"tasks_csv": tasks_csv, "google_trace_dir": tmp_path}, "are two task sources; give one"),
        ({"trace_duration": 5.0}, "trace_duration=5.0 has no effect: it applies only with"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ArgumentError, match=message.replace("(", r"\(")):
            gym.make(ENV_ID, **kwargs)
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: []\nlinks: []\n")
    with pytest.raises(TopologyFormatError, match="nodes must be a non-empty list"):
        gym.make(ENV_ID, topology_file=bad)
