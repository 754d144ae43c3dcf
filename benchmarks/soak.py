"""Soak test of every registered env: long runs of random masked actions, invariants checked
after every step. Not part of the test suite (CI does not run it): it takes hours at the default
10^6 steps per configuration.

Configurations: for every env id in the table of :mod:`schedgym.envs`, each distinct set of env
kwargs that its fixed instance sets use (VM small and medium; SoC static-random, static-apps and
the streaming load × noise grid; LLM's sets all use the default kwargs, so its one configuration,
named after the first set, samples the env's default workload; IoT's small and medium scales,
likewise sampling the default tree at 30 tasks/s per device), plus :data:`EXTRA_CONFIGS`.
Instances are the env's own seeded samples (``reset(seed=...)``), not the fixed sets.

Actions: episode seeds come from ``np.random.default_rng([--seed, crc32(config name)])``; an
episode resets with ``reset(seed=s)`` and draws its actions from ``np.random.default_rng(s)``:
the no-op node (VM stop, SoC wait, LLM run, IoT hold) with probability ``--noop-prob``, else uniformly
among the other legal nodes (the no-op alone when nothing else is legal; an env's checker may
refine the draw with a ``draw_action`` method, as LLM's does for preemptions). A low no-op
probability lets episodes reach their migration limit or their last job instead of stopping
after a few steps.

Checks after every step (a failure is reported with what is needed to replay it):

* all envs: the no-op is legal and the mask non-empty; the observation has the space's keys,
  shapes and dtypes, finite float arrays, edge indices in ``[0, N_MAX)`` and 0/1 masks (what
  ``observation_space.contains`` checks, done cheaply); the full ``contains`` runs every
  ``--check-every`` steps (default 100) and on every step of a replay; reward and numeric
  ``info`` values are finite.
* VM (``state``, recomputed from the instance): every VM on one PM and a NUMA node of its kind,
  CPU and memory of every NUMA node within capacity and equal to what ``free_cpu`` /
  ``free_mem`` say, anti-affinity jobs on distinct PMs, the observation's placement edges are
  exactly one per VM (two for a double VM) to the NUMA nodes where it sits, fragment rate in
  [0, 1] and equal to ``info``, the reward equal to the FR decrease minus the migration cost,
  the mask equal to the legal VMs / destinations of the state, the migration count within
  ``mnl``; every ``--check-every`` steps the incremental legality table equals the
  from-scratch ``sim.destination_feasibility``.
* SoC (``state`` and ``sim``, which the env documents as readable): time and jobs done never
  decrease, at most one running task per PE, queue lengths equal the tasks on each PE, the mask
  equal to the ready tasks / capable PEs. Every commit and every finish is observed through a
  read-only hook on the sim (``commit`` and the private ``_finish``, with the realised times in
  the private ``_act_start`` / ``_act_finish``; the script fails at start if these names go):
  a task is committed once, when ready, to a capable PE, after all its predecessors finished;
  it finishes once, at the current time, in time order, on its PE; it starts no earlier than
  its commit, its job's arrival and each predecessor's finish plus ``volume / bandwidth``
  (zero on one PE); no PE overlaps two tasks; it runs for its mean latency times its noise
  factor; at the end every task finished and ``info``'s makespan and mean job duration agree.
* LLM (``sim``, which the env documents as readable; the per-replica checks are functions of
  one sim, :func:`check_llm_replica` and :class:`LLMReplicaHistory`, for a multi-replica
  checker to call per replica): every arrived request in exactly one status, which the queue,
  prefilling and running lists and the done count match; KV blocks conserved (free + held =
  capacity, none negative) and each request holding exactly the blocks of its cached tokens;
  running + picked requests within ``max_batch_size`` (paused or not), ``batch_tokens`` = the
  decodes + the picked chunks, within the budget once something is picked; generated within
  the output length, prefill within its target (prompt + generated tokens after a
  preemption); arrival <= first scheduled <= first token <= last token <= now, finish = last
  token; time, tokens, restarts (summing to the preemption count), goodput and service never
  decrease and a preempted request keeps its timestamps; each action did what its node says
  (RUN moves time, nothing else does); the mask equal to the legality recomputed from the
  state (RUN always, PAUSE and budgets before any pick, a shown queued request if its chunk
  fits the budget, the cap and the blocks left after the decodes' need, a running one if it
  holds KV); the shown requests' nodes and statuses; the reward equal to the goodput earned
  × ``reward_scale`` and the return to ``goodput_tokens`` × ``reward_scale`` at every step;
  the final metrics (counters, means, throughputs, SLO attainment) equal to a recomputation
  from the requests' timestamps, NaN exactly where undefined (nothing completed yet). Every
  ``--check-every`` steps: each tenant's weighted service against its tokens and the compiled
  kernel's copies of the lists. Random play preempts with probability
  :attr:`LLMChecker.PREEMPT_PROB` only, and the summary counts the episodes that finished,
  the completed requests and the preemptions chosen and forced (KV exhausted).
* LLM cluster (``cluster``, which the env documents as readable): each step routes exactly
  the next request, to the replica the action names; every replica passes the LLM replica
  checks above with exactly its routed requests arrived, and its history never goes back; the
  routed counts match the assignment; the mask is the replicas whose cache holds the request's
  prompt; the return equals the cluster's goodput × ``reward_scale`` at every step; at the end
  every request is done. Every ``--check-every`` steps: each replica's tenant service.
* IoT (``sim``, which the env documents as readable): time never decreases and (windowed) is a
  multiple of the decision interval; the tasks with arrival <= now are exactly the non-pending
  ones; the waiting list is the waiting tasks in arrival order and the window its head; each
  placed task sits on a node its device may use, its input arrives after it, its run starts
  after its input and lasts ``cycles / freq_hz``, its result is back after its run; a dropped
  task's deadline had passed; each node's memory in use equals what its unfinished tasks hold
  and stays within capacity; the mask equals the legality recomputed from the state (tasks
  some node can take in phase 0, the selected task's feasible nodes in phase 1); the return
  equals ``−objective × reward_scale`` at every step; at the end every task is placed or
  dropped and the deadline, count and response metrics agree with the tasks. Every
  ``--check-every`` steps: no node runs more tasks at once than it has cores, and no two input
  flows overlap on a link channel. The summary counts finished episodes, placed and dropped tasks.

Run (``--envs`` takes env ids, keys such as ``soc``, or configuration names)::

    python -m benchmarks.soak [--steps 1000000] [--envs vm-small,soc] [--seed 0]
    python -m benchmarks.soak --replay vm-small --episode-seed 123   # one episode, all checks
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from schedgym.data.instance_sets import recipes
from schedgym.envs import ENVS, ENV_IDS
from schedgym.envs.graph import NOOP_NODE
from schedgym.envs.iot import types as iot
from schedgym.envs.llm.env import BUDGETS, NODE_FEATURES, PAUSE_NODE, RUN_NODE
from schedgym.envs.llm.sim import blocks_for
from schedgym.envs.llm import types as llm
from schedgym.envs.llm.cost import PRESETS
from schedgym.envs.soc.types import DONE, QUEUED, READY, RUNNING
from schedgym.envs.vm.sim import destination_feasibility
from schedgym.envs.vm.types import BOTH_NUMA

#: The env's default preset with the KV cache of a 24 GB card: every request still fits (the
#: longest context, 4,096 tokens, takes 256 blocks), a dozen conversations do not.
SCARCE_KV_PRESET = dataclasses.replace(PRESETS["llama2-7b-a100"], name="llama2-7b-a100-24gb",
                                       gpu_memory_gb=24.0)
EXTRA_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    # DeepSoCS's one-step decisions (earliest-finish PE) under the heaviest load with noise.
    "soc-eft-heavy-noise0.2": ("schedgym/SoCDAG-v0", {"injection_rate": 40.0, "noise": 0.2,
                                                      "pe_selection": "eft"}),
    # Random DAGs streamed onto Topcuoglu's unrelated machines (no fixed set uses this).
    "soc-stream-unrelated-4": ("schedgym/SoCDAG-v0", {"platform": "unrelated-4"}),
    # The tenants-flood set's workload: tenant 0 sends 6x each of the 3 others' rate, 4.5 req/s.
    "llm-tenants-flood": ("schedgym/LLMServe-v0", {"rate": 4.5, "generator_config": {
        "tenants": 4, "flood": 6.0}}),
    # The code-bursty set's workload: the code trace's 2.57 req/s with its CV of 13.2.
    "llm-code-bursty": ("schedgym/LLMServe-v0", {"workload": "code", "rate": 2.57}),
    # A 24 GB card's KV cache (965 blocks, 15k tokens, against 6,973): decodes outgrow it.
    "llm-scarce-kv": ("schedgym/LLMServe-v0", {"preset": SCARCE_KV_PRESET}),
    # A small batch cap and window under heavy load: full batches, most of the queue hidden.
    "llm-small-batch": ("schedgym/LLMServe-v0", {"max_batch_size": 8, "window": 16,
                                                  "rate": 6.0}),
    # Two replicas running Sarathi-Serve on the bursty code workload.
    "llm_cluster-code-sarathi": ("schedgym/LLMCluster-v0", {"replicas": 2, "local_scheduler": "sarathi",
                                                            "workload": "code", "rate": 5.14}),
    # Bursty arrivals on a medium mesh, a decision at every arrival, a window smaller than the
    # bursts (tasks hidden, memory filling, drops).
    "iot-medium-mesh-bursty-online": ("schedgym/IoTPlacement-v0", {
        "scale": "medium", "topology": "mesh", "arrival": "bursty", "decision_interval": 0.0, "window": 8,
        "num_tasks": 2000}),
}
MAX_PRINTED_FAILURES = 5  # per configuration; the rest are only counted
_REL_TOL = 1e-9  # relative tolerance of time comparisons (sums of float latencies)


class InvariantError(AssertionError):
    """An invariant of an env failed; the message says which and with what values."""


def require(condition: Any, message: str | Callable[[], str]) -> None:
    """Raises :class:`InvariantError` unless ``condition``; ``message`` may be lazy."""
    if not condition:
        raise InvariantError(message() if callable(message) else message)


@dataclass(frozen=True)
class Config:
    """One env configuration to soak: a name, the env id and its ``gym.make`` kwargs."""

    name: str
    env_id: str
    kwargs: dict[str, Any]


def configurations() -> dict[str, Config]:
    """Every configuration, by name: the distinct kwargs of each env's instance sets, then the
    extras. A set's name without its ``-test`` / ``-val`` suffix names its configuration."""
    configs: dict[str, Config] = {}
    keys: set[str] = set()
    for env_id in ENV_IDS:
        key = ENVS[env_id].key
        if key in keys:  # an older version of an env (VMReschedule-v1): its newest one soaks
            continue
        keys.add(key)
        seen: list[dict[str, Any]] = []
        for recipe in recipes(key).values():
            if recipe.env_kwargs in seen:
                continue
            seen.append(recipe.env_kwargs)
            base = recipe.name.removesuffix(f"-{recipe.purpose}")
            configs[f"{key}-{base}"] = Config(f"{key}-{base}", env_id, dict(recipe.env_kwargs))
    for name, (env_id, kwargs) in EXTRA_CONFIGS.items():
        configs[name] = Config(name, env_id, dict(kwargs))
    return configs


def select(configs: dict[str, Config], spec: str | None) -> list[Config]:
    """The configurations named by ``--envs``: comma-separated env ids, env keys or names."""
    if not spec:
        return list(configs.values())
    chosen: list[Config] = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        matches = [c for c in configs.values()
                   if item in (c.name, c.env_id) or ENVS[c.env_id].key == item]
        if not matches:
            raise SystemExit(f"--envs: unknown {item!r}; env ids {', '.join(ENV_IDS)}, keys "
                             f"{', '.join(e.key for e in ENVS.values())}, configurations "
                             f"{', '.join(configs)}")
        chosen += [c for c in matches if c not in chosen]
    return chosen


def random_action(rng: np.random.Generator, mask: np.ndarray, noop_prob: float) -> int:
    """The no-op with probability ``noop_prob`` (or when it is the only legal node), else a
    uniformly random other legal node."""
    legal = np.flatnonzero(mask)
    others = legal[legal != NOOP_NODE]
    if others.size == 0 or rng.random() < noop_prob:
        return NOOP_NODE
    return int(others[rng.integers(others.size)])


# ------------------------------------------------------------------------------ observation


def check_observation(obs: dict[str, np.ndarray], space: gym.spaces.Dict, full: bool) -> None:
    """The observation is in ``space``: cheap equivalent checks, the real ``contains`` if full."""
    require(obs.keys() == space.spaces.keys(), lambda: f"observation keys {sorted(obs)}")
    for key, sub in space.spaces.items():
        value = obs[key]
        if value.shape != sub.shape or value.dtype != sub.dtype:
            raise InvariantError(f"{key}: shape {value.shape} dtype {value.dtype}, space {sub}")
    for key in ("nodes", "edge_attr", "globals"):
        if not np.isfinite(obs[key]).all():
            where = np.argwhere(~np.isfinite(obs[key]))[:5].tolist()
            raise InvariantError(f"{key} not finite at {where}")
    edges = obs["edge_index"]
    n_max = obs["nodes"].shape[0]
    require(edges.min() >= 0 and edges.max() < n_max,
            lambda: f"edge_index outside [0, {n_max}): {edges.min()}..{edges.max()}")
    for key in ("node_mask", "edge_mask", "action_mask"):
        if not (obs[key].view(np.uint8) <= 1).all():
            raise InvariantError(f"{key} holds values other than 0/1")
    require(obs["action_mask"][NOOP_NODE] == 1, "the no-op node is not legal")
    if full:
        require(space.contains(obs), "observation_space.contains(obs) is False")


def check_numbers(reward: float, info: dict[str, Any], undefined: Iterable[str] = ()) -> None:
    """Reward and numeric ``info`` values are finite, except the ``undefined`` keys (metrics
    that are NaN by definition in this state; the env's checker says which)."""
    require(math.isfinite(reward), lambda: f"reward {reward}")
    for key, value in info.items():
        if (isinstance(value, (int, float, np.number)) and not math.isfinite(value)
                and key not in undefined):
            raise InvariantError(f"info[{key!r}] = {value}")


# ------------------------------------------------------------------------------------- VM


class VMChecker:
    """Invariants of ``schedgym/VMReschedule-v2`` (and v1; see the module docstring)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped

    def on_reset(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        env, state = self.env, self.env.state
        inst = state.instance
        self.num_pms, self.num_vms = inst.num_pms, inst.num_vms
        self.vm_nodes = np.array([env.vm_node(v) for v in range(self.num_vms)], np.int64)
        self.dest_nodes = np.array([env.destination_node(d) for d in range(3 * self.num_pms)],
                                   np.int64)
        self.need_cpu = np.where(inst.vm_double, inst.vm_cpu // 2, inst.vm_cpu).astype(np.int64)
        self.need_mem = np.where(inst.vm_double, inst.vm_mem // 2, inst.vm_mem).astype(np.int64)
        restricted = np.flatnonzero(inst.vm_anti_affinity)
        self.restricted = restricted
        self.restricted_job = np.unique(inst.vm_job[restricted], return_inverse=True)[1]
        self.fragment_rate = self._fragment_rate()
        require(abs(self.fragment_rate - info["initial_fragment_rate"]) <= 1e-12,
                lambda: f"initial FR {info['initial_fragment_rate']} != {self.fragment_rate}")
        self._check_state(obs, info)

    def on_step(self, action: int, obs: dict[str, np.ndarray], reward: float, terminated: bool,
                info: dict[str, Any]) -> None:
        env, state = self.env, self.env.state
        before, phase_before = self.fragment_rate, self.phase
        self._check_state(obs, info)
        moved = phase_before == 1 and action != NOOP_NODE
        expected = before - self.fragment_rate - env.migration_cost if moved else 0.0
        require(abs(reward - expected) <= 1e-9,
                lambda: f"reward {reward}, FR {before} -> {self.fragment_rate}: expected {expected}")
        should_end = action == NOOP_NODE or state.migrations >= env.mnl
        require(terminated == should_end,
                lambda: f"terminated={terminated} after action {action}, {state.migrations} "
                        f"migrations of mnl {env.mnl}")

    def full_check(self) -> None:
        state = self.env.state
        reference = destination_feasibility(state, np.arange(3 * self.num_pms))
        require(np.array_equal(state.feasible, reference),
                lambda: f"incremental legality differs from recomputation at "
                        f"{np.argwhere(state.feasible != reference)[:5].tolist()} (vm, dest)")
        require(np.array_equal(state.num_destinations, state.feasible.sum(1)),
                "num_destinations differs from the row sums of feasible")

    def _fragment_rate(self) -> float:
        free = self.env.state.free_cpu.astype(np.int64)
        total = int(free.sum())
        return float((free % self.env.state.granularity).sum()) / total if total else 0.0

    def _check_state(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        state = self.env.state
        self._check_placement(state)
        self._check_capacity(state)
        self._check_anti_affinity(state)
        self._check_edges(state, obs)
        self.fragment_rate = self._fragment_rate()
        require(0.0 <= self.fragment_rate <= 1.0, lambda: f"fragment rate {self.fragment_rate}")
        require(abs(info["fragment_rate"] - self.fragment_rate) <= 1e-12,
                lambda: f"info fragment_rate {info['fragment_rate']} != {self.fragment_rate}")
        require(0 <= state.migrations <= self.env.mnl and state.migrations == len(state.history),
                lambda: f"{state.migrations} migrations, {len(state.history)} in history, "
                        f"mnl {self.env.mnl}")
        self.phase = int(state.selected_vm >= 0)
        require(info["phase"] == self.phase and obs["globals"][0] == self.phase,
                lambda: f"phase: info {info['phase']}, globals {obs['globals'][0]}, "
                        f"state selected_vm {state.selected_vm}")
        self._check_mask(state, obs["action_mask"])

    def _check_placement(self, state) -> None:
        double = state.instance.vm_double
        require(state.vm_pm.shape == (self.num_vms,) and state.vm_numa.shape == (self.num_vms,),
                "placement arrays changed shape")
        require(((state.vm_pm >= 0) & (state.vm_pm < self.num_pms)).all(),
                lambda: f"VM on PM {state.vm_pm.min()}..{state.vm_pm.max()} of {self.num_pms}")
        kind_ok = np.where(double, state.vm_numa == BOTH_NUMA, np.isin(state.vm_numa, (0, 1)))
        require(kind_ok.all(), lambda: f"VMs {np.flatnonzero(~kind_ok)[:5].tolist()} on a NUMA "
                                       f"node not of their kind")

    def _check_capacity(self, state) -> None:
        inst = state.instance
        for name, need, capacity, free in (("cpu", self.need_cpu, inst.numa_cpu, state.free_cpu),
                                           ("mem", self.need_mem, inst.numa_mem, state.free_mem)):
            used = self._used(state, need)
            over = np.argwhere(used > capacity)
            if over.size:
                first = tuple(over[0])
                raise InvariantError(f"{name} over capacity on (pm, numa) {over[:5].tolist()}: "
                                     f"{used[first]} > {capacity[first]}")
            if not np.array_equal(capacity - used, free):
                where = np.argwhere(capacity - used != free)[:5].tolist()
                raise InvariantError(f"free_{name} differs from capacity - allocation at {where}")

    def _used(self, state, need: np.ndarray) -> np.ndarray:
        """Allocation of every NUMA node, (P, 2), recomputed from the placement."""
        single = state.vm_numa != BOTH_NUMA
        slots = 2 * state.vm_pm[single].astype(np.int64) + state.vm_numa[single]
        used = np.bincount(slots, need[single], minlength=2 * self.num_pms).reshape(-1, 2)
        halves = np.bincount(state.vm_pm[~single], need[~single], minlength=self.num_pms)
        return (used + halves[:, None]).astype(np.int64)

    def _check_anti_affinity(self, state) -> None:
        if not self.restricted.size:
            return
        keys = np.sort(self.restricted_job * self.num_pms + state.vm_pm[self.restricted])
        clash = np.flatnonzero(np.diff(keys) == 0)
        require(clash.size == 0, lambda: f"anti-affinity broken: two VMs of one job on PM "
                                         f"{keys[clash[0]] % self.num_pms}")

    def _check_edges(self, state, obs: dict[str, np.ndarray]) -> None:
        """The placement edges (VM → NUMA) of the observation are exactly the placement."""
        src, dst = obs["edge_index"][:, obs["edge_mask"].astype(bool)]
        first_vm, n_max = self.vm_nodes[0], obs["nodes"].shape[0]
        from_vm = (src >= first_vm) & (src <= self.vm_nodes[-1])
        shown = np.sort(src[from_vm] * n_max + dst[from_vm])
        pm = state.vm_pm.astype(np.int64)
        single = state.vm_numa != BOTH_NUMA
        numa_a = np.where(single, 2 * pm + np.maximum(state.vm_numa, 0), 2 * pm)
        targets = np.concatenate([self.dest_nodes[numa_a], self.dest_nodes[2 * pm[~single] + 1]])
        sources = np.concatenate([self.vm_nodes, self.vm_nodes[~single]])
        expected = np.sort(sources * n_max + targets)
        require(np.array_equal(shown, expected),
                lambda: f"placement edges: {shown.size} shown, {expected.size} expected; first "
                        f"difference VM node {self._first_difference(shown, expected, n_max)}")

    @staticmethod
    def _first_difference(a: np.ndarray, b: np.ndarray, n_max: int) -> int:
        diff = np.setxor1d(a, b)
        return int(diff[0] // n_max) if diff.size else -1

    def _check_mask(self, state, mask: np.ndarray) -> None:
        expected = np.zeros_like(mask)
        expected[NOOP_NODE] = 1
        if state.selected_vm < 0:
            expected[self.vm_nodes] = state.num_destinations > 0
        else:
            expected[self.dest_nodes] = state.feasible[state.selected_vm]
        require(np.array_equal(mask, expected),
                lambda: f"action mask differs from the state at nodes "
                        f"{np.flatnonzero(mask != expected)[:10].tolist()} (phase {self.phase})")


# ------------------------------------------------------------------------------------ SoC


@dataclass
class _Task:
    """What the SoC checker saw of one task (job j, task i)."""

    committed_at: float
    pe: int
    start: float = math.nan
    finish: float = math.nan


@dataclass
class _Episode:
    tasks: dict[tuple[int, int], _Task] = field(default_factory=dict)
    last_finish: float = -math.inf  # latest finish observed (finishes come in time order)
    pe_free: np.ndarray | None = None  # (P,) finish of the last task observed on each PE


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _REL_TOL * max(1.0, abs(a), abs(b))


def _not_before(a: float, b: float) -> bool:
    """a >= b up to float noise."""
    return a >= b - _REL_TOL * max(1.0, abs(a), abs(b))


class SoCChecker:
    """Invariants of ``schedgym/SoCDAG-v0`` (see the module docstring)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped
        platform = self.env.platform
        self.pe_kind = platform.pe_kind
        self.bandwidth = platform.bandwidth
        self.pe_nodes = np.array([self.env.pe_node(p) for p in range(platform.n_pe)], np.int64)
        self.task_nodes = np.array([self.env.task_node(s) for s in range(self.env.window)],
                                   np.int64)

    def on_reset(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        sim = self.env.sim
        self.episode = _Episode(pe_free=np.full(len(self.pe_kind), -math.inf))
        self.preds: dict[int, list[list[tuple[int, float]]]] = {}
        self.time, self.done_jobs = sim.state.time, sim.state.n_done_jobs
        require(sim.state.n_done_jobs == 0, "jobs done at reset")
        self._hook(sim)
        self._check_state(obs, info)

    def _hook(self, sim) -> None:
        """Observes every commit and finish of the sim without changing what it does."""
        for name in ("commit", "_finish", "_act_start", "_act_finish"):
            if not hasattr(sim, name):
                raise RuntimeError(f"SoCSim has no {name!r}: update benchmarks/soak.py's hooks")
        commit, finish = sim.commit, sim._finish

        def observed_commit(slot: int, pe: int) -> None:
            self._on_commit(sim, slot, pe)
            commit(slot, pe)

        def observed_finish(slot: int) -> None:
            # Read before the call: a completed job's slots may be refilled within it.
            s = sim.state
            j, i, pe = int(s.task_job[slot]), int(s.task_index[slot]), int(s.task_pe[slot])
            start, end = float(sim._act_start[slot]), float(sim._act_finish[slot])
            finish(slot)
            self._on_finish(sim, j, i, pe, start, end)

        sim.commit, sim._finish = observed_commit, observed_finish

    def _job_preds(self, sim, j: int) -> list[list[tuple[int, float]]]:
        """Predecessors (task, volume) of every task of job ``j``, from the instance's DAG."""
        if j not in self.preds:
            job = sim.jobs[j]
            preds: list[list[tuple[int, float]]] = [[] for _ in range(job.n_tasks)]
            for (a, b), volume in zip(job.edges.tolist(), job.volume.tolist()):
                preds[b].append((a, volume))
            self.preds[j] = preds
        return self.preds[j]

    def _on_commit(self, sim, slot: int, pe: int) -> None:
        s = sim.state
        j, i = int(s.task_job[slot]), int(s.task_index[slot])
        require(s.task_valid[slot] and s.task_status[slot] == READY,
                lambda: f"commit of slot {slot} (job {j} task {i}) with status "
                        f"{s.task_status[slot]}, valid {s.task_valid[slot]}")
        require((j, i) not in self.episode.tasks, lambda: f"job {j} task {i} committed twice")
        require(np.isfinite(sim.jobs[j].cost[i, self.pe_kind[pe]]),
                lambda: f"job {j} task {i} committed to PE {pe}, which cannot run it")
        for a, _ in self._job_preds(sim, j)[i]:
            done = self.episode.tasks.get((j, a))
            if done is None or math.isnan(done.finish):
                raise InvariantError(f"job {j} task {i} committed before its predecessor {a} "
                                     "finished")
        self.episode.tasks[(j, i)] = _Task(committed_at=float(s.time), pe=pe)

    def _on_finish(self, sim, j: int, i: int, pe: int, start: float, end: float) -> None:
        episode, now = self.episode, float(sim.state.time)
        task = episode.tasks.get((j, i))
        where = f"job {j} task {i} on PE {pe} [{start}, {end}]"
        require(task is not None and task.pe == pe, lambda: f"{where}: finished but never "
                                                             f"committed to that PE")
        require(math.isnan(task.finish), lambda: f"{where}: finished twice")
        require(_close(end, now) and _not_before(end, episode.last_finish),
                lambda: f"{where}: finish at time {now}, previous finish {episode.last_finish}")
        require(_not_before(start, task.committed_at) and _not_before(start, sim.arrival[j]),
                lambda: f"{where}: starts before its commit at {task.committed_at} or its "
                        f"job's arrival at {sim.arrival[j]}")
        require(_not_before(start, episode.pe_free[pe]),
                lambda: f"{where}: overlaps the previous task on the PE, finished at "
                        f"{episode.pe_free[pe]}")
        duration = sim.jobs[j].cost[i, self.pe_kind[pe]] * sim.noise[j][i]
        require(_close(end - start, duration), lambda: f"{where}: ran {end - start}, expected "
                                                       f"{duration} (mean latency × noise)")
        for a, volume in self._job_preds(sim, j)[i]:
            pred = episode.tasks[(j, a)]
            transfer = 0.0 if pred.pe == pe else volume / self.bandwidth[pred.pe, pe]
            if not _not_before(start, pred.finish + transfer):
                raise InvariantError(f"{where}: starts before predecessor {a} (PE {pred.pe}, "
                                     f"finished {pred.finish}) plus transfer {transfer}")
        task.start, task.finish = start, end
        episode.last_finish, episode.pe_free[pe] = end, end

    def on_step(self, action: int, obs: dict[str, np.ndarray], reward: float, terminated: bool,
                info: dict[str, Any]) -> None:
        env, sim = self.env, self.env.sim
        before = self.time
        self._check_state(obs, info)
        require(reward <= 0.0, lambda: f"reward {reward} > 0 (time only costs)")
        if env.mode == "static":
            require(_close(reward, -(self.time - before) * env.reward_scale),
                    lambda: f"static reward {reward} for time {before} -> {self.time}")
        require(terminated == sim.done, lambda: f"terminated={terminated}, sim.done={sim.done}")
        if terminated:
            self._check_end(sim, info)

    def full_check(self) -> None:
        """Every check of this env runs on every step; nothing more to do periodically."""

    def _check_state(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        s = self.env.sim.state
        require(math.isfinite(s.time) and _not_before(s.time, self.time),
                lambda: f"time went from {self.time} to {s.time}")
        require(self.done_jobs <= s.n_done_jobs <= s.n_jobs,
                lambda: f"jobs done went from {self.done_jobs} to {s.n_done_jobs} of {s.n_jobs}")
        require(info["jobs_completed"] == s.n_done_jobs, "info jobs_completed != state")
        self.time, self.done_jobs = s.time, s.n_done_jobs
        valid = s.task_valid
        status = s.task_status
        n_pe = len(self.pe_kind)
        running = valid & (status == RUNNING)
        per_pe = np.bincount(s.task_pe[running], minlength=n_pe)
        require(per_pe.max(initial=0) <= 1, lambda: f"PEs {np.flatnonzero(per_pe > 1).tolist()} "
                                                    f"run two tasks at time {s.time}")
        require(_not_before(s.time, s.task_start[running].max(initial=-math.inf)),
                lambda: f"a running task starts after the current time {s.time}")
        on_pe = valid & ((status == QUEUED) | (status == RUNNING))
        queued = np.bincount(s.task_pe[on_pe], minlength=n_pe)
        require(np.array_equal(queued, s.pe_queue_len),
                lambda: f"queue lengths {s.pe_queue_len.tolist()}, tasks on PEs {queued.tolist()}")
        require(((status[valid] >= 0) & (status[valid] <= DONE)).all(), "unknown task status")
        self._check_mask(s, obs["action_mask"])

    def _check_mask(self, s, mask: np.ndarray) -> None:
        expected = np.zeros_like(mask)
        expected[NOOP_NODE] = 1
        if s.phase == 0:
            require(s.selected_slot == -1, lambda: f"phase 0 with slot {s.selected_slot} selected")
            expected[self.task_nodes] = s.task_valid & (s.task_status == READY)
        else:
            slot = s.selected_slot
            require(s.task_valid[slot] and s.task_status[slot] == READY,
                    lambda: f"phase 1 with slot {slot} of status {s.task_status[slot]} selected")
            expected[self.pe_nodes] = np.isfinite(s.task_cost[slot])
        require(np.array_equal(mask, expected),
                lambda: f"action mask differs from the state at nodes "
                        f"{np.flatnonzero(mask != expected)[:10].tolist()} (phase {s.phase})")

    def _check_end(self, sim, info: dict[str, Any]) -> None:
        tasks = self.episode.tasks
        total = sum(job.n_tasks for job in sim.jobs)
        finished = [t for t in tasks.values() if not math.isnan(t.finish)]
        require(len(finished) == total, lambda: f"episode ended with {len(finished)} of "
                                                f"{total} tasks finished")
        require(_close(info["makespan"], max(t.finish for t in finished)),
                lambda: f"makespan {info['makespan']}, last finish "
                        f"{max(t.finish for t in finished)}")
        job_end = np.full(len(sim.jobs), -math.inf)
        for (j, _), task in tasks.items():
            job_end[j] = max(job_end[j], task.finish)
        mean = float(np.mean(job_end - sim.arrival))
        require(_close(info["avg_job_duration"], mean),
                lambda: f"avg_job_duration {info['avg_job_duration']}, from finishes {mean}")


# ------------------------------------------------------------------------------------ LLM


def check_llm_replica(sim, routed_here: np.ndarray | None = None) -> None:
    """Invariants of one LLM serving replica (an :class:`envs.llm.sim.LLMSim`) at a boundary:
    statuses against the queue and running lists, the KV blocks, the batch being formed, request
    lengths and timestamps. Stateless, so a multi-replica checker can call it per replica; a
    cluster's (routed) replica has arrived exactly the requests ``routed_here`` ((R,) bool)."""
    st, inst = sim.state, sim.instance
    n, status, arrived = inst.num_requests, st.status, st.arrived
    require(math.isfinite(st.time), lambda: f"time {st.time}")
    require(((status >= llm.PENDING) & (status <= llm.DONE)).all(), "unknown request status")
    if sim.routed:
        here = status != llm.PENDING
        require(arrived == int(here.sum()) and (routed_here is None or np.array_equal(here, routed_here)),
                lambda: f"{arrived} arrived, {int(here.sum())} not pending on this replica; they must be "
                        f"the requests routed to it")
        require((inst.arrival[here] <= st.time).all(), "a request arrived on a replica before its time")
    else:
        require(0 <= arrived <= n and (status[arrived:] == llm.PENDING).all()
                and not (status[:arrived] == llm.PENDING).any()
                and (arrived == n or inst.arrival[arrived] > st.time)
                and (arrived == 0 or inst.arrival[arrived - 1] <= st.time),
                lambda: f"{arrived} arrived at time {st.time}, statuses disagree with the arrivals")
    waiting, prefilling = status == llm.WAITING, status == llm.PREFILLING
    running, done = status == llm.RUNNING, status == llm.DONE
    _check_llm_lists(sim, waiting | prefilling, prefilling, running, done)
    started = prefilling | running | done
    _check_llm_lengths(sim, waiting | prefilling, running, done, started)
    _check_llm_kv(sim, waiting, prefilling, running)
    _check_llm_batch(sim, prefilling)
    _check_llm_timestamps(sim, started, done)


def _check_llm_lists(sim, queued: np.ndarray, prefilling: np.ndarray, running: np.ndarray,
                     done: np.ndarray) -> None:
    """Every request in exactly one status, and the lists and counters say the same."""
    queue = np.asarray(sim.queue, np.int64)
    require(np.array_equal(queue, np.flatnonzero(queued)),
            lambda: f"queue {queue[:10].tolist()}... ({len(queue)}) is not the "
                    f"{int(queued.sum())} waiting or prefilling requests in id order")
    require(np.array_equal(np.asarray(sim.prefilling, np.int64), np.flatnonzero(prefilling)),
            lambda: f"prefilling list {sim.prefilling[:10]} is not the prefilling requests")
    batch = np.asarray(sim.running, np.int64)
    require(len(batch) == int(running.sum())
            and np.array_equal(np.sort(batch), np.flatnonzero(running)),
            lambda: f"running list {batch[:10].tolist()} ({len(batch)}) is not the "
                    f"{int(running.sum())} running requests")
    serving = int((sim.state.status != llm.PENDING).sum()) if sim.routed else len(done)
    require(sim._done_count == int(done.sum()) and sim.done == (int(done.sum()) == serving),
            lambda: f"done count {sim._done_count}, {int(done.sum())} requests done")
    # A routed replica is checked between routing decisions, not at one of its own.
    require(sim.routed or sim.done or len(queue) > 0, "the sim asks for a decision while nothing waits")


def _check_llm_kv(sim, waiting: np.ndarray, prefilling: np.ndarray, running: np.ndarray) -> None:
    """Blocks conserved, and each request holds exactly the blocks of its cached tokens: a
    decoding request ``prompt + generated - 1``, a partial prefill its prefilled tokens plus
    the chunk picked now, everyone else none."""
    st, inst = sim.state, sim.instance
    kv = st.kv_blocks
    require(kv.min(initial=0) >= 0 and st.free_blocks >= 0,
            lambda: f"negative blocks: free {st.free_blocks}, least held {kv.min()}")
    require(st.free_blocks + int(kv.sum()) == sim.capacity,
            lambda: f"free {st.free_blocks} + held {int(kv.sum())} != capacity {sim.capacity}")
    expected = np.where(running, blocks_for(inst.prompt_tokens + st.generated - 1), 0)
    expected = np.where(prefilling, blocks_for(st.prefilled + st.picked), expected)
    bad = np.flatnonzero(kv != expected)
    require(bad.size == 0, lambda: f"requests {bad[:5].tolist()} (status "
                                   f"{st.status[bad[:5]].tolist()}) hold {kv[bad[:5]].tolist()} "
                                   f"blocks, their tokens need {expected[bad[:5]].tolist()}")
    require(not (waiting & (st.prefilled != 0)).any(), "a waiting request has prefill done")


def _check_llm_batch(sim, prefilling: np.ndarray) -> None:
    """The batch being formed: picks, batch-size cap, token budget."""
    st = sim.state
    picks = np.asarray(sim._picks, np.int64)
    require(np.array_equal(np.sort(picks), np.flatnonzero(st.picked)) and st.picked.min() >= 0
            and prefilling[picks].all(),
            lambda: f"picks {picks.tolist()} are not the prefilling requests with a chunk")
    size = len(sim.running) + len(picks)
    require(size <= sim.max_batch_size,
            lambda: f"{len(sim.running)} running + {len(picks)} picked > max_batch_size "
                    f"{sim.max_batch_size} (paused {sim.paused})")
    decodes = 0 if sim.paused else len(sim.running)
    chunks = int(st.picked.sum())
    require(st.batch_tokens == decodes + chunks,
            lambda: f"batch_tokens {st.batch_tokens} != {decodes} decodes + {chunks} picked")
    require(0 < st.budget <= sim.token_budget and (not len(picks) or st.batch_tokens <= st.budget),
            lambda: f"batch of {st.batch_tokens} tokens ({chunks} prefill), budget {st.budget} "
                    f"of {sim.token_budget}")
    need = 0
    if decodes:
        rows = np.asarray(sim.running, np.int64)
        need = int((blocks_for(sim.instance.prompt_tokens[rows] + st.generated[rows])
                    - st.kv_blocks[rows]).sum())
    require(sim.decode_blocks_needed() == need,
            lambda: f"decode_blocks_needed() {sim.decode_blocks_needed()}, recomputed {need}")


def _check_llm_lengths(sim, queued: np.ndarray, running: np.ndarray, done: np.ndarray,
                       started: np.ndarray) -> None:
    """Tokens generated, prefill progress and goodput within their bounds."""
    st, inst = sim.state, sim.instance
    generated, target = st.generated, st.prefill_target
    require((generated <= inst.output_tokens).all() and np.array_equal(
        done, generated == inst.output_tokens), "generated exceeds the output length, or a "
                                                "request is done before its last token")
    require((st.prefilled + st.picked <= target).all(), "prefill beyond its target")
    require(np.array_equal(target[queued], inst.prompt_tokens[queued] + generated[queued])
            and (st.prefilled[running] == target[running]).all()
            and (target[running] < inst.prompt_tokens[running] + generated[running]).all(),
            "prefill target is not prompt + generated (queued) or not done (running)")
    require(((st.restarts > 0) | (target == inst.prompt_tokens)).all(),
            "a request never preempted has a prefill target other than its prompt")
    require(int(st.restarts.sum()) == sim.preemptions and st.restarts.min() >= 0,
            lambda: f"restarts sum {int(st.restarts.sum())} != preemptions {sim.preemptions}")
    earned_max = np.where(generated > 0, inst.prompt_tokens, 0) + generated
    require(((st.goodput_tokens >= 0) & (st.goodput_tokens <= earned_max)).all(),
            "goodput of a request outside [0, prompt + generated]")
    admitted = st.admitted_at[st.admitted_at >= 0]
    require(np.unique(admitted).size == admitted.size and admitted.max(initial=-1) < sim._admissions
            and (st.admitted_at[started | (st.restarts > 0)] >= 0).all(),
            "admission numbers repeat, or a started request was never admitted")


def _check_llm_timestamps(sim, started: np.ndarray, done: np.ndarray) -> None:
    """arrival <= first scheduled <= first token <= last token <= now; finish = last token."""
    st, inst = sim.state, sim.instance
    scheduled = ~np.isnan(sim.first_scheduled)
    has_token = st.generated > 0
    require(np.array_equal(np.isnan(st.first_token), ~has_token)
            and np.array_equal(np.isnan(st.last_token), ~has_token)
            and np.array_equal(np.isnan(st.finish), ~done),
            "a token time is set without a token, or a finish without completion")
    require(scheduled[started | has_token | (st.restarts > 0)].all(),
            "a request holds tokens or prefill but was never scheduled")
    fs, ft, lt = sim.first_scheduled, st.first_token, st.last_token
    with np.errstate(invalid="ignore"):  # nan compares False, and is masked out
        order = ((fs[scheduled] >= inst.arrival[scheduled]).all()
                 and (ft[has_token] >= fs[has_token]).all()
                 and (lt[has_token] >= ft[has_token]).all()
                 and (lt[has_token] <= st.time).all() and (fs[scheduled] <= st.time).all())
    require(order, "timestamps out of order (arrival <= first scheduled <= first token <= "
                   "last token <= now)")
    require(np.array_equal(st.finish[done], lt[done]), "finish differs from the last token")


class LLMReplicaHistory:
    """What never goes back on one replica between two boundaries: time, tokens generated,
    restarts, goodput, service, the counters; first-scheduled, first-token and finish times
    once set (a preempted request keeps them). :meth:`update` checks and takes a new copy."""

    _GROWING = ("generated", "restarts", "goodput_tokens")
    _FIXED = ("first_token", "finish")

    def __init__(self, sim) -> None:
        self._copy(sim)

    def _copy(self, sim) -> None:
        st = sim.state
        self.time, self.arrived = st.time, st.arrived
        self.counters = (sim.iterations, sim.preemptions, sim._done_count, sim._admissions)
        self.arrays = {name: getattr(st, name).copy() for name in self._GROWING + self._FIXED}
        self.arrays["first_scheduled"] = sim.first_scheduled.copy()
        self.arrays["tenant_service"] = st.tenant_service.copy()
        self.arrays["last_token"] = st.last_token.copy()
        self.done = st.status == llm.DONE

    def update(self, sim) -> None:
        st = sim.state
        require(st.time >= self.time and st.arrived >= self.arrived,
                lambda: f"time {self.time} -> {st.time}, arrived {self.arrived} -> {st.arrived}")
        counters = (sim.iterations, sim.preemptions, sim._done_count, sim._admissions)
        require(all(a >= b for a, b in zip(counters, self.counters)),
                lambda: f"(iterations, preemptions, done, admissions) {self.counters} -> "
                        f"{counters}")
        for name in self._GROWING:
            now, before = getattr(st, name), self.arrays[name]
            require((now >= before).all(), lambda: f"{name} decreased for requests "
                                                   f"{np.flatnonzero(now < before)[:5].tolist()}")
        fixed = [(name, getattr(st, name)) for name in self._FIXED]
        fixed.append(("first_scheduled", sim.first_scheduled))
        for name, now in fixed:
            before = self.arrays[name]
            kept = ~np.isnan(before)
            require(np.array_equal(now[kept], before[kept]),
                    lambda: f"{name} changed once set, requests "
                            f"{np.flatnonzero(kept & (now != before))[:5].tolist()}")
        before = self.arrays["last_token"]
        with np.errstate(invalid="ignore"):
            require(not (before > st.last_token).any(), "last_token went back")
        service = self.arrays["tenant_service"]
        require((st.tenant_service >= service - 1e-9 * np.maximum(1.0, service)).all(),
                "a tenant's service decreased")
        require(not (self.done & (st.status != llm.DONE)).any(), "a done request is not done now")
        self._copy(sim)


def check_llm_service(sim) -> None:
    """Each tenant's weighted service (VTC: input + 2 × output tokens) against the tokens:
    2 per output token plus the prefill of requests never preempted, plus at most the prompt
    of each preempted one (recomputation is no service; a first pass may have been cut)."""
    st, inst = sim.state, sim.instance
    tenants = inst.num_tenants
    fresh = st.restarts == 0
    base = (np.bincount(inst.tenant, 2.0 * st.generated, tenants)
            + np.bincount(inst.tenant, np.where(fresh, st.prefilled, 0), tenants))
    slack = np.bincount(inst.tenant, np.where(fresh, 0, inst.prompt_tokens), tenants)
    served = st.tenant_service * inst.tenant_weight
    tol = 1e-9 * np.maximum(1.0, served)
    require(((served >= base - tol) & (served <= base + slack + tol)).all(),
            lambda: f"tenant service × weight {served.tolist()} outside "
                    f"[{base.tolist()}, {(base + slack).tolist()}]")


_PER_REQUEST_METRICS = frozenset({
    "ttft_mean", "ttft_p50", "ttft_p90", "ttft_p99", "tpot_mean", "tpot_p99", "e2e_mean",
    "e2e_p99", "scheduling_delay_p50", "scheduling_delay_p99", "slo_attainment"})


class LLMChecker:
    """Invariants of ``schedgym/LLMServe-v0`` (see the module docstring)."""

    PREEMPT_PROB = 0.005  # of pointing at a running request, when one is preemptible

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped
        n_max = self.env.action_space.n
        self.run0 = n_max - self.env.max_batch_size
        self.queue0 = self.run0 - self.env.window
        self.budget_nodes = np.arange(PAUSE_NODE + 1, PAUSE_NODE + 1 + len(BUDGETS))
        self.columns = [NODE_FEATURES.index(name) for name in ("waiting", "prefilling", "running")]
        self.statuses = np.array([llm.WAITING, llm.PREFILLING, llm.RUNNING])
        self.counts: dict[str, int] = {"episodes_done": 0, "chosen_preemptions": 0,
                                       "forced_preemptions": 0, "requests_done": 0}

    def draw_action(self, rng: np.random.Generator, mask: np.ndarray, noop_prob: float) -> int:
        """As :func:`random_action`, but a preemption only with probability
        :attr:`PREEMPT_PROB`: uniform play would preempt at nearly every boundary (the running
        slots outnumber the rest), and no request would ever finish."""
        legal = np.flatnonzero(mask)
        preempts = legal[legal >= self.run0]
        if preempts.size and rng.random() < self.PREEMPT_PROB:
            return int(preempts[rng.integers(preempts.size)])
        return random_action(rng, mask * (np.arange(mask.size) < self.run0), noop_prob)

    def undefined_metrics(self, info: dict[str, Any]) -> frozenset[str]:
        """The final metrics that are NaN by definition: the statistics over completed requests
        when none completed (an episode truncated early), the token gaps' when there are none."""
        if "ttft_mean" not in info:
            return frozenset()
        keys = _PER_REQUEST_METRICS if info["requests_done"] == 0 else frozenset()
        return (keys | {"tbt_p99"}) if self.env.sim._gap_count == 0 else keys

    def on_reset(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        sim = self.env.sim
        vis = sim.visible_queue()
        if vis:
            require(self.env.node_of(("pick", vis[0])) == self.queue0,
                    "the first queue slot is not where node_of says")
        require(int(sim.state.goodput_tokens.sum()) == 0 and sim.preemptions == 0,
                "goodput or preemptions at reset")
        check_llm_replica(sim)
        self.history = LLMReplicaHistory(sim)
        self.returned, self.steps = 0.0, 0
        self._check(obs, info)

    def on_step(self, action: int, obs: dict[str, np.ndarray], reward: float, terminated: bool,
                info: dict[str, Any]) -> None:
        env, sim = self.env, self.env.sim
        st, before = sim.state, self.history
        self.steps += 1
        check_llm_replica(sim)
        self._check_action(action, before)
        earned = int(st.goodput_tokens.sum()) - int(before.arrays["goodput_tokens"].sum())
        require(reward == earned * env.reward_scale,
                lambda: f"reward {reward}, goodput earned {earned} × {env.reward_scale}")
        self.returned += reward
        total = int(st.goodput_tokens.sum())
        require(_close(self.returned, total * env.reward_scale),
                lambda: f"return {self.returned} != goodput {total} × {env.reward_scale}")
        preempted = sim.preemptions - before.counters[1]
        chosen = int(action >= self.run0)
        require(action == RUN_NODE or preempted == chosen,
                lambda: f"action {action} made {preempted} preemptions")
        self.counts["chosen_preemptions"] += chosen
        self.counts["forced_preemptions"] += preempted - chosen
        self.counts["requests_done"] += sim._done_count - before.counters[2]
        before.update(sim)
        require(terminated == sim.done, lambda: f"terminated={terminated}, sim.done={sim.done}")
        self._check(obs, info)

    def full_check(self) -> None:
        sim = self.env.sim
        check_llm_service(sim)
        if sim.compiled:  # the kernel's copies of the lists
            picks = sim._kernel.picks[:len(sim._picks)]
            require(np.array_equal(picks, sim._picks), "kernel picks differ from the sim's")
            if sim._running_in_buffer:
                require(np.array_equal(sim._kernel.running[:len(sim.running)], sim.running),
                        "kernel running list differs from the sim's")

    def _check_action(self, action: int, before: LLMReplicaHistory) -> None:
        """The step did what its node says, and only a RUN moves time or earns."""
        sim, st = self.env.sim, self.env.sim.state
        if action == RUN_NODE:
            require(st.time > before.time and not sim._picks and not sim.paused
                    and st.budget == sim.token_budget,
                    lambda: f"RUN: time {before.time} -> {st.time}, picks {sim._picks}, "
                            f"paused {sim.paused}, budget {st.budget}")
            return
        require(st.time == before.time and sim.iterations == before.counters[0],
                lambda: f"action {action} moved time {before.time} -> {st.time}")
        if action == PAUSE_NODE:
            require(sim.paused, "PAUSE did not pause")
        elif action < self.queue0:
            budget = BUDGETS[int(np.flatnonzero(self.budget_nodes == action)[0])]
            require(st.budget == budget, lambda: f"budget {st.budget} after lowering to {budget}")
        elif action < self.run0:
            r = int(self.shown_queue[action - self.queue0])
            chunk = int(self.chunks[action - self.queue0])
            require(st.picked[r] == chunk and st.status[r] == llm.PREFILLING,
                    lambda: f"pick of request {r}: picked {st.picked[r]}, expected {chunk}")
        else:
            r = int(self.shown_running[action - self.run0])
            require(st.status[r] == llm.WAITING and st.kv_blocks[r] == 0
                    and st.restarts[r] == before.arrays["restarts"][r] + 1,
                    lambda: f"preemption of request {r}: status {st.status[r]}, "
                            f"{st.kv_blocks[r]} blocks, restarts {st.restarts[r]}")

    def _check(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        sim, st = self.env.sim, self.env.sim.state
        self.shown_queue = np.asarray(sim.visible_queue(), np.int64)
        self.shown_running = np.asarray(sim.running, np.int64)
        self._check_nodes(obs)
        self._check_mask(obs["action_mask"])
        require(info["steps"] == self.steps, lambda: f"info steps {info['steps']}")
        if "ttft_mean" in info:
            self._check_metrics(info)
            return
        require(info["time"] == st.time and info["requests_done"] == sim._done_count
                and info["goodput_tokens"] == int(st.goodput_tokens.sum()),
                lambda: f"info {info} disagrees with the state")

    def _check_nodes(self, obs: dict[str, np.ndarray]) -> None:
        """The shown requests sit in the queue and running slots with their statuses."""
        nq, nr = len(self.shown_queue), len(self.shown_running)
        expected = np.zeros_like(obs["node_mask"])
        expected[:self.queue0] = 1
        expected[self.queue0:self.queue0 + nq] = 1
        expected[self.run0:self.run0 + nr] = 1
        require(np.array_equal(obs["node_mask"], expected),
                lambda: f"node mask differs at {np.flatnonzero(obs['node_mask'] != expected)[:10]}")
        status = self.env.sim.state.status
        for first, shown in ((self.queue0, self.shown_queue), (self.run0, self.shown_running)):
            onehot = obs["nodes"][first:first + len(shown)][:, self.columns]
            want = status[shown][:, None] == self.statuses[None, :]
            require(np.array_equal(onehot, want.astype(onehot.dtype)),
                    lambda: f"status columns of the nodes from {first} differ from the state")

    def _check_mask(self, mask: np.ndarray) -> None:
        """The mask is the documented legality, recomputed from the state."""
        sim, st = self.env.sim, self.env.sim.state
        picks, running, vis = len(sim._picks), self.shown_running, self.shown_queue
        expected = np.zeros_like(mask)
        expected[RUN_NODE] = 1
        expected[PAUSE_NODE] = not sim.paused and not picks and len(running) > 0
        if not picks:
            expected[self.budget_nodes] = np.asarray(BUDGETS) < st.budget
        room = st.budget - st.batch_tokens
        chunk = np.minimum(st.prefill_target[vis] - st.prefilled[vis], max(room, 0))
        need = sim.decode_blocks_needed()  # check_llm_replica compared it with a recomputation
        new_blocks = blocks_for(st.prefilled[vis] + chunk) - st.kv_blocks[vis]
        ok = ((len(running) + picks < sim.max_batch_size) & (st.picked[vis] == 0) & (chunk > 0)
              & (new_blocks <= st.free_blocks - need))
        self.chunks = np.where(ok, chunk, 0)
        expected[self.queue0:self.queue0 + len(vis)] = ok
        expected[self.run0:self.run0 + len(running)] = ((st.kv_blocks[running] > 0)
                                                        & (st.picked[running] == 0))
        require(np.array_equal(mask, expected),
                lambda: f"action mask differs from the legality of the state at nodes "
                        f"{np.flatnonzero(mask != expected)[:10].tolist()} (queue from "
                        f"{self.queue0}, running from {self.run0})")

    def _check_metrics(self, info: dict[str, Any]) -> None:
        """The final metrics against a recomputation from the requests' timestamps."""
        sim, st, inst = self.env.sim, self.env.sim.state, self.env.sim.instance
        done = np.flatnonzero(st.status == llm.DONE)
        require(info["requests_done"] == len(done) and info["time"] == st.time
                and info["goodput_tokens"] == int(st.goodput_tokens.sum())
                and info["preemptions"] == sim.preemptions == int(st.restarts.sum())
                and info["iterations"] == sim.iterations,
                lambda: f"final counters {info} disagree with the state")
        service = info["tenant_service"]
        require(len(service) == inst.num_tenants and np.isfinite(service).all()
                and np.array_equal(service, st.tenant_service), "tenant_service")
        require(0.0 <= info["kv_utilization_mean"] <= 1.0 + 1e-9
                and 0.0 <= info["fairness_jain"] <= 1.0 + 1e-9 and info["max_service_gap"] >= 0,
                lambda: f"kv_utilization_mean {info['kv_utilization_mean']}, fairness_jain "
                        f"{info['fairness_jain']}, max_service_gap {info['max_service_gap']}")
        undefined = self.undefined_metrics(info)
        nan = {key for key, value in info.items() if isinstance(value, float) and math.isnan(value)}
        require(nan == undefined, lambda: f"NaN metrics {sorted(nan)}, undefined ones "
                                          f"{sorted(undefined)}")
        if sim.done:
            require(len(done) == inst.num_requests and st.free_blocks == sim.capacity,
                    "episode ended with requests not done or blocks held")
            self.counts["episodes_done"] += 1
        if not len(done):
            return
        arrival = inst.arrival[done]
        ttft = st.first_token[done] - arrival
        tokens = inst.output_tokens[done]
        tpot = np.where(tokens > 1, (st.finish[done] - st.first_token[done])
                        / np.maximum(tokens - 1, 1), 0.0)
        span = float(st.finish[done].max() - inst.arrival[0])
        met = (ttft <= inst.ttft_slo[done]) & (tpot <= inst.tpot_slo[done])
        expected = {"ttft_mean": ttft.mean(), "tpot_mean": tpot.mean(),
                    "e2e_mean": (st.finish[done] - arrival).mean(),
                    "slo_attainment": met.sum() / inst.num_requests,  # unfinished ones missed
                    "ttft_p99": np.percentile(ttft, 99)}
        if span > 0:
            expected.update(throughput_rps=len(done) / span, throughput_tps=tokens.sum() / span,
                            token_goodput=st.goodput_tokens.sum() / span)
        for key, value in expected.items():
            require(_close(info[key], float(value)),
                    lambda: f"info[{key!r}] = {info[key]}, recomputed {value}")
        require(info["ttft_p50"] <= info["ttft_p90"] <= info["ttft_p99"] <= ttft.max() + 1e-12,
                "ttft percentiles out of order")
        require((ttft >= 0).all() and (tpot >= 0).all(), "negative TTFT or TPOT")


# ------------------------------------------------------------------------------------ IoT


class IoTChecker:
    """Invariants of ``schedgym/IoTPlacement-v0`` (see the module docstring)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped
        self.counts: dict[str, int] = {"episodes_done": 0, "tasks_placed": 0, "tasks_dropped": 0}

    def on_reset(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        sim = self.env.sim
        self.returned = 0.0  # Σ reward so far
        self.time = sim.state.time
        self._check_state(obs)

    def on_step(self, action: int, obs: dict[str, np.ndarray], reward: float, terminated: bool,
                info: dict[str, Any]) -> None:
        env, sim = self.env, self.env.sim
        self.returned += reward
        require(sim.state.time >= self.time, lambda: f"time went back: {self.time} -> {sim.state.time}")
        self.time = sim.state.time
        require(math.isclose(self.returned, -sim.objective * env.reward_scale, rel_tol=1e-9, abs_tol=1e-9),
                lambda: f"return {self.returned} != -objective {sim.objective} x {env.reward_scale}")
        require(terminated == sim.done, lambda: f"terminated={terminated} but done={sim.done}")
        self._check_state(obs)
        if terminated:
            self._check_end(info)
            self.counts["episodes_done"] += 1
            self.counts["tasks_placed"] += int(info["tasks_completed"])
            self.counts["tasks_dropped"] += int(info["tasks_dropped"])

    def full_check(self) -> None:
        sim = self.env.sim
        st, inst = sim.state, sim.instance
        placed = np.flatnonzero(st.status == iot.PLACED)
        for node in np.unique(st.node[placed]):
            mine = placed[st.node[placed] == node]
            events = sorted([(float(st.start[t]), 1) for t in mine] + [(float(st.finish[t]), -1) for t in mine])
            busy = max(np.cumsum([e for _, e in events]), default=0)
            require(busy <= sim.topology.cores[node],
                    lambda: f"node {node} runs {busy} tasks at once on {sim.topology.cores[node]} cores")
        # Input flows: on every link channel, the flows' holding intervals never overlap.
        flows: dict[int, list[tuple[float, float]]] = {}
        for task in placed:
            node, row = st.node[task], sim.routes.device_row[inst.device[task]]
            if node == inst.device[task]:
                continue
            hold = inst.input_bits[task] / sim.routes.bottleneck[row, node]
            begin = st.input_arrival[task] - sim.routes.latency[row, node] - hold
            for channel in sim.routes.links[row, node]:
                if channel >= 0:
                    flows.setdefault(int(channel), []).append((begin, begin + hold))
        for channel, spans in flows.items():
            spans.sort()
            for (a0, a1), (b0, _) in zip(spans, spans[1:]):
                require(b0 >= a1 - _REL_TOL * max(1.0, abs(a1)),
                        lambda: f"link channel {channel}: flows overlap ({a0}, {a1}) and from {b0}")

    def _check_state(self, obs: dict[str, np.ndarray]) -> None:
        sim = self.env.sim
        st, inst, topo = sim.state, sim.instance, sim.topology
        now = st.time
        if sim.decision_interval > 0:
            k = round(now / sim.decision_interval)
            require(now == k * sim.decision_interval, lambda: f"time {now} is not an epoch of {sim.decision_interval}")
        arrived = int(np.searchsorted(inst.arrival, now, side="right"))
        require(st.arrived == arrived, lambda: f"arrived {st.arrived}, {arrived} tasks have arrival <= {now}")
        require((st.status[arrived:] == iot.PENDING).all() and (st.status[:arrived] != iot.PENDING).all(),
                "a task's pending status disagrees with its arrival")
        waiting = np.flatnonzero(st.status == iot.WAITING)
        require(sim.waiting == waiting.tolist(), lambda: f"waiting list {sim.waiting[:5]} != {waiting[:5].tolist()}")
        placed = np.flatnonzero(st.status == iot.PLACED)
        node = st.node[placed]
        rows = sim.routes.device_row[inst.device[placed]]
        require(sim.routes.runnable[rows, node].all(), "a task runs on a node its device may not use")
        tol = 1e-9
        require((st.input_arrival[placed] >= inst.arrival[placed] - tol).all(), "input arrived before the task")
        require((st.start[placed] >= st.input_arrival[placed] - tol).all(), "a run starts before its input")
        require(np.allclose(st.finish[placed] - st.start[placed], inst.cycles[placed] / topo.freq_hz[node],
                            rtol=1e-9, atol=1e-12), "a run time differs from cycles / frequency")
        require((inst.arrival[placed] + st.response[placed] >= st.finish[placed] - tol).all(),
                "a result is back before its run ended")
        require((st.energy_j >= 0).all(), "negative task energy")
        dropped = np.flatnonzero(st.status == iot.DROPPED)
        require((inst.arrival[dropped] + inst.deadline_s[dropped] <= now + tol).all(),
                "a task was dropped before its deadline")
        holding = placed[st.finish[placed] > now]
        expected = np.bincount(st.node[holding], inst.memory_mb[holding], minlength=topo.num_nodes)
        require(np.allclose(st.memory_used, expected, rtol=1e-9, atol=1e-6),
                lambda: f"memory_used {st.memory_used[:6]} != held {expected[:6]}")
        require((st.memory_used <= topo.memory_mb + 1e-6).all(), "a node holds more memory than it has")
        require(sim._resolved == len(placed) + len(dropped), "resolved count")
        self._check_mask(obs["action_mask"])

    def _check_mask(self, mask: np.ndarray) -> None:
        env, sim = self.env, self.env.sim
        expected = np.zeros_like(mask)
        expected[NOOP_NODE] = 1
        if sim.state.selected >= 0:
            feasible = sim.feasible(np.array([sim.state.selected]))[0]
            expected[[env.compute_node(j) for j in np.flatnonzero(feasible)]] = 1
        else:
            shown = env.visible_tasks()
            require(shown.tolist() == sim.waiting[:env.window], "the window is not the oldest waiting tasks")
            legal = shown[sim.feasible(shown).any(axis=1)] if len(shown) else shown
            expected[[env.task_node(t) for t in legal]] = 1
        require(np.array_equal(mask, expected),
                lambda: f"mask differs at {np.flatnonzero(mask != expected)[:5].tolist()}")

    def _check_end(self, info: dict[str, Any]) -> None:
        sim = self.env.sim
        st, inst = sim.state, sim.instance
        require(np.isin(st.status, (iot.PLACED, iot.DROPPED)).all(), "a task is unresolved at the end")
        placed = st.status == iot.PLACED
        hits = (st.response[placed] <= inst.deadline_s[placed]).sum()
        require(info["deadline_hit_ratio"] == hits / inst.num_tasks, "deadline_hit_ratio")
        require(info["tasks_completed"] == placed.sum() and info["tasks_dropped"] == (~placed).sum(), "task counts")
        if placed.any():
            require(math.isclose(info["response_time_mean"], float(st.response[placed].mean()), rel_tol=1e-12),
                    "response_time_mean")


# ---------------------------------------------------------------------------- LLM cluster


class LLMClusterChecker:
    """Invariants of ``schedgym/LLMCluster-v0`` (see the module docstring)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped
        self.counts: dict[str, int] = {"episodes_done": 0, "requests_done": 0}

    def on_reset(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        cluster = self.env.cluster
        self.histories = [LLMReplicaHistory(sim) for sim in cluster.replicas]
        self.returned = 0.0
        self.routed = cluster.next_request
        require(self.routed == 0, lambda: f"{self.routed} requests routed at reset")
        self._check_state(obs)

    def on_step(self, action: int, obs: dict[str, np.ndarray], reward: float, terminated: bool,
                info: dict[str, Any]) -> None:
        env, cluster = self.env, self.env.cluster
        request = self.routed
        require(cluster.next_request == request + 1, lambda: f"a step routed {cluster.next_request - request} requests")
        require(cluster.assignment[request] == action, lambda: f"request {request} went to replica "
                                                              f"{cluster.assignment[request]}, the action said {action}")
        self.routed = cluster.next_request
        self.returned += reward
        expected = cluster.goodput_tokens * env.reward_scale
        require(math.isclose(self.returned, expected, rel_tol=1e-9, abs_tol=1e-9),
                lambda: f"return {self.returned} != goodput {cluster.goodput_tokens} x {env.reward_scale}")
        for sim, history in zip(cluster.replicas, self.histories):
            history.update(sim)
        self._check_state(obs)
        require(terminated == cluster.done, lambda: f"terminated={terminated}, cluster done={cluster.done}")
        if terminated:
            n = cluster.instance.num_requests
            require(info["requests_done"] == n and cluster.requests_done == n,
                    lambda: f"{info['requests_done']} of {n} requests done at the end")
            require(int(np.sum(info["replica_requests"])) == n, "replica_requests do not sum to the requests")
            self.counts["episodes_done"] += 1
            self.counts["requests_done"] += n

    def full_check(self) -> None:
        for sim in self.env.cluster.replicas:
            check_llm_service(sim)

    def _check_state(self, obs: dict[str, np.ndarray]) -> None:
        env, cluster = self.env, self.env.cluster
        assignment = cluster.assignment
        routed = cluster.next_request
        require((assignment[:routed] >= 0).all() and (assignment[routed:] == -1).all(),
                "the routed requests are not exactly the first ones")
        for k, sim in enumerate(cluster.replicas):
            check_llm_replica(sim, assignment == k)
        require(np.array_equal(cluster.routed_counts(), np.bincount(assignment[:routed],
                                                                    minlength=cluster.num_replicas)),
                "routed_counts disagree with the assignment")
        mask = obs["action_mask"]
        if cluster.pending is None:
            require(mask[NOOP_NODE] == 1, "no legal action after the last request")
        else:
            prompt = int(cluster.instance.prompt_tokens[cluster.pending])
            can_hold = np.array([blocks_for(prompt) <= sim.capacity for sim in cluster.replicas])
            expected = np.zeros_like(mask)
            expected[[env.node_of(k) for k in np.flatnonzero(can_hold)]] = 1
            require(np.array_equal(mask, expected),
                    lambda: f"mask differs at {np.flatnonzero(mask != expected)[:5].tolist()}")


CHECKERS: dict[str, type] = {"vm": VMChecker, "soc": SoCChecker, "llm": LLMChecker,
                             "llm_cluster": LLMClusterChecker, "iot": IoTChecker}


# --------------------------------------------------------------------------------- driver


@dataclass
class Failure:
    """A failed check or an exception, with what is needed to replay it."""

    config: Config
    episode_seed: int
    step: int  # index of the step within the episode, -1 at reset
    message: str

    def report(self, noop_prob: float) -> str:
        c = self.config
        return (f"FAIL {c.name} ({c.env_id}, kwargs {c.kwargs}) episode seed {self.episode_seed}, "
                f"step {self.step}: {self.message}\n"
                f"  replay: python -m benchmarks.soak --replay {c.name} --episode-seed "
                f"{self.episode_seed} --noop-prob {noop_prob}\n"
                f"  or in Python: from benchmarks.soak import replay; replay({c.name!r}, "
                f"{self.episode_seed}, noop_prob={noop_prob})")


@dataclass
class Result:
    config: Config
    steps: int = 0
    episodes: int = 0
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)  # the checker's event counts

    def counts_text(self) -> str:
        return ", ".join(f"{key} {value}" for key, value in self.counts.items())


def run_episode(env: gym.Env, checker, config: Config, episode_seed: int, limit: int,
                check_every: int, noop_prob: float,
                actions: list[int] | None = None) -> tuple[int, Failure | None]:
    """One episode of at most ``limit`` steps with every check.

    Returns:
        The steps taken and the failure, if any (the episode stops at its first failure).
    """
    step = -1
    try:
        obs, info = env.reset(seed=episode_seed)
        check_observation(obs, env.observation_space, full=True)
        checker.on_reset(obs, info)
        rng = np.random.default_rng(episode_seed)
        draw = getattr(checker, "draw_action", random_action)
        undefined = getattr(checker, "undefined_metrics", lambda info: ())
        for step in range(limit):
            action = draw(rng, obs["action_mask"], noop_prob)
            if actions is not None:
                actions.append(action)
            obs, reward, terminated, truncated, info = env.step(action)
            full = (step + 1) % check_every == 0
            check_observation(obs, env.observation_space, full)
            check_numbers(reward, info, undefined(info))
            checker.on_step(action, obs, reward, terminated, info)
            if full:
                checker.full_check()
            if terminated or truncated:
                return step + 1, None
        return limit, None
    except Exception as error:  # noqa: BLE001 - an env exception is a finding, not a crash
        detail = "".join(traceback.format_exception_only(error)).strip()
        if not isinstance(error, InvariantError):
            detail += "\n" + "".join(traceback.format_tb(error.__traceback__)[-3:])
        return step + 1, Failure(config, episode_seed, step, detail)


def soak(config: Config, steps: int, seed: int, check_every: int, noop_prob: float) -> Result:
    """``steps`` random masked steps of ``config`` in episodes seeded from ``seed``."""
    env = gym.make(config.env_id, **config.kwargs)
    checker = CHECKERS[ENVS[config.env_id].key](env)
    rng = np.random.default_rng([seed, zlib.crc32(config.name.encode())])
    result = Result(config)
    start = time.perf_counter()
    with tqdm(total=steps, desc=config.name, unit="step", mininterval=10.0,
              smoothing=0.05) as bar:
        while result.steps < steps:
            episode_seed = int(rng.integers(2**32))
            taken, failure = run_episode(env, checker, config, episode_seed,
                                         steps - result.steps, check_every, noop_prob)
            result.steps += taken
            result.episodes += 1
            bar.update(taken)
            if failure is not None:
                result.failures.append(failure)
                if len(result.failures) <= MAX_PRINTED_FAILURES:
                    tqdm.write(failure.report(noop_prob))
    result.wall_s = time.perf_counter() - start
    result.counts = dict(getattr(checker, "counts", {}))
    env.close()
    return result


def replay(name: str, episode_seed: int, noop_prob: float = 0.01,
           limit: int = 10**7) -> Failure | None:
    """Replays one episode of configuration ``name`` with the full checks on every step and
    prints its actions and the outcome; returns the failure, if any."""
    configs = configurations()
    if name not in configs:
        raise SystemExit(f"--replay: unknown configuration {name!r}; known: {', '.join(configs)}")
    config = configs[name]
    env = gym.make(config.env_id, **config.kwargs)
    actions: list[int] = []
    taken, failure = run_episode(env, CHECKERS[ENVS[config.env_id].key](env), config,
                                 episode_seed, limit, 1, noop_prob, actions)
    print(f"{name} ({config.env_id}, kwargs {config.kwargs}), reset(seed={episode_seed}), "
          f"{taken} steps, actions: {actions}")
    print(failure.report(noop_prob) if failure else "every check passed")
    return failure


def print_summary(results: list[Result]) -> None:
    print("\n| configuration | steps | episodes | failures | wall_s | steps/s | counts |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        rate = r.steps / r.wall_s if r.wall_s else 0.0
        print(f"| {r.config.name} | {r.steps} | {r.episodes} | {len(r.failures)} | "
              f"{r.wall_s:.0f} | {rate:.0f} | {r.counts_text()} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10**6, help="steps per configuration")
    parser.add_argument("--envs", default=None,
                        help="comma-separated env ids, env keys or configuration names (all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-every", type=int, default=100,
                        help="steps between full observation_space.contains and legality checks")
    parser.add_argument("--noop-prob", type=float, default=0.01,
                        help="probability of the no-op node when other actions are legal")
    parser.add_argument("--replay", metavar="CONFIG", help="replay one episode of CONFIG")
    parser.add_argument("--episode-seed", type=int, help="the episode to replay")
    parser.add_argument("--list", action="store_true", help="list the configurations and exit")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.check_every < 1 or not 0.0 <= args.noop_prob <= 1.0:
        parser.error("need --steps >= 1, --check-every >= 1 and --noop-prob in [0, 1]")
    configs = configurations()
    if args.list:
        for config in configs.values():
            print(f"{config.name}: {config.env_id} {config.kwargs}")
        return 0
    if args.replay:
        if args.episode_seed is None:
            parser.error("--replay needs --episode-seed")
        return 1 if replay(args.replay, args.episode_seed, args.noop_prob) else 0
    chosen = select(configs, args.envs)
    print(f"soak: {args.steps} steps per configuration, seed {args.seed}, full checks every "
          f"{args.check_every} steps, no-op probability {args.noop_prob}: "
          f"{', '.join(c.name for c in chosen)}", flush=True)
    results = []
    for config in chosen:
        result = soak(config, args.steps, args.seed, args.check_every, args.noop_prob)
        results.append(result)
        rate = result.steps / result.wall_s if result.wall_s else 0.0
        print(f"{config.name}: {result.steps} steps, {result.episodes} episodes, "
              f"{len(result.failures)} failures, {result.wall_s:.0f} s, {rate:.0f} steps/s"
              + (f"; {result.counts_text()}" if result.counts else ""), flush=True)
    print_summary(results)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
