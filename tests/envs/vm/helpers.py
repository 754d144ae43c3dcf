"""Hand-made VM instances for tests."""

from __future__ import annotations

import numpy as np

from schedgym.envs.vm.types import BOTH_NUMA, VMInstance


def make_instance(
    numa_cpu: list[int],
    vms: list[tuple[int, int, int]],
    numa_mem: int = 256,
    mem: int = 1,
    jobs: list[int] | None = None,
    anti_affinity: list[bool] | None = None,
) -> VMInstance:
    """PMs with equal NUMA nodes of ``numa_cpu[pm]`` cores; ``vms`` as (cores, pm, numa) with
    numa = BOTH_NUMA for a double VM; every VM needs ``mem`` GiB (per NUMA node for doubles: 2×)."""
    cpu = np.array([v[0] for v in vms], np.int32)
    numa = np.array([v[2] for v in vms], np.int8)
    double = numa == BOTH_NUMA
    return VMInstance(
        numa_cpu=np.repeat(np.array(numa_cpu, np.int32)[:, None], 2, axis=1),
        numa_mem=np.full((len(numa_cpu), 2), numa_mem, np.int32),
        vm_cpu=cpu,
        vm_mem=np.where(double, 2 * mem, mem).astype(np.int32),
        vm_double=double,
        vm_job=np.array(jobs if jobs is not None else range(len(vms)), np.int64),
        vm_anti_affinity=np.array(anti_affinity or [False] * len(vms), bool),
        vm_pm=np.array([v[1] for v in vms], np.int32),
        vm_numa=numa,
        name="hand-made",
    )
