"""``schedgym/SoCDAG-v0``: heterogeneous system-on-chip DAG scheduling (DS3 / DeepSoCS).

This module is the Gymnasium facade: argument checks, spaces, the two-step pointer actions,
observation encoding, rewards and ``info``. The dynamics live in :mod:`envs.soc.sim`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from schedgym.envs.graph import NOOP_NODE, GraphEnv, GraphSpec
from schedgym.envs.soc import generator
from schedgym.envs.soc.dag import mean_inverse_bandwidth
from schedgym.envs.soc.platform import check_platform_name, ds3_app_names, get_platform
from schedgym.envs.soc.sim import Elapsed, SoCSim
from schedgym.envs.soc.types import (QUEUED, READY, RUNNING, STATUS_NAMES, Job, Platform,
                                    SoCInstance, SoCState)
from schedgym.envs.validation import (argument_error, check_choice, check_choices, check_float,
                                      check_int, check_observation_size)

WAIT_NODE = NOOP_NODE  # the WAIT pointer
_ASSIGNED = np.isin(np.arange(len(STATUS_NAMES)), (QUEUED, RUNNING))  # status -> on a PE
_DEFAULT_TIME_SCALE = {"ds3": 100.0}  # µs; typical task latency, so features stay near [0, 1]
# Bounds of the real arguments, chosen so that observations and rewards stay finite float32:
MAX_INJECTION_RATE = 1e6  # jobs/ms: one job per ns
MAX_NOISE = 10.0  # σ as a fraction of the mean latency
MIN_TIME_SCALE, MAX_TIME_SCALE = 1e-3, 1e9  # µs: 1 ns to 1,000 s
MAX_REWARD_SCALE = 1e6
MAX_IDLE_STEP = 1e6  # µs: 1 s


@dataclass(frozen=True)
class SoCArguments:
    """The arguments of :class:`SoCDAGEnv`, checked and with their defaults resolved (see
    :func:`check_arguments`)."""

    platform: Platform
    mode: str
    pe_selection: str
    injection_rate: float
    noise: float
    n_jobs: int
    window: int
    edges_per_task: int
    apps: tuple[str, ...]
    dag_params: generator.RandomDagParams
    time_scale: float
    reward_scale: float
    idle_step: float
    max_steps: int | None


def check_arguments(*, platform: Any, mode: Any, injection_rate: Any, noise: Any, n_jobs: Any,
                    apps: Any, dag_params: Any, window: Any, edges_per_task: Any,
                    pe_selection: Any, time_scale: Any, reward_scale: Any, idle_step: Any,
                    max_steps: Any) -> SoCArguments:
    """Checks every argument of :class:`SoCDAGEnv` (its "Arguments" section) and resolves the
    defaults that depend on others; the headless core (``envs.soc.fastsim.simulate``) calls it
    too, so both refuse the same values with the same messages.

    Raises:
        schedgym.envs.validation.ArgumentError: Naming the argument, its value and what is
            allowed (also a ``TypeError`` for a value of the wrong type).
    """
    plat = get_platform(check_platform_name("platform", platform))
    mode = check_choice("mode", mode, ("streaming", "static"))
    default_jobs = 40 if mode == "streaming" else 1
    window = check_int("window", window, low=1)
    edges_per_task = check_int("edges_per_task", edges_per_task, low=1)
    check_observation_size(graph_spec(plat, window, edges_per_task).observation_bytes(),
                           {"platform": platform, "window": window,
                            "edges_per_task": edges_per_task})
    apps = _check_apps(apps, plat)
    time_scale = (_DEFAULT_TIME_SCALE.get(plat.name, 50.0) if time_scale is None else
                  check_float("time_scale", time_scale, low=MIN_TIME_SCALE, high=MAX_TIME_SCALE))
    return SoCArguments(
        platform=plat, mode=mode,
        pe_selection=check_choice("pe_selection", pe_selection, ("pointer", "eft")),
        injection_rate=check_float("injection_rate", injection_rate, low=0.0, low_open=True,
                                   high=MAX_INJECTION_RATE),
        noise=check_float("noise", noise, low=0.0, high=MAX_NOISE),
        n_jobs=default_jobs if n_jobs is None else check_int("n_jobs", n_jobs, low=1,
                                                             high=generator.MAX_JOBS),
        window=window, edges_per_task=edges_per_task, apps=apps,
        dag_params=_check_dag_params(dag_params, plat, apps, window, edges_per_task * window),
        time_scale=time_scale,
        reward_scale=check_float("reward_scale", reward_scale, low=0.0, low_open=True,
                                 high=MAX_REWARD_SCALE),
        idle_step=(time_scale / 10.0 if idle_step is None else
                   check_float("idle_step", idle_step, low=0.0, low_open=True,
                               high=MAX_IDLE_STEP)),
        max_steps=None if max_steps is None else check_int("max_steps", max_steps, low=1))


def _check_apps(apps: Any, platform: Platform) -> tuple[str, ...]:
    """The DS3 applications to sample (all by default), or ``("random",)``."""
    known = ds3_app_names()
    if apps is None:
        return known
    apps = check_choices("apps", apps, known + ("random",))
    if "random" in apps and apps != ("random",):
        raise argument_error("apps", apps, "DS3 application names or ('random',) alone; known: "
                             + ", ".join(known + ("random",)))
    if platform.name != "ds3" and apps != ("random",):
        raise argument_error("apps", apps, "('random',) on an 'unrelated-<P>' platform (the "
                             "DS3 applications run only on 'ds3'; platform is "
                             f"{platform.name!r})")
    return apps


def _check_dag_params(dag_params: Any, platform: Platform, apps: tuple[str, ...], window: int,
                      edge_slots: int) -> generator.RandomDagParams:
    """The random-DAG parameters; explicit ones only where random DAGs are sampled."""
    if dag_params is None:
        return generator.RandomDagParams()
    if not generator.uses_random_dags(platform.name, apps):
        raise argument_error("dag_params", dag_params, "None unless random DAGs are sampled "
                             "(apps=('random',) or an 'unrelated-<P>' platform)")
    return generator.make_dag_params(dag_params, window=window, edge_slots=edge_slots)


def graph_spec(platform: Platform, window: int, edges_per_task: int) -> GraphSpec:
    """The observation's sizes and features on ``platform``: WAIT, the PEs, ``window`` task
    slots; ``edges_per_task`` DAG edge slots per task slot plus its assignment edge."""
    kinds = platform.kind_names
    node_features = (
        ("is_wait", "is_pe", "is_task")
        + tuple(f"status_{s}" for s in STATUS_NAMES)
        + tuple(f"latency_{k}" for k in kinds)
        + tuple(f"capable_{k}" for k in kinds)
        + ("remaining_work", "job_age", "upward_rank", "selected")
        + tuple(f"pe_kind_{k}" for k in kinds)
        + ("pe_busy_for", "pe_queue_len", "pe_can_run_selected", "pe_eft_selected")
    )
    return GraphSpec(
        n_max=1 + platform.n_pe + window,
        e_max=(edges_per_task + 1) * window,
        node_features=node_features,
        edge_features=("is_dag_edge", "is_assignment", "volume"),
        global_features=("phase", "jobs_in_system", "jobs_outside", "injection_rate",
                         "noise", "frac_jobs_done"),
    )


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

    ``info`` carries ``avg_job_duration`` (µs, completion − arrival over completed jobs),
    ``makespan`` (µs, last completion), ``jobs_completed``, ``throughput`` (jobs/ms),
    ``total_time_in_system`` (µs), ``time`` and ``steps`` (the sim's metrics and the env's
    step count).

    ## Arguments
    Each is validated here, so a bad one fails at ``gym.make`` with an
    :class:`~schedgym.envs.validation.ArgumentError` (a ``ValueError``; a ``TypeError`` too for
    a wrong type) naming it, its value and what is allowed. Integers must be ints (not bools,
    not floats), reals finite numbers.

    - ``platform``: ``"ds3"`` (16-PE reference SoC) or ``"unrelated-<P>"`` (Topcuoglu's model),
      1 <= P <= 256 (``platform.MAX_UNRELATED_PES``).
    - ``mode``: ``"streaming"`` or ``"static"``.
    - ``injection_rate``: jobs per ms in streaming mode, in (0, 1e6] (default 20, the medium load).
    - ``noise``: σ of the execution-time noise as a fraction of the mean, in [0, 10] (default 0).
    - ``n_jobs``: jobs per sampled episode, in [1, 100,000] (default 40 streaming, 1 static).
    - ``apps``: DS3 applications to sample (a non-empty list or tuple; default all), or
      ``("random",)`` for random DAGs; only ``("random",)`` on ``unrelated-<P>``.
    - ``dag_params``: :class:`envs.soc.generator.RandomDagParams` or a mapping of some of its
      fields, only where random DAGs are sampled; every DAG must fit the window and edge slots
      (``generator.make_dag_params`` has the bounds).
    - ``window``: task slots in the observation, >= 1 (default 128); ``N_MAX = 1 + P + window``.
    - ``edges_per_task``: DAG edge slots per task slot, >= 1 (default 3); ``E_MAX =
      (edges_per_task + 1) * window`` (the extra slot per task is its task→PE assignment edge).
      With ``platform`` they set the observation size, which must stay under
      ``envs.validation.MAX_OBSERVATION_BYTES`` (64 MiB: about 277,000 slots on ds3 at the defaults).
    - ``pe_selection``: ``"pointer"`` (two steps) or ``"eft"``.
    - ``time_scale``: feature time unit in µs, in [1e-3, 1e9] (default 100 on ds3, 50 otherwise).
    - ``reward_scale``: reward multiplier, in (0, 1e6] (default 1.0).
    - ``idle_step``: time a WAIT with no pending event idles, µs, in (0, 1e6] (default
      ``time_scale / 10``).
    - ``max_steps``: truncation limit, >= 1 (default ``100 * tasks + 1000``).
    - ``render_mode``: ``None`` (default) or ``"rgb_array"``: ``render()`` then returns the
      Gantt picture of the episode so far (``envs.soc.gantt``; the sim records finished runs).

    ## What baselines may read
    Heuristics and solvers may read the simulation through ``env.unwrapped`` (learned policies
    only the observation). Slots are the ``window`` task slots, P the PEs.

    - ``state`` (:class:`envs.soc.types.SoCState`, ``None`` before the first reset): time,
      phase, selected slot, per-PE expected free times and queue lengths, and per-slot task
      data (status, mean costs, PE, expected start and finish, rank, predecessors). Expected
      times use mean latencies; realised ones are only seen as tasks finish.
    - ``sim`` (:class:`envs.soc.sim.SoCSim`, ``None`` before the first reset): the event
      simulation behind the env, which owns ``state``; read it, do not drive it.
    - ``pe_node(pe) -> int``: the node (pointer action) of PE ``pe``.
    - ``task_node(slot) -> int``: the node (pointer action) of task slot ``slot``.
    - ``WAIT_NODE`` (``0``): the WAIT node.
    - ``has_pending_events() -> bool``: whether a task is queued or running or a job will still
      arrive, i.e. whether WAIT moves to an event rather than idling.
    - ``ready_slots() -> np.ndarray``: slots of the ready (unassigned) tasks, ascending, (R,).
    - ``eft_per_pe(slot) -> (est, eft)``: expected start and finish of ready task ``slot`` on
      each PE if queued there now, two (P,) arrays, ``inf`` where the PE cannot run it.
    - ``eft_matrix(slots) -> (est, eft)``: the same for several ready slots, (len(slots), P).
    - ``jobs() -> tuple[Job, ...]``: every job of the episode, including those not arrived yet
      (static planners read them; streaming baselines should only use admitted jobs).
    - ``job_slots(job) -> np.ndarray``: task slots of an admitted job, indexed by task, (n,)
      (empty if the job is not in the window).
    - ``platform`` (:class:`envs.soc.types.Platform`): PE kinds and bandwidths.
    - ``action_masks() -> np.ndarray``: the legal actions, (N_MAX,) bool.

    ## Version History
    - v0: initial release; later ``render_mode="rgb_array"`` (a Gantt picture), which changes
      no episode.
    """

    leaderboard_metrics = ("avg_job_duration", "makespan", "jobs_completed", "throughput")
    WAIT_NODE = WAIT_NODE
    #: Leaderboard metric -> the per-instance column that bounds it from below
    #: (:meth:`instance_bounds`).
    bound_columns = {"avg_job_duration": "job_duration_lower_bound"}

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
        render_mode: str | None = None,
    ) -> None:
        self._init_render(render_mode)
        args = check_arguments(
            platform=platform, mode=mode, injection_rate=injection_rate, noise=noise,
            n_jobs=n_jobs, apps=apps, dag_params=dag_params, window=window,
            edges_per_task=edges_per_task, pe_selection=pe_selection, time_scale=time_scale,
            reward_scale=reward_scale, idle_step=idle_step, max_steps=max_steps)
        self.platform, self.mode, self.pe_selection = args.platform, args.mode, args.pe_selection
        self.injection_rate, self.noise, self.n_jobs = args.injection_rate, args.noise, args.n_jobs
        self.window, self.apps, self.dag_params = args.window, args.apps, args.dag_params
        self.time_scale, self.reward_scale = args.time_scale, args.reward_scale
        self.idle_step, self.max_steps = args.idle_step, args.max_steps
        edges_per_task = args.edges_per_task

        P, W = self.platform.n_pe, self.window
        self._pe0, self._task0 = 1, 1 + P
        self._e_dag = edges_per_task * W
        # Mean transfer time per unit of volume between distinct PEs: edge volumes as times.
        self._mean_inv_bw = mean_inverse_bandwidth(self.platform.bandwidth)
        spec = graph_spec(self.platform, W, edges_per_task)
        self._f = {name: i for i, name in enumerate(spec.node_features)}
        self._init_spaces(spec, sized_by={"platform": platform, "window": W,
                                          "edges_per_task": edges_per_task})
        self._status_table = np.vstack([np.eye(5), np.zeros((1, 5))]).astype(np.float32)
        self._static_obs()
        self.sim: SoCSim | None = None
        # Task slots and edge slots of the jobs the observation shows, by job: the encoder
        # writes a job's static columns once, when it first sees it admitted.
        self._encoded_jobs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._seen_jobs = (0, 0)  # (jobs admitted, jobs done) when they were encoded
        self._shown_pe = np.full(W, -1, np.int64)  # (W,) PE of each shown assignment edge
        self._decisions = 0
        self._max_steps = 0

    # ---------------------------------------------------------------------------- public API

    @property
    def state(self) -> SoCState | None:
        """The simulator state (``None`` before the first reset)."""
        return self.sim.state if self.sim is not None else None

    def pe_node(self, pe: int) -> int:
        """Node index of PE ``pe``."""
        return self._pe0 + int(pe)

    def task_node(self, slot: int) -> int:
        """Node index of task slot ``slot``."""
        return self._task0 + int(slot)

    def has_pending_events(self) -> bool:
        """Whether a task is queued or running or a job will still arrive (WAIT advances)."""
        return self.sim.has_pending_events()

    def ready_slots(self) -> np.ndarray:
        """Slots of the ready (unassigned) tasks."""
        return self.sim.ready_slots()

    def eft_per_pe(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected start and finish time of ready task ``slot`` on each PE if queued there now
        (``inf`` where the PE cannot run it), from mean latencies and known finishes."""
        return self.sim.eft_per_pe(slot)

    def eft_matrix(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`eft_per_pe` for several ready slots at once: two (len(slots), P) arrays."""
        return self.sim.eft_matrix(slots)

    def jobs(self) -> tuple[Job, ...]:
        """All jobs of the episode (including not yet arrived ones: planners of static
        instances read them; streaming baselines should only use admitted jobs)."""
        return self.sim.jobs

    def job_slots(self, job: int) -> np.ndarray:
        """Task slots of an admitted job, indexed by task (empty if not admitted)."""
        return self.sim.job_slots(job)

    @property
    def bounds_depend_on_seed(self) -> bool:
        """Whether :meth:`instance_bounds` needs the episode seed: with noise the realised
        execution times, which the bound reveals, are drawn from it."""
        return self.noise > 0

    def instance_bounds(self, instance: SoCInstance | str,
                        seed: int | None = None) -> dict[str, float]:
        """A proven lower bound on the ``avg_job_duration`` of every schedule of ``instance`` in
        the episode ``reset(seed=seed, options={"instance": instance})`` (the column of
        ``bound_columns``), by :func:`schedgym.baselines.soc.bound.bound_entry` at its default
        budget: read from the stored table ``data/soc/bounds.json`` when it holds the
        (instance, seed), else computed with CP-SAT (seconds to minutes). Imported here: the
        bound is a baseline, which the env does not otherwise need.

        Raises:
            ValueError: If ``seed`` is missing (or not an int >= 0) while ``noise`` > 0.
        """
        from schedgym.baselines.soc.bound import bound_entry

        if isinstance(instance, str):
            instance = generator.named_instance(instance)
        entry = bound_entry(instance, self.platform, self.noise, seed)
        return {"job_duration_lower_bound": float(entry["bound"])}

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
        self.sim = SoCSim(self.platform, instance, self.window, self._e_dag, self.noise,
                          self.np_random, record=self.render_mode is not None)
        self._decisions = 0
        n_tasks = sum(job.n_tasks for job in instance.jobs)
        self._max_steps = self.max_steps if self.max_steps is not None else 100 * n_tasks + 1000
        self._clear_tasks()
        self.sim.advance(force_one_event=False)
        self._encode()
        return self.observation(), self._info()

    def step(self, action: Any):
        if self.sim is None:
            raise RuntimeError("call reset() before step()")
        node = self._check_action(action)
        sim, s = self.sim, self.sim.state
        reward = 0.0
        if node == WAIT_NODE:
            # WAIT lets time pass in both phases (in phase 1 it also drops the selected task):
            # a free "cancel" would let a policy stall the clock until truncation.
            s.phase, s.selected_slot = 0, -1
            if sim.has_pending_events():
                reward = self._reward(sim.advance(force_one_event=True))
            elif not sim.done:  # idle: nothing can happen by waiting
                reward = self._reward(sim.idle(self.idle_step))
        elif s.phase == 0:
            slot = node - self._task0
            if self.pe_selection == "eft":
                sim.commit(slot, int(np.argmin(sim.eft_per_pe(slot)[1])))
                reward = self._reward(sim.advance(force_one_event=False))
            else:
                s.phase, s.selected_slot = 1, slot
        else:
            slot, s.phase, s.selected_slot = s.selected_slot, 0, -1
            sim.commit(slot, node - self._pe0)
            reward = self._reward(sim.advance(force_one_event=False))
        self._decisions += 1
        self._encode()
        terminated = sim.done
        truncated = not terminated and self._decisions >= self._max_steps
        return (self.observation(), float(reward * self.reward_scale), terminated, truncated,
                self._info())

    def _render_frame(self) -> np.ndarray:
        """The Gantt picture of the episode so far (:func:`envs.soc.gantt.render_gantt`)."""
        if self.sim is None:
            raise RuntimeError("call reset() before render()")
        from schedgym.envs.soc.gantt import render_gantt

        return render_gantt(self.sim)

    # ------------------------------------------------------------------------ reward, info

    def _reward(self, elapsed: Elapsed) -> float:
        """Minus the cost of the time that passed (before ``reward_scale``): job-time in
        streaming mode, time in static mode."""
        # ``0.0 - x`` (not ``-x``): no time passing gives +0.0, as step's default reward.
        return 0.0 - (elapsed.job_time if self.mode == "streaming" else elapsed.time)

    def _info(self) -> dict[str, Any]:
        return {**self.sim.metrics(), "steps": self._decisions}

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

    def _clear_tasks(self) -> None:
        """Empties every task row and edge (a new episode)."""
        self._encoded_jobs = {}
        self._seen_jobs = (0, 0)
        self._shown_pe[:] = -1
        self._obs["node_mask"][self._task0 :] = 0
        self._obs["nodes"][self._task0 :] = 0.0
        self._obs["edge_mask"][:] = 0
        self._obs["edge_index"][:] = 0
        self._obs["edge_attr"][:] = 0.0

    def _encode_jobs(self) -> None:
        """Brings the static task columns and DAG edges up to the jobs in the window: clears
        those of jobs that left, then writes those of jobs that entered (which may reuse the
        freed slots; a job cannot enter and leave within one step)."""
        sim = self.sim
        seen = (sim.n_admitted, sim.state.n_done_jobs)
        if seen == self._seen_jobs:  # no job entered or left: nothing to do
            return
        self._seen_jobs = seen
        admitted = sim.admitted_jobs()
        for j in [j for j in self._encoded_jobs if j not in admitted]:
            slots, eslots = self._encoded_jobs.pop(j)
            self._obs["node_mask"][self._task0 + slots] = 0
            self._obs["nodes"][self._task0 + slots] = 0.0
            self._obs["edge_mask"][eslots] = 0
            self._obs["edge_index"][:, eslots] = 0
            self._obs["edge_attr"][eslots] = 0.0
        for j in admitted:
            if j not in self._encoded_jobs:
                self._encode_job(j)

    def _encode_job(self, j: int) -> None:
        """Writes job ``j``'s task rows (identity, latencies, capability, rank) and DAG edges."""
        sim = self.sim
        job, slots, eslots = sim.jobs[j], sim.job_slots(j), sim.job_edge_slots(j)
        self._encoded_jobs[j] = (slots, eslots)
        nodes, f = self._obs["nodes"], self._f
        rows = self._task0 + slots
        K = self.platform.n_kinds
        nodes[rows] = 0.0
        nodes[rows, f["is_task"]] = 1.0
        finite = np.isfinite(job.cost)
        lat0 = f["latency_" + self.platform.kind_names[0]]
        cap0 = f["capable_" + self.platform.kind_names[0]]
        nodes[rows, lat0 : lat0 + K] = np.where(finite, job.cost, 0.0) / self.time_scale
        nodes[rows, cap0 : cap0 + K] = finite
        nodes[rows, f["upward_rank"]] = sim.state.task_rank[slots] / self.time_scale
        self._obs["node_mask"][rows] = 1
        src, dst = slots[job.edges[:, 0]], slots[job.edges[:, 1]]
        ei, ea = self._obs["edge_index"], self._obs["edge_attr"]
        ei[0, eslots], ei[1, eslots] = self._task0 + src, self._task0 + dst
        ea[eslots] = 0.0
        ea[eslots, 0] = 1.0
        ea[eslots, 2] = job.volume * self._mean_inv_bw / self.time_scale
        self._obs["edge_mask"][eslots] = 1

    def _encode_assignments(self) -> None:
        """Task→PE edges of the queued and running tasks, one edge slot per task slot after
        the DAG edges; the others are padding (pointing at node 0). Only slots whose PE edge
        changed since the last encoding are rewritten (usually one or two a step)."""
        s = self.sim.state
        pe = np.where(_ASSIGNED[s.task_status], s.task_pe, -1)
        changed = np.flatnonzero(pe != self._shown_pe)
        mask, index, attr = self._obs["edge_mask"], self._obs["edge_index"], self._obs["edge_attr"]
        for slot, p in zip(changed.tolist(), pe[changed].tolist()):  # scalar writes: few slots
            self._shown_pe[slot] = p
            e = self._e_dag + slot
            if p >= 0:
                index[:, e] = (self._task0 + slot, self._pe0 + p)
                attr[e] = (0.0, 1.0, 0.0)
                mask[e] = 1
            else:
                mask[e] = 0
                index[:, e] = 0
                attr[e] = 0.0

    def _encode(self) -> None:
        """Refreshes the observation in place: task rows and edges of jobs that entered or
        left, then the dynamic columns, masks and globals (vectorised over slots)."""
        self._encode_jobs()
        self._encode_assignments()
        sim = self.sim
        s, f, nodes, ts = sim.state, self._f, self._obs["nodes"], self.time_scale
        W, P = self.window, self.platform.n_pe
        valid = s.task_valid
        rows = slice(self._task0, self._task0 + W)
        st0 = f["status_not_ready"]
        code = np.where(valid, s.task_status, 5)  # row 5 of the table is all zeros (empty slot)
        nodes[rows, st0 : st0 + 5] = self._status_table[code]
        nodes[rows, f["remaining_work"]] = sim.remaining_work() / ts
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
            _, eft = sim.eft_per_pe(slot)
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
        g[:] = (s.phase, sim.in_system / 10.0, s.n_outside / 10.0,
                self.injection_rate / 10.0, self.noise, s.n_done_jobs / max(s.n_jobs, 1))


__all__ = ["SoCDAGEnv", "WAIT_NODE"]
