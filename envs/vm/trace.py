"""VM rescheduling instances from a real Google cluster-data 2011 trace: the snapshot of machines
and running tasks at a time, and instances drawn from it (the loader is
:mod:`schedgym.data.google_cluster`, whose rules for bad input apply here too: what the model
cannot represent is left out with a counted :class:`~schedgym.data.google_cluster.TraceWarning`)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from schedgym.envs.vm.generator import CORES_PER_UNIT, GIB_PER_UNIT, requests_to_vm_sizes
from schedgym.envs.vm.types import BOTH_NUMA, VMInstance

if TYPE_CHECKING:  # pandas-heavy: only trace users import them
    import pandas as pd

    from schedgym.data.google_cluster import ClusterSnapshot


def load_trace_snapshot(trace_dir: Path, time_s: float | None) -> ClusterSnapshot:
    """The Google 2011 trace's machines and running tasks at ``time_s`` (trace seconds), without
    the machines too small to model (under one core or one GiB per NUMA node) and their tasks."""
    from schedgym.data.google_cluster import TraceWarning, load_snapshot

    snapshot = load_snapshot(trace_dir, None if time_s is None else int(round(time_s * 1e6)))
    numa_cpu, numa_mem = numa_capacity(snapshot.machines)
    tiny = (numa_cpu < 1) | (numa_mem < 1)
    if not tiny.any():
        return snapshot
    gone = snapshot.machines["machine_id"][tiny]
    on_gone = snapshot.tasks["machine_id"].isin(gone)
    warnings.warn(
        f"{snapshot.trace_dir}: {int(tiny.sum())} machines with less than one core or GiB per NUMA "
        f"node (at {CORES_PER_UNIT} cores and {GIB_PER_UNIT} GiB per normalised unit) left out, "
        f"with their {int(on_gone.sum())} running tasks; first: machine {int(gone.iloc[0])}",
        TraceWarning,
        stacklevel=2,
    )
    return replace(
        snapshot,
        machines=snapshot.machines[~tiny].reset_index(drop=True),
        tasks=snapshot.tasks[~on_gone].reset_index(drop=True),
    )


def numa_capacity(machines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whole cores and GiB of each NUMA node of each machine (two equal nodes), each (M,) int64."""
    cores = np.round(machines["cpu"].to_numpy() * CORES_PER_UNIT / 2).astype(np.int64)
    gib = np.round(machines["memory"].to_numpy() * GIB_PER_UNIT / 2).astype(np.int64)
    return cores, gib


def instance_from_snapshot(
    snapshot: ClusterSnapshot,
    rng: np.random.Generator,
    num_pms: int,
    max_vms: int,
    double_numa_min_cpu: int,
) -> VMInstance:
    """An instance of ``num_pms`` machines drawn from a trace snapshot, with their tasks as VMs.

    The trace says which machine runs a task but not which NUMA node: tasks are assigned to NUMA
    nodes by best fit, largest first. Tasks that do not fit after rounding to whole cores and GiB
    (the trace allows overcommitment) or that would break their job's anti-affinity are dropped,
    with a warning that counts them.

    Raises:
        ValueError: If the snapshot has fewer than ``num_pms`` machines, a drawn machine has less
            than one core or GiB per NUMA node (:func:`load_trace_snapshot` leaves those out), or
            the drawn machines run more than ``max_vms`` tasks.
    """
    machines, tasks = snapshot.machines, snapshot.tasks
    if len(machines) < num_pms:
        raise ValueError(
            f"the trace snapshot of {snapshot.trace_dir} at t={snapshot.time_us} us has "
            f"{len(machines)} machines with known capacity; this size needs {num_pms}: choose a "
            "smaller size or another time"
        )
    chosen = np.sort(rng.choice(len(machines), size=num_pms, replace=False))
    picked = machines.iloc[chosen]
    cores, gib = numa_capacity(picked)
    tiny = (cores < 1) | (gib < 1)
    if tiny.any():
        raise ValueError(
            f"machine {int(picked['machine_id'].iloc[int(np.argmax(tiny))])} of {snapshot.trace_dir} "
            "has less than one core or GiB per NUMA node; load the snapshot with load_trace_snapshot"
        )
    numa_cpu = np.repeat(cores.astype(np.int32)[:, None], 2, 1)
    numa_mem = np.repeat(gib.astype(np.int32)[:, None], 2, 1)
    pm_of_machine = dict(zip(picked["machine_id"].to_numpy().tolist(), range(num_pms)))
    running = tasks[tasks["machine_id"].isin(pm_of_machine)]
    cpu, mem, double = requests_to_vm_sizes(
        running["cpu_request"].to_numpy(), running["memory_request"].to_numpy(), double_numa_min_cpu
    )
    pms = running["machine_id"].map(pm_of_machine).to_numpy()
    jobs = running["job_id"].to_numpy(np.int64)
    anti = running["different_machines"].to_numpy(bool)
    free_cpu, free_mem = numa_cpu.astype(np.int64), numa_mem.astype(np.int64)
    kept, numa_of, seen = [], [], set()
    for i in np.lexsort((-cpu, pms)):  # per machine, largest first
        pm = pms[i]
        if anti[i] and (jobs[i], pm) in seen:
            continue
        if double[i]:
            fits = free_cpu[pm].min() >= cpu[i] // 2 and free_mem[pm].min() >= mem[i] // 2
            numa = BOTH_NUMA
        else:
            options = (free_cpu[pm] >= cpu[i]) & (free_mem[pm] >= mem[i])
            fits = bool(options.any())
            numa = int(np.argmin(np.where(options, free_cpu[pm] - cpu[i], np.inf)))
        if not fits:
            continue
        if numa == BOTH_NUMA:
            free_cpu[pm] -= cpu[i] // 2
            free_mem[pm] -= mem[i] // 2
        else:
            free_cpu[pm, numa] -= cpu[i]
            free_mem[pm, numa] -= mem[i]
        seen.add((jobs[i], pm))
        kept.append(i)
        numa_of.append(numa)
    if len(kept) < len(running):
        from schedgym.data.google_cluster import TraceWarning

        warnings.warn(
            f"trace snapshot of {snapshot.trace_dir}: dropped {len(running) - len(kept)} of "
            f"{len(running)} tasks that do not fit their machine after rounding to whole cores and "
            "GiB (or repeat an anti-affinity job)",
            TraceWarning,
            stacklevel=2,
        )
    if len(kept) > max_vms:
        raise ValueError(
            f"the {num_pms} machines drawn from the trace run {len(kept)} tasks, more than this "
            f"size's {max_vms} VM slots: choose a larger size"
        )
    kept_index = np.array(kept, dtype=np.intp)
    return VMInstance(
        numa_cpu=numa_cpu,
        numa_mem=numa_mem,
        vm_cpu=cpu[kept_index],
        vm_mem=mem[kept_index],
        vm_double=double[kept_index],
        vm_job=jobs[kept_index],
        vm_anti_affinity=anti[kept_index],
        vm_pm=pms[kept_index].astype(np.int32),
        vm_numa=np.array(numa_of, dtype=np.int8),
        name=f"trace@{snapshot.time_us}us",
    )


