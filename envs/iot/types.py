"""Typed data of the IoT placement env: topologies, workloads (instances) and the mutable state.

Times are in seconds, data in bits, work in CPU cycles, memory in MB, power in watts, energy in
joules. Shapes use K = compute nodes, L = network links (undirected), M = tasks of the workload,
C = the most cores of any node.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# Node tiers, also the order of the tier one-hot in the observation.
DEVICE, EDGE, FOG, CLOUD = range(4)
TIER_NAMES = ("device", "edge", "fog", "cloud")

# Task status codes.
PENDING, WAITING, PLACED, DROPPED = range(4)
STATUS_NAMES = ("pending", "waiting", "placed", "dropped")
# PENDING: not arrived yet. WAITING: arrived, to be placed. PLACED: its transfer, run and result
# are reserved (the times are known at placement). DROPPED: its deadline passed while waiting.


@dataclass(frozen=True)
class Topology:
    """Compute nodes of every tier and the network between them.

    Links are undirected and full duplex: each direction is a separate channel of the link's
    bandwidth. Devices are nodes too (they may run their own tasks).
    """

    tier: np.ndarray  # (K,) int64 tier code (DEVICE ... CLOUD)
    cores: np.ndarray  # (K,) int64 ≥ 1
    freq_hz: np.ndarray  # (K,) float64 > 0, cycles per second of one core
    memory_mb: np.ndarray  # (K,) float64 > 0
    p_idle_w: np.ndarray  # (K,) float64 ≥ 0, power with every core idle
    p_max_w: np.ndarray  # (K,) float64 ≥ p_idle_w, power with every core busy
    tx_power_w: np.ndarray  # (K,) float64 ≥ 0, radio power while a device sends (0 off devices)
    link_src: np.ndarray  # (L,) int64 node index
    link_dst: np.ndarray  # (L,) int64 node index, ≠ link_src
    link_latency_s: np.ndarray  # (L,) float64 ≥ 0, one-way propagation latency
    link_bandwidth_bps: np.ndarray  # (L,) float64 > 0, per direction

    @property
    def num_nodes(self) -> int:
        return int(self.tier.shape[0])

    @property
    def num_links(self) -> int:
        return int(self.link_src.shape[0])

    @property
    def devices(self) -> np.ndarray:
        """Indices of the device nodes, ascending, (D,)."""
        return np.flatnonzero(self.tier == DEVICE)

    def validate(self, where: str) -> None:
        """Checks shapes and ranges.

        Args:
            where: What the topology belongs to, for the message (an instance or file name).

        Raises:
            ValueError: Naming ``where``, the field and the first offending node or link.
        """
        k, n_links = self.num_nodes, self.num_links
        for name in _NODE_FIELDS:
            _check_shape(where, name, getattr(self, name), (k,))
        for name in _LINK_FIELDS:
            _check_shape(where, name, getattr(self, name), (n_links,))
        for name in ("tier", "cores", "link_src", "link_dst"):
            if not np.issubdtype(getattr(self, name).dtype, np.integer):
                raise ValueError(f"{where}: {name} must be integer, got {getattr(self, name).dtype}")
        checks = (
            ("tier", (self.tier >= DEVICE) & (self.tier <= CLOUD), f"a tier code in [0, {CLOUD}]"),
            ("cores", (self.cores >= 1) & (self.cores <= MAX_CORES), f"in [1, {MAX_CORES}]"),
            ("freq_hz", _finite(self.freq_hz) & (self.freq_hz > 0), "finite and > 0"),
            ("memory_mb", _finite(self.memory_mb) & (self.memory_mb > 0), "finite and > 0"),
            ("p_idle_w", _finite(self.p_idle_w) & (self.p_idle_w >= 0), "finite and ≥ 0"),
            ("p_max_w", _finite(self.p_max_w) & (self.p_max_w >= self.p_idle_w), "finite and ≥ p_idle_w"),
            ("tx_power_w", _finite(self.tx_power_w) & (self.tx_power_w >= 0), "finite and ≥ 0"),
            ("link_src", (self.link_src >= 0) & (self.link_src < k), f"a node index in [0, {k})"),
            ("link_dst", (self.link_dst >= 0) & (self.link_dst < k) & (self.link_dst != self.link_src),
             f"a node index in [0, {k}) other than link_src"),
            ("link_latency_s", _finite(self.link_latency_s) & (self.link_latency_s >= 0), "finite and ≥ 0"),
            ("link_bandwidth_bps", _finite(self.link_bandwidth_bps) & (self.link_bandwidth_bps > 0),
             "finite and > 0"),
        )
        for name, ok, allowed in checks:
            bad = np.flatnonzero(~ok)
            if len(bad):
                raise ValueError(f"{where}: {name}[{bad[0]}] = {getattr(self, name)[bad[0]].item()!r}, must be {allowed}")
        if not np.any(self.tier == DEVICE):
            raise ValueError(f"{where}: the topology has no device node (tier {DEVICE})")
        pairs = np.sort(np.stack([self.link_src, self.link_dst]), axis=0)
        if n_links and len(np.unique(pairs, axis=1)[0]) != n_links:
            raise ValueError(f"{where}: two links join the same pair of nodes")


@dataclass(frozen=True)
class IoTInstance:
    """A workload on a topology: tasks with arrival times, sizes, deadlines and QoS classes.

    A task is generated by a device, needs ``input_bits`` sent to where it runs, ``cycles`` of
    one core and ``memory_mb`` there while queued and running, and returns ``output_bits``.
    Its deadline is relative to its arrival.
    """

    topology: Topology
    arrival: np.ndarray  # (M,) float64 s, non-decreasing
    device: np.ndarray  # (M,) int64 node index of a device
    input_bits: np.ndarray  # (M,) float64 ≥ 0
    cycles: np.ndarray  # (M,) float64 > 0
    memory_mb: np.ndarray  # (M,) float64 ≥ 0
    output_bits: np.ndarray  # (M,) float64 ≥ 0
    deadline_s: np.ndarray  # (M,) float64 > 0, relative to arrival
    qos: np.ndarray  # (M,) int64 QoS class in [0, QOS_CLASSES), 0 the most urgent
    name: str = ""

    @property
    def num_tasks(self) -> int:
        return int(self.arrival.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The instance as named arrays (for ``np.savez``): node fields of the topology prefixed
        ``node_``, its link fields and the task fields by their names."""
        arrays = {f"node_{name}": getattr(self.topology, name) for name in _NODE_FIELDS}
        arrays.update({name: getattr(self.topology, name) for name in _LINK_FIELDS})
        arrays.update({name: getattr(self, name) for name in _TASK_FIELDS})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], name: str = "") -> "IoTInstance":
        """Inverse of :meth:`arrays`, validated (see :meth:`validate`).

        Raises:
            ValueError: If an array is missing or inconsistent; the message names it.
        """
        stored = {f"node_{f}": f for f in _NODE_FIELDS} | {f: f for f in _LINK_FIELDS}
        missing = [key for key in (*stored, *_TASK_FIELDS) if key not in arrays]
        if missing:
            raise ValueError(f"IoT instance {name!r} lacks the arrays {missing}")
        topology = Topology(**{field: np.asarray(arrays[key]) for key, field in stored.items()})
        instance = cls(topology, **{f: np.asarray(arrays[f]) for f in _TASK_FIELDS}, name=name)
        instance.validate()
        return instance

    def validate(self) -> None:
        """Checks the topology, then the tasks' shapes and ranges.

        Raises:
            ValueError: Naming the instance, the field and the first offending task.
        """
        where = f"IoT instance {self.name!r}"
        self.topology.validate(where)
        m, k = self.num_tasks, self.topology.num_nodes
        for name in _TASK_FIELDS:
            _check_shape(where, name, getattr(self, name), (m,))
        for name in ("device", "qos"):
            if not np.issubdtype(getattr(self, name).dtype, np.integer):
                raise ValueError(f"{where}: {name} must be integer, got {getattr(self, name).dtype}")
        is_device = np.zeros(k, bool)
        is_device[self.topology.devices] = True
        in_range = (self.device >= 0) & (self.device < k)
        checks = (
            ("arrival", _finite(self.arrival) & (self.arrival >= 0), "finite and ≥ 0"),
            ("device", in_range & is_device[np.where(in_range, self.device, 0)], "the index of a device node"),
            ("input_bits", _finite(self.input_bits) & (self.input_bits >= 0), "finite and ≥ 0"),
            ("cycles", _finite(self.cycles) & (self.cycles > 0), "finite and > 0"),
            ("memory_mb", _finite(self.memory_mb) & (self.memory_mb >= 0), "finite and ≥ 0"),
            ("output_bits", _finite(self.output_bits) & (self.output_bits >= 0), "finite and ≥ 0"),
            ("deadline_s", _finite(self.deadline_s) & (self.deadline_s > 0), "finite and > 0"),
            ("qos", (self.qos >= 0) & (self.qos < QOS_CLASSES), f"in [0, {QOS_CLASSES})"),
        )
        for name, ok, allowed in checks:
            bad = np.flatnonzero(~ok)
            if len(bad):
                raise ValueError(f"{where}: {name}[{bad[0]}] = {getattr(self, name)[bad[0]].item()!r}, must be {allowed}")
        if m and np.any(np.diff(self.arrival) < 0):
            first = int(np.flatnonzero(np.diff(self.arrival) < 0)[0]) + 1
            raise ValueError(f"{where}: arrival[{first}] precedes arrival[{first - 1}]")


#: Most cores of one node (the observation pads per-core arrays to it).
MAX_CORES = 256
#: QoS classes: 0 critical, 1 standard, 2 best effort (see ``envs.iot.generator``).
QOS_CLASSES = 3

_NODE_FIELDS = ("tier", "cores", "freq_hz", "memory_mb", "p_idle_w", "p_max_w", "tx_power_w")
_LINK_FIELDS = ("link_src", "link_dst", "link_latency_s", "link_bandwidth_bps")
_TASK_FIELDS = tuple(f.name for f in fields(IoTInstance) if f.name not in ("topology", "name"))


def _finite(array: np.ndarray) -> np.ndarray:
    return np.isfinite(array.astype(np.float64, copy=False))


def _check_shape(where: str, name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise ValueError(f"{where}: {name} has shape {array.shape}, expected {shape}")


@dataclass
class IoTState:
    """The state that baselines read (``env.unwrapped.state``), owned and updated by
    :class:`envs.iot.sim.IoTSim`. Per-task arrays are indexed by task id (arrival order).

    Every reservation is made when a task is placed: its input transfer holds the links of its
    path, its run holds the core that frees first, so its finish and response are known then.
    """

    time: float  # s, the current decision epoch
    status: np.ndarray  # (M,) int8 status code (PENDING ... DROPPED)
    node: np.ndarray  # (M,) int64 node the task was placed on (-1 before)
    input_arrival: np.ndarray  # (M,) float64 s, input fully received at its node (nan before)
    start: np.ndarray  # (M,) float64 s, run start (nan before)
    finish: np.ndarray  # (M,) float64 s, run end (nan before)
    response: np.ndarray  # (M,) float64 s, result back at the device − arrival (nan before)
    energy_j: np.ndarray  # (M,) float64 J, dynamic CPU energy + radio energy of the task
    core_free: np.ndarray  # (K, C) float64 s, when each core is next free (inf past a node's cores)
    link_free: np.ndarray  # (2L,) float64 s, when each link direction is next free (2l: src→dst)
    memory_used: np.ndarray  # (K,) float64 MB held by tasks placed and not finished
    busy_core_s: np.ndarray  # (K,) float64 core-seconds of work placed on each node
    arrived: int  # tasks with arrival ≤ time (ids [0, arrived) have arrived)
    selected: int  # task chosen in phase 0, awaiting its node (-1 in phase 0)
