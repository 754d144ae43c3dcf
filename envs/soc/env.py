"""``schedgym/SoCDAG-v0``: heterogeneous system-on-chip DAG scheduling (DS3 / DeepSoCS)."""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

import numpy as np

from schedgym.envs.graph import GraphEnv, GraphSpec
from schedgym.envs.soc import generator
from schedgym.envs.soc.dag import Dag, inverse_bandwidth, mean_inverse_bandwidth, upward_rank
from schedgym.envs.soc.platform import ds3_app_names, get_platform
from schedgym.envs.soc.types import DONE, NOT_READY, QUEUED, READY, RUNNING, STATUS_NAMES
from schedgym.envs.soc.types import Job, Platform, SoCInstance, SoCState

WAIT_NODE = 0
_DEFAULT_TIME_SCALE = {"ds3": 100.0}  # µs; typical task latency, so features stay near [0, 1]


def draw_task_noise(rng: np.random.Generator, n_tasks: list[int] | np.ndarray,
                    sigma: float) -> np.ndarray:
    """Execution-time noise factors of every task of every job, job by job (one flat array):
    ``N(1, sigma)`` truncated to positive values by resampling (never clipped), each job's
    resamples drawn right after its own factors; all ones when ``sigma == 0`` (``rng`` unused).
    The env and :mod:`envs.soc.fastsim` both draw through this function, so they see the same
    noise for the same seed.

    Args:
        rng: The generator (the env's ``np_random`` right after ``reset(seed=...)``).
        n_tasks: Number of tasks of each job.
        sigma: Noise standard deviation as a fraction of the mean latency.
    """
    total = int(np.sum(n_tasks))
    if sigma <= 0:
        return np.ones(total)
    # Fast path: one draw for all jobs is the same stream as one draw per job, as long as no
    # factor needs a resample; otherwise rewind and redo job by job.
    state = rng.bit_generator.state
    factors = rng.normal(1.0, sigma, total)
    if (factors > 0).all():
        return factors
    rng.bit_generator.state = state
    parts = []
    for n in n_tasks:
        f = rng.normal(1.0, sigma, n)
        while (bad := f <= 0).any():
            f[bad] = rng.normal(1.0, sigma, int(bad.sum()))
        parts.append(f)
    return np.concatenate(parts)


def check_jobs(jobs: tuple[Job, ...], platform: Platform, window: int, e_dag: int) -> None:
    """Raises ``ValueError`` naming the first job that has no tasks, does not fit ``window``
    task slots and ``e_dag`` DAG edge slots, whose costs do not match the platform's PE kinds, or that has a
    task no PE kind can run."""
    for job in jobs:
        if job.n_tasks == 0:
            raise ValueError(f"job {job.name!r} has no tasks")
        if job.n_tasks > window or len(job.edges) > e_dag:
            raise ValueError(f"a job of {job.n_tasks} tasks / {len(job.edges)} edges does "
                             f"not fit window={window} (E_dag={e_dag}); raise window")
        if job.cost.shape[1] != platform.n_kinds:
            raise ValueError("job costs do not match the platform's PE kinds")
        if (~np.isfinite(job.cost)).all(1).any():
            raise ValueError(f"job {job.name!r} has a task that no PE kind can run")


class SoCDAGEnv(GraphEnv):
    """Schedule DAG jobs of typed tasks on a heterogeneous SoC (DS3, Arda et al. 2020;
    DeepSoCS, Sung et al. 2020).

    ## Description
    Jobs are DAGs of typed tasks (the DS3 applications: WiFi TX/RX, range detection,
    single-carrier TX/RX, temporal mitigation; or Topcuoglu-style random DAGs). Processing
    elements (PEs) of several kinds run each task type at a different mean latency, or not at
    all. A task becomes *ready* when all its predecessors have finished; the scheduler assigns
    it to a PE, where it joins that PE's FIFO queue. It starts when the PE is free and its
    inputs have arrived: each input takes ``volume / bandwidth[src_pe, pe]`` after its producer
    finished (zero on the same PE). Execution times are the mean latency times a noise factor
    drawn from ``N(1, σ)`` (σ = ``noise``) truncated to positive values by resampling (never
    clipped), pre-drawn for every task at reset from ``np_random`` so that all schedulers face
    the same noise on the same instance and seed; the scheduler only sees mean latencies and
    realised finishes.

    In ``streaming`` mode (default) ``n_jobs`` jobs arrive as a Poisson process at
    ``injection_rate`` jobs/ms (the load axis); in ``static`` mode one DAG or a batch is present
    at time 0. Queuing a task behind busy PEs is allowed, so list schedulers (HEFT, CPOP) can
    replay their plans; inserting a task into an idle gap *before* already queued ones is not.

    ## Action Space
    ``Discrete(N_MAX)`` pointers; node 0 is WAIT, nodes ``1..P`` the PEs, then ``window`` task
    slots. A decision takes two steps: phase 0 picks a ready task (or WAIT), phase 1 a capable
    PE for it. With ``pe_selection="eft"`` phase 1 is skipped: the task goes to the PE with the
    earliest expected finish time (DeepSoCS's design). WAIT is legal in every state: it advances
    to the next event (a finish or an arrival), or, when nothing runs and nothing will arrive,
    idles for ``idle_step`` µs (legal but never useful: it only adds time); in phase 1 it also
    drops the task selection, so no action sequence can stall the clock. Illegal actions raise ``ValueError``;
    ``action_masks()`` gives the legal ones.

    ## Observation Space
    The padded graph of ``envs.graph``. Nodes: WAIT, the P PEs (kind one-hot, expected busy
    time, queue length, and in phase 1 whether it can run the selected task and its expected
    finish), and the tasks of the jobs in the system (status one-hot, mean latency on each PE
    kind with capability flags, remaining work, job age, upward rank, selected flag). Edges:
    DAG edges with their data volume, and task→PE edges for queued and running tasks. Globals:
    phase, jobs in the system, jobs waiting outside the window, injection rate, noise, fraction
    of jobs done. Times are divided by ``time_scale``.

    When the task window is full, arriving jobs wait outside the observation in arrival order
    (counted in the globals and in the reward) and enter as soon as a finished job frees slots.

    ## Rewards
    Streaming: ``-(jobs in the system) * elapsed time`` per step, so the return is minus the
    total time jobs spend in the system (= ``-n_jobs * avg_job_duration``). Static: ``-elapsed
    time``, so the return is minus the makespan. Multiplied by ``reward_scale`` (µs by default).

    ## Starting State
    Time 0, the first jobs admitted; the workload is ``options["instance"]`` (an
    :class:`SoCInstance`, e.g. from :meth:`load_instance_set`, or a named instance such as
    ``"topcuoglu-fig2"``), else sampled from the training generator.

    ## Episode End
    Terminated when every job has completed; truncated after ``max_steps`` steps (default
    ``100 * tasks in the episode + 1000``, a guard against policies that never place a task).

    ## Info
    ``avg_job_duration`` (µs, completion − arrival over completed jobs), ``makespan`` (µs, last
    completion), ``jobs_completed``, ``throughput`` (jobs/ms), ``total_time_in_system`` (µs), ``time``, ``steps``.

    ## Arguments
    - ``platform``: ``"ds3"`` (16-PE reference SoC) or ``"unrelated-<P>"`` (Topcuoglu's model).
    - ``mode``: ``"streaming"`` or ``"static"``.
    - ``injection_rate``: jobs per ms in streaming mode (default 20, the medium load).
    - ``noise``: σ of the execution-time noise as a fraction of the mean (default 0).
    - ``n_jobs``: jobs per sampled episode (default 40 streaming, 1 static).
    - ``apps``: DS3 applications to sample, or ``("random",)`` for random DAGs.
    - ``dag_params``: :class:`envs.soc.generator.RandomDagParams` (or a dict) for random DAGs.
    - ``window``: task slots in the observation (default 128); ``N_MAX = 1 + P + window``.
    - ``edges_per_task``: DAG edge slots per task slot (default 3); ``E_MAX = (edges_per_task
      + 1) * window`` (the extra slot per task is its task→PE assignment edge).
    - ``pe_selection``: ``"pointer"`` (two steps) or ``"eft"``.
    - ``time_scale``: feature time unit in µs (default 100 on ds3, 50 otherwise).
    - ``reward_scale``: reward multiplier (default 1.0).
    - ``idle_step``: time a WAIT with no pending event idles, µs (default ``time_scale / 10``).
    - ``max_steps``: truncation limit (default ``100 * tasks + 1000``).

    ## Version History
    - v0: initial release.
    """

    leaderboard_metrics = ("avg_job_duration", "makespan", "jobs_completed", "throughput")
    WAIT_NODE = WAIT_NODE

    def __init__(
        self,
        platform: str = "ds3",
        mode: str = "streaming",
        injection_rate: float = 20.0,
        noise: float = 0.0,
        n_jobs: int | None = None,
        apps: tuple[str, ...] | None = None,
        dag_params: generator.RandomDagParams | dict | None = None,
        window: int = 128,
        edges_per_task: int = 3,
        pe_selection: str = "pointer",
        time_scale: float | None = None,
        reward_scale: float = 1.0,
        idle_step: float | None = None,
        max_steps: int | None = None,
    ) -> None:
        if mode not in ("streaming", "static"):
            raise ValueError(f"mode must be 'streaming' or 'static', got {mode!r}")
        if pe_selection not in ("pointer", "eft"):
            raise ValueError(f"pe_selection must be 'pointer' or 'eft', got {pe_selection!r}")
        if injection_rate <= 0 or noise < 0 or window < 1 or edges_per_task < 1:
            raise ValueError("need injection_rate > 0, noise >= 0, window >= 1, edges_per_task >= 1")
        self.platform = get_platform(platform)
        self.mode = mode
        self.injection_rate = float(injection_rate)
        self.noise = float(noise)
        if n_jobs is not None and int(n_jobs) < 1:
            raise ValueError(f"n_jobs must be None (the mode's default) or >= 1, got {n_jobs!r}")
        self.n_jobs = int(n_jobs) if n_jobs is not None else (40 if mode == "streaming" else 1)
        self.apps = tuple(apps) if apps is not None else ds3_app_names()
        known_apps = ds3_app_names()
        if not self.apps or not (self.apps == ("random",) or set(self.apps) <= set(known_apps)):
            raise ValueError(f"apps must be DS3 application names or ('random',) alone, got "
                             f"{self.apps!r}; known: {', '.join(known_apps + ('random',))}")
        if isinstance(dag_params, dict):
            dag_params = generator.RandomDagParams(**dag_params)
        self.dag_params = dag_params or generator.RandomDagParams()
        self.window = int(window)
        self.pe_selection = pe_selection
        self.time_scale = float(time_scale or _DEFAULT_TIME_SCALE.get(platform, 50.0))
        self.reward_scale = float(reward_scale)
        self.idle_step = float(idle_step) if idle_step is not None else self.time_scale / 10.0
        self.max_steps = max_steps
        if self.idle_step <= 0:
            raise ValueError("idle_step must be positive")

        P, W = self.platform.n_pe, self.window
        self._pe0, self._task0 = 1, 1 + P
        self._e_dag = int(edges_per_task) * W
        # Mean transfer time per unit of volume between distinct PEs: edge volumes as times.
        self._mean_inv_bw = mean_inverse_bandwidth(self.platform.bandwidth)
        kinds = self.platform.kind_names
        node_features = (
            ("is_wait", "is_pe", "is_task")
            + tuple(f"status_{s}" for s in STATUS_NAMES)
            + tuple(f"latency_{k}" for k in kinds)
            + tuple(f"capable_{k}" for k in kinds)
            + ("remaining_work", "job_age", "upward_rank", "selected")
            + tuple(f"pe_kind_{k}" for k in kinds)
            + ("pe_busy_for", "pe_queue_len", "pe_can_run_selected", "pe_eft_selected")
        )
        self._f = {name: i for i, name in enumerate(node_features)}
        spec = GraphSpec(
            n_max=1 + P + W,
            e_max=self._e_dag + W,
            node_features=node_features,
            edge_features=("is_dag_edge", "is_assignment", "volume"),
            global_features=("phase", "jobs_in_system", "jobs_outside", "injection_rate",
                             "noise", "frac_jobs_done"),
        )
        self._init_spaces(spec)
        self._status_table = np.vstack([np.eye(5), np.zeros((1, 5))]).astype(np.float32)
        self._static_obs()
        self.state: SoCState | None = None

    # ---------------------------------------------------------------------------- public API

    def pe_node(self, pe: int) -> int:
        """Node index of PE ``pe``."""
        return self._pe0 + int(pe)

    def task_node(self, slot: int) -> int:
        """Node index of task slot ``slot``."""
        return self._task0 + int(slot)

    def has_pending_events(self) -> bool:
        """Whether a task is queued or running or a job will still arrive (WAIT advances)."""
        return bool(self._events) or self._next_arrival < len(self._jobs)

    def ready_slots(self) -> np.ndarray:
        """Slots of the ready (unassigned) tasks."""
        return np.flatnonzero(self.state.task_status == READY)

    def eft_per_pe(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected start and finish time of ready task ``slot`` on each PE if queued there now
        (``inf`` where the PE cannot run it), from mean latencies and known finishes."""
        est, eft = self.eft_matrix(np.array([slot]))
        return est[0], eft[0]

    def eft_matrix(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`eft_per_pe` for several ready slots at once: two (len(slots), P) arrays."""
        s = self.state
        est = np.maximum(np.maximum(s.time, s.pe_free_est)[None, :], self._data_arrival[slots])
        cost = s.task_cost[slots]
        finite = np.isfinite(cost)
        return np.where(finite, est, np.inf), np.where(finite, est + cost, np.inf)

    def jobs(self) -> tuple[Job, ...]:
        """All jobs of the episode (including not yet arrived ones: planners of static
        instances read them; streaming baselines should only use admitted jobs)."""
        return self._jobs

    def job_slots(self, job: int) -> np.ndarray:
        """Task slots of an admitted job, indexed by task (empty if not admitted)."""
        return self._job_slots.get(job, np.zeros(0, np.int64))

    # ------------------------------------------------------------------------------ gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        instance = (options or {}).get("instance")
        if instance is None:
            instance = generator.sample_instance(
                self.np_random, platform=self.platform.name, mode=self.mode, n_jobs=self.n_jobs,
                injection_rate=self.injection_rate, apps=self.apps, dag_params=self.dag_params)
        elif isinstance(instance, str):
            instance = generator.named_instance(instance)
        if not isinstance(instance, SoCInstance):
            raise ValueError(f"options['instance'] must be an SoCInstance or a name, got "
                             f"{type(instance).__name__}")
        self._load(instance)
        self._advance(force_one_event=False)
        self._encode()
        return self.observation(), self._info()

    def step(self, action: Any):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        node = self._check_action(action)
        s = self.state
        reward = 0.0
        if node == WAIT_NODE:
            # WAIT lets time pass in both phases (in phase 1 it also drops the selected task):
            # a free "cancel" would let a policy stall the clock until truncation.
            s.phase, s.selected_slot = 0, -1
            if self.has_pending_events():
                reward = self._advance(force_one_event=True)
            elif self._done_jobs < len(self._jobs):  # idle: nothing can happen by waiting
                weight = self._in_system if self.mode == "streaming" else 1.0
                reward = -weight * self.idle_step
                self._total_time += self._in_system * self.idle_step
                s.time += self.idle_step
        elif s.phase == 0:
            slot = node - self._task0
            if self.pe_selection == "eft":
                self._commit(slot, int(np.argmin(self.eft_per_pe(slot)[1])))
                reward = self._advance(force_one_event=False)
            else:
                s.phase, s.selected_slot = 1, slot
        else:
            slot, s.phase, s.selected_slot = s.selected_slot, 0, -1
            self._commit(slot, node - self._pe0)
            reward = self._advance(force_one_event=False)
        self._decisions += 1
        self._encode()
        terminated = self._done_jobs == len(self._jobs)
        truncated = not terminated and self._decisions >= self._max_steps
        return (self.observation(), float(reward * self.reward_scale), terminated, truncated,
                self._info())

    # ----------------------------------------------------------------------------- simulation

    def _load(self, inst: SoCInstance) -> None:
        plat, W = self.platform, self.window
        if inst.platform != plat.name:
            raise ValueError(f"instance {inst.name!r} is for platform {inst.platform!r}, "
                             f"this env simulates {plat.name!r}")
        check_jobs(inst.jobs, plat, W, self._e_dag)
        self._jobs = inst.jobs
        self._arrival = np.asarray(inst.arrival, np.float64)
        if len(self._arrival) != len(self._jobs) or np.any(np.diff(self._arrival) < 0):
            raise ValueError("instance arrivals must be one non-decreasing time per job")
        # Common random numbers: one noise factor per task of every job, drawn up front.
        sizes = [job.n_tasks for job in self._jobs]
        self._noise = np.split(draw_task_noise(self.np_random, sizes, self.noise),
                               np.cumsum(sizes, dtype=np.int64)[:-1])
        self._job_rank = [None] * len(self._jobs)
        P = plat.n_pe
        self.state = SoCState(
            time=0.0, phase=0, selected_slot=-1, pe_kind=plat.pe_kind.copy(),
            inv_bandwidth=inverse_bandwidth(plat.bandwidth),
            pe_free_est=np.zeros(P), pe_queue_len=np.zeros(P, np.int64),
            task_valid=np.zeros(W, bool), task_job=np.full(W, -1, np.int64),
            task_index=np.full(W, -1, np.int64), task_type=np.full(W, -1, np.int64),
            task_status=np.full(W, DONE, np.int64), task_cost=np.full((W, P), np.inf),
            task_pe=np.full(W, -1, np.int64), task_arrival=np.zeros(W),
            task_ready_time=np.full(W, np.inf), task_start=np.full(W, np.inf),
            task_finish=np.full(W, np.inf), task_rank=np.zeros(W),
            task_preds=[[] for _ in range(W)], n_jobs=len(self._jobs),
        )
        self._data_arrival = np.zeros((W, P))  # inputs' arrival time on each PE, once ready
        self._act_start = np.full(W, np.inf)  # realised times: hidden from the scheduler
        self._act_finish = np.full(W, np.inf)
        self._slot_noise = np.ones(W)
        self._rem_base = np.zeros(W)  # remaining mean work unless running: best PE, then own PE
        self._succ: list[list[int]] = [[] for _ in range(W)]
        self._npred_left = np.zeros(W, np.int64)
        self._free_slots = list(range(W))
        self._free_edges = list(range(self._e_dag))
        self._job_slots: dict[int, np.ndarray] = {}
        self._job_edges: dict[int, np.ndarray] = {}
        self._job_left: dict[int, int] = {}
        self._outside: deque[int] = deque()
        self._next_arrival = 0
        self._pe_queue = [deque() for _ in range(P)]
        self._pe_free_act = np.zeros(P)
        self._events: list[tuple[float, int, int]] = []  # (finish time, seq, slot)
        self._seq = 0
        self._in_system = 0
        self._done_jobs = 0
        self._sum_duration = 0.0
        self._total_time = 0.0
        self._last_done = 0.0
        self._decisions = 0
        n_tasks = sum(job.n_tasks for job in self._jobs)
        self._max_steps = self.max_steps if self.max_steps is not None else 100 * n_tasks + 1000
        self._obs["node_mask"][self._task0 :] = 0
        self._obs["nodes"][self._task0 :] = 0.0
        self._obs["edge_mask"][:] = 0
        self._obs["edge_index"][:] = 0
        self._obs["edge_attr"][:] = 0.0
        self._arrive_until(0.0)

    def _arrive_until(self, t: float) -> None:
        """Jobs arriving by ``t`` join the outside queue; admit what fits."""
        while self._next_arrival < len(self._jobs) and self._arrival[self._next_arrival] <= t:
            self._outside.append(self._next_arrival)
            self._next_arrival += 1
            self._in_system += 1
        self._admit()

    def _admit(self) -> None:
        """Admits waiting jobs in arrival order while their tasks and edges fit the window."""
        s = self.state
        while self._outside:
            j = self._outside[0]
            job = self._jobs[j]
            n, m = job.n_tasks, len(job.edges)
            if n > len(self._free_slots) or m > len(self._free_edges):
                break
            self._outside.popleft()
            slots = np.array(sorted(self._free_slots)[:n], np.int64)
            for x in slots.tolist():
                self._free_slots.remove(x)
            eslots = np.array(sorted(self._free_edges)[:m], np.int64)
            for x in eslots.tolist():
                self._free_edges.remove(x)
            self._job_slots[j], self._job_edges[j], self._job_left[j] = slots, eslots, n
            s.task_valid[slots] = True
            s.task_job[slots] = j
            s.task_index[slots] = np.arange(n)
            s.task_type[slots] = job.task_type
            s.task_status[slots] = NOT_READY
            s.task_cost[slots] = job.cost[:, self.platform.pe_kind]
            self._rem_base[slots] = job.cost.min(1)
            s.task_pe[slots] = -1
            s.task_arrival[slots] = self._arrival[j]
            s.task_ready_time[slots] = np.inf
            s.task_start[slots] = np.inf
            s.task_finish[slots] = np.inf
            self._act_start[slots] = np.inf
            self._act_finish[slots] = np.inf
            self._slot_noise[slots] = self._noise[j]
            s.task_rank[slots] = self._rank(j)
            src, dst = slots[job.edges[:, 0]], slots[job.edges[:, 1]]
            for x in slots.tolist():
                s.task_preds[x] = []
                self._succ[x] = []
            for a, b, v in zip(src.tolist(), dst.tolist(), job.volume.tolist()):
                s.task_preds[b].append((a, v))
                self._succ[a].append(b)
            self._npred_left[slots] = 0
            np.add.at(self._npred_left, dst, 1)
            # Observation: static task columns and DAG edges, written once per admission.
            nodes = self._obs["nodes"]
            rows = self._task0 + slots
            K = self.platform.n_kinds
            f = self._f
            nodes[rows] = 0.0
            nodes[rows, f["is_task"]] = 1.0
            finite = np.isfinite(job.cost)
            lat0 = f["latency_" + self.platform.kind_names[0]]
            cap0 = f["capable_" + self.platform.kind_names[0]]
            nodes[rows, lat0 : lat0 + K] = np.where(finite, job.cost, 0.0) / self.time_scale
            nodes[rows, cap0 : cap0 + K] = finite
            nodes[rows, f["upward_rank"]] = s.task_rank[slots] / self.time_scale
            self._obs["node_mask"][rows] = 1
            ei, ea = self._obs["edge_index"], self._obs["edge_attr"]
            ei[0, eslots], ei[1, eslots] = self._task0 + src, self._task0 + dst
            ea[eslots] = 0.0
            ea[eslots, 0] = 1.0
            ea[eslots, 2] = job.volume * self._mean_inv_bw / self.time_scale
            self._obs["edge_mask"][eslots] = 1
            entry = slots[self._npred_left[slots] == 0]
            self._make_ready(entry, s.time)

    def _rank(self, j: int) -> np.ndarray:
        """HEFT upward rank of job ``j``'s tasks on mean costs (cached per job)."""
        if self._job_rank[j] is None:
            job = self._jobs[j]
            cost = job.cost[:, self.platform.pe_kind]
            self._job_rank[j] = upward_rank(
                Dag(cost, job.edges, job.volume, self.platform.bandwidth))
        return self._job_rank[j]

    def _make_ready(self, slots: np.ndarray, t: float) -> None:
        s = self.state
        if len(slots) == 0:
            return
        s.task_status[slots] = READY
        s.task_ready_time[slots] = t
        P = self.platform.n_pe
        for x in slots.tolist():
            arr = np.full(P, t)
            for p, v in s.task_preds[x]:
                arr = np.maximum(arr, self._act_finish[p] + v * s.inv_bandwidth[s.task_pe[p]])
            self._data_arrival[x] = arr

    def _commit(self, slot: int, pe: int) -> None:
        """Queues ready task ``slot`` on ``pe``: expected times for the state, realised ones
        (with this task's pre-drawn noise) for the event queue."""
        s = self.state
        cost = s.task_cost[slot, pe]
        arr = self._data_arrival[slot, pe]
        est = max(s.time, s.pe_free_est[pe], arr)
        s.task_start[slot], s.task_finish[slot] = est, est + cost
        s.pe_free_est[pe] = est + cost
        start = max(s.time, self._pe_free_act[pe], arr)
        finish = start + cost * self._slot_noise[slot]
        self._act_start[slot], self._act_finish[slot] = start, finish
        self._pe_free_act[pe] = finish
        self._pe_queue[pe].append(slot)
        s.pe_queue_len[pe] += 1
        s.task_pe[slot] = pe
        s.task_status[slot] = QUEUED
        self._rem_base[slot] = cost
        heapq.heappush(self._events, (finish, self._seq, slot))
        self._seq += 1
        if start <= s.time:
            s.task_status[slot] = RUNNING
            s.task_start[slot] = start
        e = self._e_dag + slot  # the slot's own assignment edge
        self._obs["edge_index"][:, e] = (self._task0 + slot, self._pe0 + pe)
        self._obs["edge_attr"][e] = (0.0, 1.0, 0.0)
        self._obs["edge_mask"][e] = 1

    def _advance(self, force_one_event: bool) -> float:
        """Processes events until a decision is possible (a ready task) or the episode ends;
        with ``force_one_event`` (WAIT) first moves to the next event. Returns the reward."""
        s = self.state
        reward = 0.0
        first = force_one_event
        while self._done_jobs < len(self._jobs):
            if not first and (s.task_status == READY).any():
                break
            first = False
            t_fin = self._events[0][0] if self._events else np.inf
            t_arr = (self._arrival[self._next_arrival]
                     if self._next_arrival < len(self._jobs) else np.inf)
            t = min(t_fin, t_arr)
            if not np.isfinite(t):  # pragma: no cover - guarded by the masks
                raise RuntimeError("no event left but jobs are unfinished")
            dt = t - s.time
            weight = self._in_system if self.mode == "streaming" else 1.0
            reward -= weight * dt
            self._total_time += self._in_system * dt
            s.time = t
            while self._events and self._events[0][0] <= t:
                _, _, slot = heapq.heappop(self._events)
                self._finish(slot)
            self._arrive_until(t)
            # Tasks whose realised start has come are running now.
            started = (s.task_status == QUEUED) & (self._act_start <= t)
            if started.any():
                s.task_status[started] = RUNNING
                s.task_start[started] = self._act_start[started]
        return reward

    def _finish(self, slot: int) -> None:
        s = self.state
        pe = int(s.task_pe[slot])
        t = self._act_finish[slot]
        s.task_status[slot] = DONE
        self._rem_base[slot] = 0.0
        s.task_start[slot] = self._act_start[slot]
        s.task_finish[slot] = t
        queue = self._pe_queue[pe]
        queue.popleft()  # FIFO queue: the finishing task is its head
        s.pe_queue_len[pe] -= 1
        # Re-estimate the PE's queue from the realised finish (mean costs after it).
        prev = t
        for q in queue:
            st = max(prev, self._data_arrival[q, pe])
            s.task_start[q], s.task_finish[q] = st, st + s.task_cost[q, pe]
            prev = st + s.task_cost[q, pe]
        s.pe_free_est[pe] = prev
        e = self._e_dag + slot  # the assignment edge disappears: padding points at node 0
        self._obs["edge_mask"][e] = 0
        self._obs["edge_index"][:, e] = 0
        self._obs["edge_attr"][e] = 0.0
        newly = []
        for b in self._succ[slot]:
            self._npred_left[b] -= 1
            if self._npred_left[b] == 0:
                newly.append(b)
        self._make_ready(np.array(newly, np.int64), t)
        j = int(s.task_job[slot])
        self._job_left[j] -= 1
        if self._job_left[j] == 0:
            self._complete_job(j, t)

    def _complete_job(self, j: int, t: float) -> None:
        s = self.state
        self._done_jobs += 1
        self._in_system -= 1
        self._sum_duration += t - self._arrival[j]
        self._last_done = max(self._last_done, t)
        s.n_done_jobs = self._done_jobs
        slots, eslots = self._job_slots.pop(j), self._job_edges.pop(j)
        del self._job_left[j]
        s.task_valid[slots] = False
        s.task_status[slots] = DONE
        s.task_job[slots] = -1
        self._obs["node_mask"][self._task0 + slots] = 0
        self._obs["nodes"][self._task0 + slots] = 0.0
        self._obs["edge_mask"][eslots] = 0
        self._obs["edge_index"][:, eslots] = 0
        self._obs["edge_attr"][eslots] = 0.0
        self._free_slots.extend(slots.tolist())
        self._free_edges.extend(eslots.tolist())
        self._admit()

    # ----------------------------------------------------------------------------- encoding

    def _static_obs(self) -> None:
        """Columns that never change: WAIT and PE identity."""
        nodes, f = self._obs["nodes"], self._f
        nodes[WAIT_NODE, f["is_wait"]] = 1.0
        P, K = self.platform.n_pe, self.platform.n_kinds
        rows = self._pe0 + np.arange(P)
        nodes[rows, f["is_pe"]] = 1.0
        k0 = f["pe_kind_" + self.platform.kind_names[0]]
        nodes[rows, k0 : k0 + K] = np.eye(K)[self.platform.pe_kind]
        self._obs["node_mask"][: self._task0] = 1

    def _encode(self) -> None:
        """Refreshes the dynamic columns, masks and globals in place (vectorised over slots)."""
        s, f, nodes, ts = self.state, self._f, self._obs["nodes"], self.time_scale
        W, P = self.window, self.platform.n_pe
        valid = s.task_valid
        rows = slice(self._task0, self._task0 + W)
        st0 = f["status_not_ready"]
        code = np.where(valid, s.task_status, 5)  # row 5 of the table is all zeros (empty slot)
        nodes[rows, st0 : st0 + 5] = self._status_table[code]
        running = s.task_status == RUNNING
        remaining = np.where(running, np.maximum(s.task_finish - s.time, 0.0), self._rem_base)
        nodes[rows, f["remaining_work"]] = remaining / ts
        nodes[rows, f["job_age"]] = np.where(valid, s.time - s.task_arrival, 0.0) / ts
        nodes[rows, f["selected"]] = 0.0
        pe_rows = slice(self._pe0, self._pe0 + P)
        nodes[pe_rows, f["pe_busy_for"]] = np.maximum(s.pe_free_est - s.time, 0.0) / ts
        nodes[pe_rows, f["pe_queue_len"]] = s.pe_queue_len / 4.0
        mask = self._obs["action_mask"]
        mask[:] = 0
        if s.phase == 1:
            slot = s.selected_slot
            nodes[self._task0 + slot, f["selected"]] = 1.0
            _, eft = self.eft_per_pe(slot)
            can = np.isfinite(eft)
            nodes[pe_rows, f["pe_can_run_selected"]] = can
            nodes[pe_rows, f["pe_eft_selected"]] = np.where(can, eft - s.time, 0.0) / ts
            mask[pe_rows] = can
            mask[WAIT_NODE] = 1
        else:
            nodes[pe_rows, f["pe_can_run_selected"]] = 0.0
            nodes[pe_rows, f["pe_eft_selected"]] = 0.0
            mask[rows] = s.task_status == READY
            mask[WAIT_NODE] = 1
        g = self._obs["globals"]
        g[:] = (s.phase, self._in_system / 10.0, len(self._outside) / 10.0,
                self.injection_rate / 10.0, self.noise, self._done_jobs / max(len(self._jobs), 1))
        s.n_outside = len(self._outside)

    def _info(self) -> dict[str, Any]:
        s = self.state
        done = self._done_jobs
        return {
            "avg_job_duration": float(self._sum_duration / done) if done else 0.0,
            "makespan": float(self._last_done),
            "jobs_completed": int(done),
            "throughput": float(done / (self._last_done / 1000.0)) if self._last_done > 0 else 0.0,
            "total_time_in_system": float(self._total_time),
            "time": float(s.time),
            "steps": self._decisions,
        }
