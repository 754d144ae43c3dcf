"""VM instances from a Google 2011 trace in its official layout (fixtures written here)."""

from __future__ import annotations

import gzip
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs  # noqa: F401
from schedgym.data.google_cluster import TraceFormatError, TraceWarning, load_snapshot
from schedgym.envs.vm.sim import placement_violations
from schedgym.envs.vm.trace import instance_from_snapshot, load_trace_snapshot

REMOVED_MACHINE_WARNING = "running tasks on a removed machine left out: 1"


def _write_trace(
    root: Path, task_lines: list[str] | None = None, machine_lines: list[str] | None = None
) -> Path:
    """12 machines (one removed), 4 jobs of tasks; gzip parts as the official trace ships them."""
    machines = machine_lines if machine_lines is not None else (
        [f"0,{m},0,P,0.5,0.5" for m in range(1, 13)] + ["500,12,1,P,,"]
    )
    tasks = task_lines or [
        # job 1: 3 tasks with the different-machines restriction, on machines 1, 2, 3
        *[f"100,,1,{i},{i + 1},1,u,0,9,0.0625,0.05,0,1" for i in range(3)],
        # job 2: 2 tasks on machine 4; one finishes before the snapshot
        "100,,2,0,4,1,u,0,9,0.125,0.1,0,0",
        "100,,2,1,4,1,u,0,9,0.0625,0.02,0,0",
        "800,,2,1,4,4,u,0,9,,,0,0",
        # job 3: a double-NUMA task (0.3 CPU = 39 -> 40 cores) on machine 5
        "100,,3,0,5,1,u,0,11,0.3,0.2,0,0",
        # job 4: a task on the removed machine 12
        "100,,4,0,12,1,u,0,9,0.0625,0.05,0,0",
    ]
    for table, lines in (("machine_events", machines), ("task_events", tasks)):
        (root / table).mkdir(parents=True, exist_ok=True)
        with gzip.open(root / table / "part-00000-of-00001.csv.gz", "wt") as handle:
            handle.write("".join(line + "\n" for line in lines))
    return root


def test_env_builds_instances_from_the_trace_snapshot(tmp_path: Path) -> None:
    trace = _write_trace(tmp_path)
    with pytest.warns(TraceWarning, match=REMOVED_MACHINE_WARNING):  # job 4 on machine 12
        env = gym.make("schedgym/VMReschedule-v1", size="small", trace_dir=trace, trace_time_s=0.001)
    _, info = env.reset(seed=0)
    inst = env.unwrapped.state.instance
    # 11 machines alive (12 was removed), 10 drawn; 0.5 CPU = 2 NUMA x 32 cores.
    assert inst.num_pms == 10 and (inst.numa_cpu == 32).all() and (inst.numa_mem == 128).all()
    assert placement_violations(inst, inst.vm_pm, inst.vm_numa) == []
    assert set(inst.vm_cpu.tolist()) <= {8, 16, 40}
    assert inst.vm_double[inst.vm_cpu == 40].all()
    assert inst.vm_anti_affinity[inst.vm_job == 1].all() and not inst.vm_anti_affinity[inst.vm_job != 1].any()
    assert (inst.vm_job != 4).all(), "tasks on a removed machine are not in the snapshot"
    assert 0.0 <= info["initial_fragment_rate"] <= 1.0
    # Job 2's second task finished at 800 us: a snapshot at 500 us still runs it (same draw).
    with pytest.warns(TraceWarning, match=REMOVED_MACHINE_WARNING):
        earlier = gym.make("schedgym/VMReschedule-v1", size="small", trace_dir=trace, trace_time_s=0.0005)
    earlier.reset(seed=0)
    assert (earlier.unwrapped.state.instance.vm_job == 2).sum() == (inst.vm_job == 2).sum() + 1


def test_too_few_machines_for_the_size_is_a_clear_error(tmp_path: Path) -> None:
    trace = _write_trace(tmp_path)
    with pytest.warns(TraceWarning, match=REMOVED_MACHINE_WARNING):
        env = gym.make("schedgym/VMReschedule-v1", size="medium", trace_dir=trace)
    with pytest.raises(ValueError, match=f"snapshot of {tmp_path} at t=800 us has 11 machines .* needs 280"):
        env.reset(seed=0)


def test_malformed_trace_fails_at_construction_naming_the_file(tmp_path: Path) -> None:
    trace = _write_trace(tmp_path, task_lines=["100,,1,0,1,1,u,0,9,0.0625"])
    with pytest.raises(TraceFormatError, match=r"part-00000-of-00001\.csv\.gz.*line 1"):
        gym.make("schedgym/VMReschedule-v1", size="small", trace_dir=trace)
    with pytest.raises(ValueError, match="trace_dir must be the path of an existing directory, got .*nowhere"):
        gym.make("schedgym/VMReschedule-v1", size="small", trace_dir=tmp_path / "nowhere")


def test_generator_config_sets_the_machines_drawn_from_a_trace(tmp_path: Path) -> None:
    trace = _write_trace(tmp_path)
    env = gym.make("schedgym/VMReschedule-v1", size="small", trace_dir=trace, generator_config={"num_pms": 4})
    env.reset(seed=0)
    assert env.unwrapped.state.instance.num_pms == 4


def test_empty_machine_events_fail_at_construction_naming_the_folder(tmp_path: Path) -> None:
    trace = _write_trace(tmp_path, machine_lines=[])
    with pytest.raises(TraceFormatError, match="machine_events: its 1 part file.* hold no events"):
        gym.make("schedgym/VMReschedule-v1", size="small", trace_dir=trace)


def test_machines_under_one_core_per_numa_node_are_left_out_with_their_tasks(tmp_path: Path) -> None:
    # Machine 1: 0.001 x 128 / 2 = 0.06 cores per NUMA node; machine 2: 0.001 x 512 / 2 = 0.26 GiB.
    machines = ["0,1,0,P,0.001,0.5", "0,2,0,P,0.5,0.001", "0,3,0,P,0.5,0.5"]
    tasks = [f"100,,{m},0,{m},1,u,0,9,0.0001,0.0001,0,0" for m in (1, 2, 3)]
    trace = _write_trace(tmp_path, task_lines=tasks, machine_lines=machines)

    with pytest.warns(TraceWarning, match="2 machines with less than one core or GiB per NUMA node .* "
                                          "with their 2 running tasks; first: machine 1"):
        snapshot = load_trace_snapshot(trace, None)
    assert snapshot.machines["machine_id"].tolist() == [3]
    assert snapshot.tasks["machine_id"].tolist() == [3]
    # The raw snapshot still has them; drawing an instance from it refuses to invent capacity.
    raw = load_snapshot(trace)
    with pytest.raises(ValueError, match="machine 1 .* less than one core or GiB per NUMA node"):
        instance_from_snapshot(raw, np.random.default_rng(0), 3, 10, 32)
