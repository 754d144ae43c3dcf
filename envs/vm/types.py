"""Typed data of the VM rescheduling env: instances (what a cluster looks like) and the mutable
simulator state. Every array is numpy; shapes use P = PMs, V = VMs, J = anti-affinity jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: ``vm_numa`` value of a VM split evenly across both NUMA nodes of its PM.
BOTH_NUMA = -1


@dataclass(frozen=True)
class VMInstance:
    """A cluster and its initial placement. CPU is in whole cores, memory in whole GiB.

    A "double" VM occupies ``cpu // 2`` cores and ``mem // 2`` GiB on each NUMA node of its PM
    (its cpu and mem are even); any other VM sits on one NUMA node.
    """

    numa_cpu: np.ndarray  # (P, 2) int32 cores of each NUMA node
    numa_mem: np.ndarray  # (P, 2) int32 GiB of each NUMA node
    vm_cpu: np.ndarray  # (V,) int32 cores requested
    vm_mem: np.ndarray  # (V,) int32 GiB requested
    vm_double: np.ndarray  # (V,) bool split across both NUMA nodes
    vm_job: np.ndarray  # (V,) int64 job id (Google job ID for traces)
    vm_anti_affinity: np.ndarray  # (V,) bool job's tasks must stay on different PMs
    vm_pm: np.ndarray  # (V,) int32 initial PM
    vm_numa: np.ndarray  # (V,) int8 initial NUMA node, or BOTH_NUMA for double VMs
    name: str = ""

    @property
    def num_pms(self) -> int:
        return int(self.numa_cpu.shape[0])

    @property
    def num_vms(self) -> int:
        return int(self.vm_cpu.shape[0])

    # Derived once per instance (cached: the env's hot path reads them on every migration).

    @cached_property
    def cpu_per_numa(self) -> np.ndarray:
        """Cores each VM takes on every NUMA node it occupies, shape (V,) int32 (the dtype of
        the free capacities it is compared with)."""
        return np.where(self.vm_double, self.vm_cpu // 2, self.vm_cpu).astype(np.int32)

    @cached_property
    def mem_per_numa(self) -> np.ndarray:
        """GiB each VM takes on every NUMA node it occupies, shape (V,) int32."""
        return np.where(self.vm_double, self.vm_mem // 2, self.vm_mem).astype(np.int32)

    @cached_property
    def anti_affinity_vms(self) -> np.ndarray:
        """Indices of the VMs whose job has the different-machines restriction, shape (A,)."""
        return np.flatnonzero(self.vm_anti_affinity)

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields by name (for saving with ``np.savez``)."""
        return {name: getattr(self, name) for name in _ARRAY_FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], name: str = "") -> "VMInstance":
        """Inverse of :meth:`arrays`, with the dtypes fixed."""
        missing = [key for key in _ARRAY_FIELDS if key not in arrays]
        if missing:
            raise ValueError(f"VM instance {name!r} lacks the arrays {missing}")
        return cls(**{key: np.asarray(arrays[key], dtype=_ARRAY_FIELDS[key]) for key in _ARRAY_FIELDS},
                   name=name)


_ARRAY_FIELDS: dict[str, type] = {
    "numa_cpu": np.int32,
    "numa_mem": np.int32,
    "vm_cpu": np.int32,
    "vm_mem": np.int32,
    "vm_double": np.bool_,
    "vm_job": np.int64,
    "vm_anti_affinity": np.bool_,
    "vm_pm": np.int32,
    "vm_numa": np.int8,
}


@dataclass
class VMState:
    """The simulator state that baselines read (``env.unwrapped.state``).

    ``feasible[v, d]`` says whether VM ``v`` may migrate to destination ``d`` now; destinations
    are the 2P NUMA nodes (``d = 2 * pm + numa``, for single-NUMA VMs) followed by the P PMs
    (``d = 2P + pm``, for double VMs). It is kept up to date incrementally.
    """

    instance: VMInstance
    vm_pm: np.ndarray  # (V,) int32 current PM
    vm_numa: np.ndarray  # (V,) int8 current NUMA node, or BOTH_NUMA
    free_cpu: np.ndarray  # (P, 2) int32 unallocated cores per NUMA node
    free_mem: np.ndarray  # (P, 2) int32 unallocated GiB per NUMA node
    job_row: np.ndarray  # (V,) int32 row of the VM's job in job_pm_count (J = no anti-affinity)
    job_pm_count: np.ndarray  # (J + 1, P) int32 VMs of each anti-affinity job per PM; row J zero
    feasible: np.ndarray  # (V, 3P) bool legal migration destinations
    num_destinations: np.ndarray  # (V,) int32 row sums of feasible
    granularity: int = 16
    migrations: int = 0
    selected_vm: int = -1  # VM chosen in the first half of a migration, -1 between migrations
    initial_fragment_rate: float = 0.0
    history: list[tuple[int, int]] = field(default_factory=list)  # (vm, destination) per migration
