"""Typed data of the SoC DAG environment: platforms, jobs, instances and the simulator state.

Times are in µs, data volumes in abstract units, bandwidths in units per µs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Platform:
    """A heterogeneous SoC: processing elements (PEs) of a few kinds and the links between them.

    Attributes:
        name: Platform name (``"ds3"``, ``"unrelated-3"``, ...).
        kind_names: Name of each PE kind.
        pe_kind: Kind of each PE.  # (P,) int64
        bandwidth: Transfer rate from PE p to PE q; transfers on one PE are free.  # (P, P) float64
    """

    name: str
    kind_names: tuple[str, ...]
    pe_kind: np.ndarray
    bandwidth: np.ndarray

    @property
    def n_pe(self) -> int:
        return len(self.pe_kind)

    @property
    def n_kinds(self) -> int:
        return len(self.kind_names)


@dataclass(frozen=True)
class Job:
    """One DAG of typed tasks.

    Attributes:
        name: Application name (``"wifi_tx"``) or ``"random"``.
        cost: Mean execution time of each task on each PE kind, ``inf`` if the kind cannot
            run it.  # (n, K) float64
        edges: Precedence pairs (src, dst), task indices within the job.  # (m, 2) int64
        volume: Data volume along each edge.  # (m,) float64
        task_type: Index of each task's type in the platform's type list (-1 if untyped).  # (n,)
    """

    name: str
    cost: np.ndarray
    edges: np.ndarray
    volume: np.ndarray
    task_type: np.ndarray

    @property
    def n_tasks(self) -> int:
        return self.cost.shape[0]


@dataclass(frozen=True)
class SoCInstance:
    """A workload: jobs and their arrival times (all 0 in static mode).

    Attributes:
        name: Instance name, e.g. ``"topcuoglu-fig2"`` or ``"stream-light-0003"``.
        platform: Name of the platform the costs refer to (must match the env's).
        jobs: The job DAGs.
        arrival: Arrival time of each job, non-decreasing.  # (J,) float64
    """

    name: str
    platform: str
    jobs: tuple[Job, ...]
    arrival: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The instance as named arrays (for ``np.savez``; strings as 0-d/1-d unicode arrays)."""
        arrays = {"platform": np.array(self.platform), "arrival": self.arrival,
                  "job_names": np.array([job.name for job in self.jobs])}
        for j, job in enumerate(self.jobs):
            arrays.update({f"job{j}/{field}": getattr(job, field) for field in _JOB_ARRAYS})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], name: str = "") -> "SoCInstance":
        """Inverse of :meth:`arrays`.

        Raises:
            ValueError: If an array is missing; the message names it.
        """
        def get(key: str) -> np.ndarray:
            if key not in arrays:
                raise ValueError(f"SoC instance {name!r} lacks the array {key!r}")
            return arrays[key]

        jobs = tuple(Job(str(job_name), *(get(f"job{j}/{field}") for field in _JOB_ARRAYS))
                     for j, job_name in enumerate(get("job_names").reshape(-1)))
        return cls(name, str(get("platform")), jobs, get("arrival"))


_JOB_ARRAYS = ("cost", "edges", "volume", "task_type")  # Job's array fields, in constructor order


# Task status codes, also the order of the status one-hot in the observation.
NOT_READY, READY, QUEUED, RUNNING, DONE = range(5)
STATUS_NAMES = ("not_ready", "ready", "queued", "running", "done")


@dataclass
class SoCState:
    """The simulator state that baselines read (``env.unwrapped.state``), owned and updated by
    :class:`envs.soc.sim.SoCSim` (the env only sets ``phase`` and ``selected_slot``). Tasks of
    admitted jobs live in ``W`` slots; P is the number of PEs.

    Attributes:
        time: Current simulated time (µs).
        phase: 0 = pick a task (or wait), 1 = pick a PE for ``selected_slot``.
        selected_slot: Task slot chosen in phase 0, -1 otherwise.
        pe_kind: Kind of each PE.
        inv_bandwidth: 1 / bandwidth, zero on the diagonal.
        pe_free_est: Expected time each PE finishes its queue, from mean costs (the scheduler's
            view; realised noise is only seen when tasks finish).
        pe_queue_len: Tasks queued or running on each PE.
        task_valid: Slot holds a task of a job in the system.
        task_job: Job index (into the episode's job list) of each slot.
        task_index: Task index within its job.
        task_type: Task type index (-1 untyped).
        task_status: One of NOT_READY, READY, QUEUED, RUNNING, DONE.
        task_cost: Mean execution time on each PE (inf where incapable).
        task_pe: PE the task is assigned to, -1 before.
        task_arrival: Arrival time of the task's job.
        task_ready_time: Time the task became ready (inputs computed), inf before.
        task_start: Actual start time once running, expected before, inf if unassigned.
        task_finish: Actual finish once done, expected while assigned, inf otherwise.
        task_rank: HEFT upward rank of the task within its job (mean costs).
        task_preds: For each slot, its (predecessor slot, data volume) pairs.
        n_done_jobs: Jobs completed so far.
        n_jobs: Jobs in the episode.
        n_outside: Jobs arrived but waiting outside the window (no free slots).
    """

    time: float
    phase: int
    selected_slot: int
    pe_kind: np.ndarray  # (P,) int64
    inv_bandwidth: np.ndarray  # (P, P) float64
    pe_free_est: np.ndarray  # (P,) float64
    pe_queue_len: np.ndarray  # (P,) int64
    task_valid: np.ndarray  # (W,) bool
    task_job: np.ndarray  # (W,) int64
    task_index: np.ndarray  # (W,) int64
    task_type: np.ndarray  # (W,) int64
    task_status: np.ndarray  # (W,) int64
    task_cost: np.ndarray  # (W, P) float64
    task_pe: np.ndarray  # (W,) int64
    task_arrival: np.ndarray  # (W,) float64
    task_ready_time: np.ndarray  # (W,) float64
    task_start: np.ndarray  # (W,) float64
    task_finish: np.ndarray  # (W,) float64
    task_rank: np.ndarray  # (W,) float64
    task_preds: list[list[tuple[int, float]]] = field(default_factory=list)  # W lists
    n_done_jobs: int = 0
    n_jobs: int = 0
    n_outside: int = 0
