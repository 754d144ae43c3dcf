"""VM rescheduling instances: cluster sizes, a generator calibrated on Google cluster-data 2011,
and the recipes of the fixed instance sets (real traces: :mod:`schedgym.envs.vm.trace`).

Sources of every figure:

* Machine configurations: Reiss, Tumanov, Ganger, Katz, Kozuch, "Heterogeneity and dynamicity of
  clouds at scale: Google trace analysis", SoCC 2012, Table 1.
* Task CPU and memory requests (the 33,302 tasks running at the trace's start): the published
  quantiles, the ten most frequent values of each resource and their shares, the Pearson
  correlation 0.49 and the 3.1% of tasks requesting at least 0.25 CPU. They become
  :class:`~schedgym.envs.vm.requests.RequestTables` (:data:`GOOGLE_2011_TABLES`): point masses
  plus a remainder that keeps the quantiles, joined by a Gaussian copula. Users with the trace
  fit their own with ``python -m schedgym.envs.vm.calibrate`` (the env's ``request_tables``).

The trace normalises CPU and memory to the largest machine. We map that machine to 128 cores and
512 GiB on 2 NUMA nodes (``CORES_PER_UNIT``, ``GIB_PER_UNIT``), so the common 0.5-CPU machine has
2 × 32 cores and the median 0.0625 task is an 8-core VM. Requests round up to whole cores and GiB.

The initial placement comes from simulated churn: VMs arrive (requests sampled as above) and are
placed by an ordinary online best-fit scheduler, and random VMs depart, until the cluster has run
at its target CPU allocation for a while. Departures leave holes, so the initial fragment rate is
what a live cluster shows (VMR2L reports about 0.55 at Medium), not that of a random scatter.

Generator versions (:data:`GENERATOR_VERSIONS`): 2 (``VMReschedule-v2``) has the point masses and
admits every arrival, preempting VMs if it fits nowhere (:func:`_churn_v2` says why); 1
(``VMReschedule-v1``) is kept bit for bit: quantile tables only, arrivals that fit nowhere dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from schedgym.data.instance_sets import Recipe
from schedgym.envs.validation import ArgumentError, check_fields, check_float, check_int, item_name
from schedgym.envs.vm.requests import RequestTables, remainder_from_quantiles, standard_normal_cdf
from schedgym.envs.vm.types import BOTH_NUMA, VMInstance

CORES_PER_UNIT = 128  # cores of a machine with normalised CPU 1.0 (assumption, documented above)
GIB_PER_UNIT = 512  # GiB of a machine with normalised memory 1.0 (assumption)

# Reiss et al. 2012, Table 1: (machines, normalised CPUs, normalised memory); platform dropped.
MACHINE_CONFIGS = np.array(
    [
        (6732, 0.50, 0.50),
        (3863, 0.50, 0.25),
        (1001, 0.50, 0.75),
        (795, 1.00, 1.00),
        (126, 0.25, 0.25),
        (52, 0.50, 0.12),
        (5, 0.50, 0.03),
        (5, 0.50, 0.97),
        (3, 1.00, 0.50),
        (1, 0.50, 0.06),
    ]
)

# ---------------------------------------------------------------------------------------------
# Request tables (envs.vm.requests). Every figure below is from the 33,302 tasks running at the
# start of clusterdata-2011-2 (Reiss et al., SoCC 2012, and the trace's published summaries;
# /work/shared/reference of the project: quantiles, the ten largest point masses of each
# resource, Pearson 0.49, 3.1% of tasks request >= 0.25 CPU).

#: Published quantiles (probability, value) of the CPU request. The 0% knot is our assumption;
#: the 96.9% knot at 0.25 is the published "3.1% request at least 0.25 CPU".
PUBLISHED_CPU_QUANTILES = (
    (0.00, 0.0020), (0.01, 0.0044), (0.05, 0.0187), (0.10, 0.0313), (0.25, 0.0625),
    (0.50, 0.0625), (0.75, 0.0938), (0.90, 0.128), (0.95, 0.151), (0.969, 0.25), (0.99, 0.339),
    (1.00, 0.4375),
)
#: The ten most frequent CPU requests (value, share of tasks): 78.7% of all requests.
PUBLISHED_CPU_MASSES = (
    (0.0625, 0.422), (0.125, 0.090), (0.09375, 0.059), (0.08496, 0.045), (0.06189, 0.039),
    (0.1514, 0.034), (0.03125, 0.031), (0.01874, 0.025), (0.08435, 0.024), (0.1282, 0.017),
)
#: Published quantiles of the memory request (the 0% knot is our assumption).
PUBLISHED_MEMORY_QUANTILES = (
    (0.00, 0.0010), (0.01, 0.0030), (0.05, 0.0080), (0.10, 0.0127), (0.25, 0.0256),
    (0.50, 0.0477), (0.75, 0.0857), (0.90, 0.127), (0.95, 0.158), (0.99, 0.233), (1.00, 0.637),
)
#: The ten most frequent memory requests (value, share of tasks): 68.9% of all requests.
PUBLISHED_MEMORY_MASSES = (
    (0.07642, 0.149), (0.08569, 0.143), (0.0256, 0.116), (0.03821, 0.067), (0.03198, 0.058),
    (0.04773, 0.047), (0.1541, 0.039), (0.2327, 0.030), (0.01605, 0.022), (0.07654, 0.018),
)
#: Published Pearson correlation of the CPU and memory requests.
PUBLISHED_PEARSON = 0.49
#: Correlation of the Gaussian copula of generator version 2, calibrated on generator samples
#: so that the VMs *placed* in medium instances (whole cores and GiB) have Pearson ~0.49.
COPULA_CORRELATION = 0.57

#: Generator version 2's default tables: the published point masses exactly, the remainder
#: interpolated so that the mixture keeps the published quantiles
#: (:func:`~schedgym.envs.vm.requests.remainder_from_quantiles`).
GOOGLE_2011_TABLES = RequestTables(
    cpu_masses=PUBLISHED_CPU_MASSES,
    cpu_remainder=remainder_from_quantiles(PUBLISHED_CPU_QUANTILES, PUBLISHED_CPU_MASSES),
    mem_masses=PUBLISHED_MEMORY_MASSES,
    mem_remainder=remainder_from_quantiles(PUBLISHED_MEMORY_QUANTILES, PUBLISHED_MEMORY_MASSES),
    copula_correlation=COPULA_CORRELATION,
    source="published statistics of clusterdata-2011-2 (33,302 tasks running at its start)",
)

# Generator version 1 (VMReschedule-v1), kept bit for bit so its sets and results replay: no
# point masses; the CPU quantile function had flat steps at 0.0625, 0.09375 and 0.125 instead.
_V1_CPU_QUANTILES = (
    (0.00, 0.0020), (0.01, 0.0044), (0.05, 0.0187), (0.10, 0.0313), (0.20, 0.0625),
    (0.62, 0.0625), (0.70, 0.09375), (0.76, 0.09375), (0.80, 0.125), (0.89, 0.125),
    (0.90, 0.128), (0.95, 0.151), (0.99, 0.339), (1.00, 0.4375),
)
V1_TABLES = RequestTables(
    cpu_masses=(), cpu_remainder=_V1_CPU_QUANTILES, mem_masses=(),
    mem_remainder=PUBLISHED_MEMORY_QUANTILES, copula_correlation=0.55,
    source="generator version 1: published quantiles only, copula 0.55",
)
#: Generator versions: 1 = VMReschedule-v1 (quantile tables, rejected arrivals dropped),
#: 2 = VMReschedule-v2 (point masses, rejected arrivals make room).
GENERATOR_VERSIONS = (1, 2)
DEFAULT_TABLES = {1: V1_TABLES, 2: GOOGLE_2011_TABLES}


@dataclass(frozen=True)
class SizePreset:
    """Scale of a cluster: PMs, the VM padding bound and the default migration number limit."""

    num_pms: int
    max_vms: int
    mnl: int


# Medium and large follow VMR2L's PM counts; VM counts follow from the Google request mix at the
# calibrated allocation (generator version 2: about 5.4 VMs per PM, ~55 at small, ~1,530 at
# medium, ~6,500 at large; version 1: about 6.4, ~64, ~1,800, ~7,300).
SIZES: dict[str, SizePreset] = {
    "small": SizePreset(num_pms=10, max_vms=96, mnl=10),
    "medium": SizePreset(num_pms=280, max_vms=2048, mnl=50),
    "large": SizePreset(num_pms=1200, max_vms=8704, mnl=50),
}


@dataclass(frozen=True)
class GeneratorConfig:
    """Parameters of the churn generator.

    Attributes:
        num_pms: Physical machines.
        max_vms: Upper bound on VMs (the env's padding); arrivals stop there.
        target_cpu_allocation: Share of all cores allocated at which VMs depart instead of
            arriving. Calibrated on generator samples so that the initial fragment rate at medium
            is about VMR2L's 0.55: 0.87 for version 2 (0.91 for version 1,
            :data:`VERSION_DEFAULTS`).
        churn_events_per_vm: Arrival/departure events after the fill, per VM in the cluster.
        join_job_probability: Chance that an arriving VM joins the job of a random running VM
            (preferential attachment gives the trace's heavy-tailed job sizes: median 1 task).
        anti_affinity_probability: Chance that a new job carries the different-machines
            restriction. The reference gives no share; this is our assumption.
        double_numa_min_cpu: VMs of at least this many cores are split evenly across both NUMA
            nodes of their PM (VMR2L's double-NUMA VMs); 32 = two 16-core fragments.
    """

    num_pms: int
    max_vms: int
    target_cpu_allocation: float = 0.87
    churn_events_per_vm: float = 2.0
    join_job_probability: float = 0.3
    anti_affinity_probability: float = 0.2
    double_numa_min_cpu: int = 32


#: Defaults of :class:`GeneratorConfig` that differ by generator version (version 1's churn
#: drops arrivals that fit nowhere, so it reached FR 0.55 at a higher allocation).
VERSION_DEFAULTS: dict[int, dict[str, Any]] = {1: {"target_cpu_allocation": 0.91}, 2: {}}


def default_config(num_pms: int, max_vms: int, version: int = 2) -> GeneratorConfig:
    """The default configuration of generator ``version`` for a cluster of this size."""
    return replace(GeneratorConfig(num_pms=num_pms, max_vms=max_vms), **VERSION_DEFAULTS[version])


#: Upper bound of ``GeneratorConfig.churn_events_per_vm``: the generator draws
#: ``max_vms * (2 + churn_events_per_vm)`` requests up front (at 100 and size large, 0.9 million).
MAX_CHURN_EVENTS_PER_VM = 100.0
#: The fields of :class:`GeneratorConfig` that instances drawn from a trace use (the others
#: shape the generator's churn).
TRACE_FIELDS = ("num_pms", "max_vms", "double_numa_min_cpu")


def make_config(
    preset: SizePreset, overrides: Any = None, *, name: str = "generator_config", trace: bool = False,
    version: int = 2,
) -> GeneratorConfig:
    """The generator configuration of a size preset with validated overrides.

    Args:
        preset: The size; its PM and VM counts are the defaults and the upper bounds (they are
            the env's padding).
        overrides: ``None``, a :class:`GeneratorConfig` or a mapping of some of its fields.
        name: The argument's name in error messages.
        trace: Whether instances come from a trace, which uses only :data:`TRACE_FIELDS`.
        version: The generator version whose defaults apply (:data:`VERSION_DEFAULTS`).

    Raises:
        schedgym.envs.validation.ArgumentError: An unknown or (with ``trace``) unused field, or
            a value of the wrong type or out of range; the message names ``name["field"]``.
    """
    given = {} if overrides is None else check_fields(name, overrides, GeneratorConfig)
    unused = [key for key in given if trace and key not in TRACE_FIELDS]
    if unused:
        raise ArgumentError(
            f"{item_name(name, unused[0])} has no effect with trace_dir (instances drawn from a "
            f"trace use only {', '.join(TRACE_FIELDS)}), got {given[unused[0]]!r}")
    slots = (f"the padding of a size with {preset.num_pms} PMs and {preset.max_vms} VMs: "
             "choose a larger size")
    checks = {
        "num_pms": partial(check_int, low=1, high=preset.num_pms, why=slots),
        "max_vms": partial(check_int, low=1, high=preset.max_vms, why=slots),
        "target_cpu_allocation": partial(check_float, low=0.0, high=1.0, low_open=True),
        "churn_events_per_vm": partial(check_float, low=0.0, high=MAX_CHURN_EVENTS_PER_VM),
        "join_job_probability": partial(check_float, low=0.0, high=1.0),
        "anti_affinity_probability": partial(check_float, low=0.0, high=1.0),
        "double_numa_min_cpu": partial(check_int, low=2, high=CORES_PER_UNIT),
    }
    values = {key: checks[key](item_name(name, key), value) for key, value in given.items()}
    return replace(default_config(preset.num_pms, preset.max_vms, version), **values)


def sample_machines(rng: np.random.Generator, num_pms: int) -> tuple[np.ndarray, np.ndarray]:
    """Machine capacities drawn from the trace's configuration mix.

    Returns:
        Cores and GiB per NUMA node, each of shape (num_pms, 2).
    """
    weights = MACHINE_CONFIGS[:, 0] / MACHINE_CONFIGS[:, 0].sum()
    config = rng.choice(len(MACHINE_CONFIGS), size=num_pms, p=weights)
    cores = np.round(MACHINE_CONFIGS[config, 1] * CORES_PER_UNIT / 2).astype(np.int32)
    gib = np.round(MACHINE_CONFIGS[config, 2] * GIB_PER_UNIT / 2).astype(np.int32)
    return np.repeat(cores[:, None], 2, axis=1), np.repeat(gib[:, None], 2, axis=1)


def sample_requests(
    rng: np.random.Generator, count: int, tables: RequestTables = GOOGLE_2011_TABLES
) -> tuple[np.ndarray, np.ndarray]:
    """CPU and memory requests (normalised) drawn from ``tables``."""
    return tables.sample(rng, count)


def requests_to_vm_sizes(
    cpu: np.ndarray, mem: np.ndarray, double_numa_min_cpu: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised requests to whole cores and GiB; double VMs round both up to even numbers.

    Returns:
        cores (int32), GiB (int32) and the double-NUMA flag, each of shape (count,).
    """
    cores = np.maximum(1, np.ceil(cpu * CORES_PER_UNIT - 1e-9)).astype(np.int32)
    gib = np.maximum(1, np.ceil(mem * GIB_PER_UNIT - 1e-9)).astype(np.int32)
    double = cores >= double_numa_min_cpu
    cores = np.where(double, cores + cores % 2, cores)
    gib = np.where(double, gib + gib % 2, gib)
    return cores.astype(np.int32), gib.astype(np.int32), double


class _OnlineCluster:
    """A cluster filled VM by VM by a best-fit online scheduler (used to make initial states)."""

    def __init__(self, numa_cpu: np.ndarray, numa_mem: np.ndarray, max_vms: int, rng: np.random.Generator):
        self.free_cpu = numa_cpu.astype(np.int64).copy()
        self.free_mem = numa_mem.astype(np.int64).copy()
        self.rng = rng
        self.count = 0
        self.cpu = np.zeros(max_vms, np.int32)
        self.mem = np.zeros(max_vms, np.int32)
        self.double = np.zeros(max_vms, bool)
        self.job = np.zeros(max_vms, np.int64)
        self.anti = np.zeros(max_vms, bool)
        self.pm = np.zeros(max_vms, np.int32)
        self.numa = np.zeros(max_vms, np.int8)
        self.job_pms: dict[int, list[int]] = {}  # anti-affinity job -> PMs of its running VMs

    def place(self, cpu: int, mem: int, double: bool, job: int, anti: bool,
              only_pm: int | None = None) -> bool:
        """Best fit: the feasible spot that leaves the fewest free cores (on ``only_pm`` if
        given); False if none fits."""
        blocked = np.zeros(len(self.free_cpu), bool)
        if only_pm is not None:
            blocked[:] = True
            blocked[only_pm] = False
        if anti:
            blocked[self.job_pms.get(job, [])] = True
        if double:
            fits = (self.free_cpu.min(1) >= cpu // 2) & (self.free_mem.min(1) >= mem // 2) & ~blocked
            leftover = self.free_cpu.sum(1) - cpu
        else:
            fits = (self.free_cpu >= cpu) & (self.free_mem >= mem) & ~blocked[:, None]
            leftover = self.free_cpu - cpu
        if not fits.any():
            return False
        # Random tie-breaking among equally good spots keeps placements from piling on PM 0.
        score = np.where(fits, leftover + self.rng.random(leftover.shape), np.inf)
        spot = int(np.argmin(score))
        pm, numa = (spot, BOTH_NUMA) if double else divmod(spot, 2)
        slot = self.count
        self.cpu[slot], self.mem[slot], self.double[slot] = cpu, mem, double
        self.job[slot], self.anti[slot], self.pm[slot], self.numa[slot] = job, anti, pm, numa
        self._take(slot, +1)
        if anti:
            self.job_pms.setdefault(job, []).append(pm)
        self.count += 1
        return True

    def make_room(self, cpu: int, mem: int, double: bool, job: int, anti: bool,
                  hosts: np.ndarray) -> None:
        """Places a VM that fits nowhere by preemption: VMs depart from the PM of a VM chosen
        uniformly (that VM first, then its neighbours in random order) until the new VM fits
        there. ``hosts`` flags the PMs that hold the VM when empty; a chosen VM on another PM
        is passed over. A VM departs with about the same chance whatever its size: its PM is
        chosen in proportion to the VMs on it, and then each of them with one chance in that
        number."""
        while True:
            victim = int(self.rng.random() * self.count)
            pm = int(self.pm[victim])
            if hosts[pm]:
                break
        self.remove(victim)
        while not self.place(cpu, mem, double, job, anti, only_pm=pm):
            on_pm = np.flatnonzero(self.pm[: self.count] == pm)
            self.remove(int(on_pm[int(self.rng.random() * len(on_pm))]))

    def remove(self, slot: int) -> None:
        """Departs the VM in ``slot``; the last VM moves into the hole."""
        self._take(slot, -1)
        if self.anti[slot]:
            self.job_pms[int(self.job[slot])].remove(int(self.pm[slot]))
        last = self.count - 1
        for array in (self.cpu, self.mem, self.double, self.job, self.anti, self.pm, self.numa):
            array[slot] = array[last]
        self.count -= 1

    def _take(self, slot: int, sign: int) -> None:
        pm, numa = self.pm[slot], self.numa[slot]
        if numa == BOTH_NUMA:
            self.free_cpu[pm] -= sign * (self.cpu[slot] // 2)
            self.free_mem[pm] -= sign * (self.mem[slot] // 2)
        else:
            self.free_cpu[pm, numa] -= sign * self.cpu[slot]
            self.free_mem[pm, numa] -= sign * self.mem[slot]


def sample_instance(
    rng: np.random.Generator,
    config: GeneratorConfig,
    name: str = "",
    *,
    version: int = 2,
    tables: RequestTables | None = None,
) -> VMInstance:
    """A cluster and its initial placement after simulated churn (see the module docstring).

    Args:
        rng: The source of every random choice.
        config: Cluster size and churn parameters.
        name: The instance's name.
        version: Generator version (:data:`GENERATOR_VERSIONS`); 1 replays VMReschedule-v1.
        tables: Request tables; default :data:`DEFAULT_TABLES` of the version.
    """
    if version not in GENERATOR_VERSIONS:
        raise ValueError(f"generator version must be one of {GENERATOR_VERSIONS}, got {version!r}")
    tables = DEFAULT_TABLES[version] if tables is None else tables
    numa_cpu, numa_mem = sample_machines(rng, config.num_pms)
    churn = _churn_v1 if version == 1 else _churn_v2
    cluster = churn(rng, config, tables, numa_cpu, numa_mem)
    n = cluster.count
    return VMInstance(
        numa_cpu=numa_cpu,
        numa_mem=numa_mem,
        vm_cpu=cluster.cpu[:n].copy(),
        vm_mem=cluster.mem[:n].copy(),
        vm_double=cluster.double[:n].copy(),
        vm_job=cluster.job[:n].copy(),
        vm_anti_affinity=cluster.anti[:n].copy(),
        vm_pm=cluster.pm[:n].copy(),
        vm_numa=cluster.numa[:n].copy(),
        name=name,
    )




def _churn_v1(rng: np.random.Generator, config: GeneratorConfig, tables: RequestTables,
              numa_cpu: np.ndarray, numa_mem: np.ndarray) -> "_OnlineCluster":
    """Version 1's churn: an arrival that fits nowhere is dropped (which thins large VMs)."""
    cluster = _OnlineCluster(numa_cpu, numa_mem, config.max_vms, rng)
    target_free = (1.0 - config.target_cpu_allocation) * numa_cpu.sum()
    # Requests are drawn in one batch (vectorised); more than churn can use, so it never runs out.
    budget = int(config.max_vms * (2 + config.churn_events_per_vm)) + 16
    cpu, mem, double = requests_to_vm_sizes(*sample_requests(rng, budget, tables),
                                            config.double_numa_min_cpu)
    coins = rng.random((budget, 3))
    job_anti: dict[int, bool] = {}
    churn_left = int(config.churn_events_per_vm * config.max_vms)
    filled, rejections = False, 0
    for i in range(budget):
        at_target = cluster.free_cpu.sum() <= target_free or cluster.count == config.max_vms
        # Fill: arrivals until the target allocation. Churn: then arrivals below it, departures
        # at it; the fill also ends if arrivals keep failing (a memory-bound cluster).
        filled = filled or at_target or rejections > 20
        if filled:
            if churn_left == 0:
                break
            churn_left -= 1
        if at_target:
            cluster.remove(int(coins[i, 1] * cluster.count))
            continue
        job = _arrival_job(cluster, coins[i], job_anti, config)
        if cluster.place(int(cpu[i]), int(mem[i]), bool(double[i]), job, job_anti[job]):
            rejections = 0
        else:
            rejections += 1
            if filled:  # a full cluster makes room, as churn would
                cluster.remove(int(coins[i, 1] * cluster.count))
    return cluster


def _arrival_job(cluster: "_OnlineCluster", coins: np.ndarray, job_anti: dict[int, bool],
                 config: GeneratorConfig) -> int:
    """The job of an arriving VM, from its three coins: that of a random running VM (with
    ``join_job_probability``), else a new job, whose anti-affinity flag goes into ``job_anti``."""
    if cluster.count and coins[0] < config.join_job_probability:
        return int(cluster.job[int(coins[1] * cluster.count)])
    job = len(job_anti)
    job_anti[job] = bool(coins[2] < config.anti_affinity_probability)
    return job


def _churn_v2(rng: np.random.Generator, config: GeneratorConfig, tables: RequestTables,
              numa_cpu: np.ndarray, numa_mem: np.ndarray) -> "_OnlineCluster":
    """Version 2's churn: arrivals are admitted in order and none is dropped for lack of room.

    Why: dropping the arrivals that do not fit (version 1) removes large VMs far more often
    than small ones, so placed medium clusters held about 1.2% double-NUMA VMs (small ones
    0.3%) against the trace's and the arrivals' ~3%. Here an arrival that fits nowhere preempts
    (:meth:`_OnlineCluster.make_room`): VMs depart from the PM of a uniformly chosen VM until it
    fits there. Every arrival is placed and a VM's chance to be preempted hardly depends on its
    size, so the placed VMs follow the arrival mix (test_generator_churn.py measures it).
    Retrying a rejected arrival later instead would not do: at the target allocation a large
    VM almost never finds room, so it would wait until the end. Preempting random VMs anywhere
    would also be size-blind, but it drains the cluster before a large VM fits (in a trial at
    medium, to 0.84 CPU allocation on average for a target of 0.91). Only
    a request that fits no PM of the cluster even when empty is skipped (no scheduler could
    place it).
    """
    cluster = _OnlineCluster(numa_cpu, numa_mem, config.max_vms, rng)
    target_free = (1.0 - config.target_cpu_allocation) * numa_cpu.sum()
    stream = _RequestStream(rng, tables, config, numa_cpu, numa_mem,
                            int(config.max_vms * (2 + config.churn_events_per_vm)) + 16)
    job_anti: dict[int, bool] = {}
    churn_left = int(config.churn_events_per_vm * config.max_vms)
    filled, waits = False, 0
    while True:
        cpu, mem, double, placeable, coins = stream.next()
        at_target = cluster.free_cpu.sum() <= target_free or cluster.count == config.max_vms
        # Fill: arrivals until the target allocation. Churn: then arrivals below it, departures
        # at it. A memory-bound cluster never reaches the CPU target: its fill ends once
        # arrivals have had to wait for room 20 times.
        filled = filled or at_target or waits > 20
        if filled:
            if churn_left == 0:
                break
            churn_left -= 1
        if at_target:
            cluster.remove(int(coins[1] * cluster.count))
            continue
        if not placeable:
            continue
        job = _arrival_job(cluster, coins, job_anti, config)
        if not cluster.place(cpu, mem, double, job, job_anti[job]):
            waits += 1
            cluster.make_room(cpu, mem, double, job, job_anti[job], stream.hosts(cpu, mem, double))
    return cluster


class _RequestStream:
    """Requests as VM sizes, drawn in batches (vectorised) and extended when churn needs more."""

    def __init__(self, rng: np.random.Generator, tables: RequestTables, config: GeneratorConfig,
                 numa_cpu: np.ndarray, numa_mem: np.ndarray, batch: int) -> None:
        self.rng, self.tables, self.config, self.batch = rng, tables, config, batch
        # What the largest NUMA node and PM of the cluster hold when empty.
        self.single_fit = (numa_cpu, numa_mem)
        self.index, self.size = 0, 0

    def _draw(self) -> None:
        cpu, mem, double = requests_to_vm_sizes(*sample_requests(self.rng, self.batch, self.tables),
                                                self.config.double_numa_min_cpu)
        numa_cpu, numa_mem = self.single_fit
        single_ok = ((numa_cpu.reshape(-1)[None, :] >= cpu[:, None])
                     & (numa_mem.reshape(-1)[None, :] >= mem[:, None])).any(1)
        double_ok = ((numa_cpu.min(1)[None, :] >= cpu[:, None] // 2)
                     & (numa_mem.min(1)[None, :] >= mem[:, None] // 2)).any(1)
        self.cpu, self.mem, self.double = cpu, mem, double
        self.placeable = np.where(double, double_ok, single_ok)
        self.coins = self.rng.random((self.batch, 3))
        self.index, self.size = 0, self.batch

    def hosts(self, cpu: int, mem: int, double: bool) -> np.ndarray:
        """Which PMs hold a VM of this size when empty, shape (P,) bool."""
        numa_cpu, numa_mem = self.single_fit
        if double:
            return (numa_cpu.min(1) >= cpu // 2) & (numa_mem.min(1) >= mem // 2)
        return ((numa_cpu >= cpu) & (numa_mem >= mem)).any(1)

    def next(self) -> tuple[int, int, bool, bool, np.ndarray]:
        """The next request: cores, GiB, double flag, whether an empty PM holds it, 3 coins."""
        if self.index == self.size:
            self._draw()
        i = self.index
        self.index += 1
        return (int(self.cpu[i]), int(self.mem[i]), bool(self.double[i]), bool(self.placeable[i]),
                self.coins[i])


# ---------------------------------------------------------------------------------------------
# Fixed instance sets (schedgym.data.instance_sets)


def _draw_set(recipe: Recipe, count: int, version: int) -> list[VMInstance]:
    """Instance ``i`` of a set comes from its own generator, ``recipe.rng(i)``."""
    preset = SIZES[recipe.env_kwargs["size"]]
    config = default_config(preset.num_pms, preset.max_vms, version)
    return [sample_instance(recipe.rng(index), config, f"{recipe.name}/{index}", version=version)
            for index in range(count)]


def _recipe(name: str, purpose: str, size: str, count: int, version: int) -> Recipe:
    # seed_key: the size's index in sorted(SIZES), so a size's test and validation sets and the
    # sets of different sizes all draw from different streams; then the generator version from
    # 2 on (version 1's sets keep the seeds they were drawn with), so every set has its own.
    seed_key = (sorted(SIZES).index(size), *((version,) if version > 1 else ()))
    return Recipe("vm", name, purpose, {"size": size}, seed_key,
                  partial(_draw_set, count=count, version=version))


#: The sets of the current generator (version 2, VMReschedule-v2) under the plain names, and
#: version 1's sets under ``v1-<name>`` (the instances VMReschedule-v1's published results were
#: measured on; the env version does not change an episode on a given instance).
INSTANCE_SETS: tuple[Recipe, ...] = tuple(
    _recipe(f"{prefix}{name}", purpose, size, count, version)
    for version, prefix in ((2, ""), (1, "v1-"))
    for name, purpose, size, count in (
        ("small-test", "test", "small", 20),
        ("medium-test", "test", "medium", 10),
        ("small-val", "val", "small", 20),
        ("medium-val", "val", "medium", 5),
    )
)
