"""CP-SAT, exact on each decision window of ``schedgym/IoTPlacement-v0``: the placement order
and the node of every task of the batch, with the env's reservation rules.

**The env's window problem.** Given a placement order and nodes, :class:`envs.iot.sim.IoTSim`
fixes every time: a task's input flow starts when every channel of its route is free of the
flows placed before it (and at the epoch at the earliest) and holds them all for
``input / bottleneck``; its run starts at ``max(input arrival, the node's first free core)``.
On a node of C cores the free times form a multiset from which each placement takes the least
and returns its finish (never earlier), so the first free core for task i is the C-th largest
of {the cores' free times at the epoch} ∪ {finishes of the tasks placed on the node before i}.

**The model** (:class:`WindowModel`) states exactly that, with one total order for the batch:
a literal ``before[i, k]`` per pair, made transitive; ``x[i, j]`` puts task i on node j;

- flows: ``flow_start[k] ≥ flow_end[i]`` if i is before k and their routes share a channel,
  and ``flow_start[i] ≥`` the route's channels' free times at the epoch;
- runs: ``run_start[i] ≥ input arrival``; and on a node of C cores, fewer than C of {cores busy
  past ``run_start[i]`` at the epoch} ∪ {tasks before i on the node that finish after
  ``run_start[i]``} (booleans count them; one left at 0 forces the time order). This is the
  C-th-largest rule, without the env's "as early as possible": lateness never pays, since every
  cost grows with finish times and a later finish only tightens the constraints of later tasks;
- memory: the batch's tasks on a node fit the memory it has free (the sim frees memory only at
  epochs); a task no node can take is deferred at a penalty larger than any schedule's cost;
- objective, the env's: Σ response_weight·response + miss_weight·[response > deadline] +
  energy_weight·energy.

Hence for the order and nodes of any CP solution the env's own times are at most the solution's
(by induction over the order, each max and order statistic taken over smaller values) and its
cost at most the solution's, and every env schedule is a CP solution: the optimum is the env's.

**Integers.** Times are in µs relative to the epoch (``TIME_SCALE``), the objective in 10⁻⁹ of
the env's unit (``COST_SCALE``), memory in kB; every duration, release time and coefficient is
rounded *down* and every memory capacity up, so the model relaxes the env and its bound is valid.
The order and nodes it returns are replayed through the env's rules (:func:`evaluate`), so the
reported objective is what the env charges; it can exceed the bound by the rounding (about a µs
per rounded term along a chain of placements, the ``tolerance``), and a window is reported
``"optimal"`` when CP-SAT proved its solution optimal and the replayed cost is within that of
the bound. The EDF-ordered greedy placement hints the search and stands in if CP-SAT finds
nothing better (``report.extra["source"]``).

The budget is CP-SAT's deterministic time per window with one worker by default, so a plan is a
function of the window, the budget and the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, permutations

import gymnasium as gym
import numpy as np
from ortools.sat.python import cp_model

from schedgym.baselines.base import SolverReport
from schedgym.baselines.iot.planner import WindowPlanner
from schedgym.baselines.iot.window import DEFER, Window, edf_positions, evaluate, greedy_sequence
from schedgym.envs.validation import check_float, check_int

TIME_SCALE = 1_000_000  # model time units per second (1 µs)
COST_SCALE = 1_000_000_000  # model objective units per unit of the env's objective
MEMORY_SCALE = 1000  # model memory units per MB
WORK_LIMIT = 1.0  # default budget per window, CP-SAT deterministic s


class CpSatWindowScheduler(WindowPlanner):
    """Optimal placement order and nodes of each window's batch by CP-SAT (module docstring).

    Args:
        work_limit: Budget per window, in CP-SAT deterministic seconds, in (0, 10^4].
        workers: CP-SAT search workers, in [1, 64] (more than one search interleaved, which is
            deterministic too).
        seed: CP-SAT's random seed; ``reset(env, seed)`` overrides it.
        max_tasks: Most tasks per model, in [1, 64]; a larger batch is planned in parts, the
            earliest deadlines first, each part after the one before is placed.

    Attributes:
        report: The last window's :class:`SolverReport`: ``status`` ``"optimal"`` (proven, to
            the ``tolerance``), ``"feasible"`` or ``"unknown"`` (CP-SAT found no solution: the
            greedy placement was used); ``objective`` the env's cost of the placement made;
            ``bound`` CP-SAT's proven lower bound on the window's optimum.

    Raises:
        ValueError: If an argument is out of range (naming it).
    """

    name = "cpsat"
    budget_unit = "CP-SAT deterministic s"

    def __init__(self, work_limit: float = WORK_LIMIT, workers: int = 1, seed: int = 0,
                 max_tasks: int = 12) -> None:
        super().__init__()
        self.work_limit = check_float("work_limit", work_limit, low=0.0, low_open=True, high=1e4)
        self.workers = check_int("workers", workers, low=1, high=64)
        self.seed = check_int("seed", seed)
        self.batch_limit = check_int("max_tasks", max_tasks, low=1, high=64)
        self._seed = self.seed

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._seed = self.seed if seed is None else int(seed)

    def plan(self, window: Window) -> tuple[list[tuple[int, int]], SolverReport]:
        greedy = greedy_sequence(window, edf_positions(window))
        model = WindowModel(window)
        model.hint(greedy)
        solution = model.solve(self.work_limit, self.workers, self._seed)
        candidates = [("greedy", greedy, evaluate(window, greedy))]
        if solution.sequence is not None:
            candidates.append(("cpsat", solution.sequence, evaluate(window, solution.sequence)))
        source, sequence, result = min(candidates, key=lambda c: (c[2].key(), c[0] == "greedy"))
        bound = solution.bound if result.deferred == 0 else None
        proven = (solution.status == "optimal" and bound is not None
                  and result.cost <= bound + tolerance(window))
        status = ("optimal" if proven else "unknown" if solution.status == "unknown"
                  else "feasible")
        report = SolverReport(
            status=status, budget=self.work_limit, budget_unit=self.budget_unit,
            budget_used=solution.work, objective=result.cost, bound=bound,
            extra={"tasks": window.size, "deferred": result.deferred, "time": window.time,
                   "source": source, "solver_status": solution.status,
                   "model_objective": solution.objective,
                   "greedy_objective": candidates[0][2].cost})
        return sequence, report


def tolerance(window: Window) -> float:
    """How far the env's cost of a CP solution may exceed the model's objective through rounding:
    each of a placement's about five rounded terms can lose a time unit, along chains of up to
    ``n`` placements, weighted by the response weight; plus the rounded energy terms."""
    n = window.size
    return window.weights.response * n * (5 * n + 5) / TIME_SCALE + 4 * n / COST_SCALE


@dataclass(frozen=True)
class Solution:
    """A solve's outcome, objective and bound in the env's units (None without a solution, or,
    for the bound, if the solution defers a task)."""

    status: str  # "optimal", "feasible" or "unknown"
    sequence: list[tuple[int, int]] | None  # (batch position, node) in placement order
    objective: float | None  # the model's objective of the solution
    bound: float | None  # CP-SAT's proven lower bound
    work: float  # deterministic s used


def _ticks(seconds: np.ndarray) -> np.ndarray:
    """Seconds as whole model time units, rounded down (0 where not finite: never used)."""
    finite = np.isfinite(seconds)
    ticks = np.floor(np.where(finite, seconds, 0.0) * TIME_SCALE)
    return np.where(finite, ticks, 0).astype(np.int64)


class WindowModel:
    """The CP-SAT model of one window (module docstring). Tasks are the batch's positions."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.model = cp_model.CpModel()
        self._data()
        self._variables()
        self._flows()
        self._cores()
        self._memory()
        self._objective()

    # ---------------------------------------------------------------- data in model units

    def _data(self) -> None:
        """Durations and release times in µs from the epoch, rounded down, (n, K) arrays."""
        w = self.window
        fits = w.runnable & (w.memory_used + w.memory[:, None] <= w.memory_cap)
        self.nodes = [[int(j) for j in np.flatnonzero(row)] for row in fits]
        self.transfer, self.latency, self.run = _ticks(w.transfer), _ticks(w.latency), _ticks(w.run)
        self.back = _ticks(w.latency + w.output)  # finish → result back at the device
        self.waited = _ticks(w.time - w.arrival)
        # The latest finish that meets the deadline.
        self.limit = _ticks((w.arrival + w.deadline)[:, None] - w.latency - w.output - w.time)
        self.energy = w.dynamic_power * w.run + (w.tx_power[:, None] * w.transfer)
        self.link_free = _ticks(np.maximum(w.link_free[:-2] - w.time, 0.0))
        channels = len(self.link_free)
        self.channels = [{j: [int(c) for c in w.write_channels[i, j] if c < channels]
                          for j in nodes} for i, nodes in enumerate(self.nodes)]
        self.busy = []  # per node, the free times of its cores still busy at the epoch
        for j in range(w.num_nodes):
            free = _ticks(w.core_free[j, :w.cores[j]] - w.time)
            self.busy.append([int(t) for t in free if t > 0])
        busiest = max([0, *self.link_free.tolist(), *(t for cores in self.busy for t in cores)])
        path = self.transfer + self.latency + self.run
        longest = [max(int(path[i, j]) for j in nodes)
                   for i, nodes in enumerate(self.nodes) if nodes]
        self.horizon = busiest + sum(longest) + w.size + 1  # every non-delay schedule ends by it

    # ---------------------------------------------------------------- variables

    def _variables(self) -> None:
        m, n, horizon = self.model, self.window.size, self.horizon
        self.x = [{j: m.new_bool_var(f"x{i}_{j}") for j in self.nodes[i]} for i in range(n)]
        short = any(self._memory_binds(j) for j in range(self.window.num_nodes))
        self.defer = [m.new_bool_var(f"defer{i}") if short or not self.x[i] else None
                      for i in range(n)]
        for i in range(n):
            deferral = [] if self.defer[i] is None else [self.defer[i]]
            m.add_exactly_one([*self.x[i].values(), *deferral])
        self.flow_start = [m.new_int_var(0, horizon, f"fs{i}") for i in range(n)]
        self.run_start = [m.new_int_var(0, horizon, f"rs{i}") for i in range(n)]
        self.flow_end = [self.flow_start[i] + self._sum(i, self.transfer) for i in range(n)]
        self.finish = [self.run_start[i] + self._sum(i, self.run) for i in range(n)]
        for i in range(n):
            m.add(self.run_start[i] >= self.flow_end[i] + self._sum(i, self.latency))
        self._before = {(i, k): m.new_bool_var(f"b{i}_{k}") for i, k in combinations(range(n), 2)}
        for i, k, l in permutations(range(n), 3):
            m.add_bool_or([~self.before(i, k), ~self.before(k, l), self.before(i, l)])

    def before(self, i: int, k: int) -> cp_model.IntVar:
        """The literal "task i is placed before task k"."""
        return self._before[i, k] if i < k else ~self._before[k, i]

    def _sum(self, i: int, values: np.ndarray) -> cp_model.LinearExpr:
        """Σ_j values[i, j] · x[i, j]: task i's value on the node it is put on."""
        return cp_model.LinearExpr.weighted_sum(list(self.x[i].values()),
                                                [int(values[i, j]) for j in self.x[i]])

    # ---------------------------------------------------------------- constraints

    def _flows(self) -> None:
        m, n = self.model, self.window.size
        uses: list[dict[int, cp_model.IntVar]] = []  # per task, "its route uses channel c"
        for i in range(n):
            by_channel: dict[int, list] = {}
            for j, channels in self.channels[i].items():
                release = max((int(self.link_free[c]) for c in channels), default=0)
                if release:
                    m.add(self.flow_start[i] >= release).only_enforce_if(self.x[i][j])
                for c in channels:
                    by_channel.setdefault(c, []).append(self.x[i][j])
            uses.append({})
            for c, literals in by_channel.items():
                uses[i][c] = m.new_bool_var(f"u{i}_{c}")
                m.add(uses[i][c] == sum(literals))
        for i, k in combinations(range(n), 2):
            shared = [c for c in uses[i] if c in uses[k]]
            if not shared:
                continue
            share = m.new_bool_var(f"s{i}_{k}")  # forced on when the two routes share a channel
            for c in shared:
                m.add_bool_or([~uses[i][c], ~uses[k][c], share])
            first, second = self.before(i, k), self.before(k, i)
            m.add(self.flow_start[k] >= self.flow_end[i]).only_enforce_if([share, first])
            m.add(self.flow_start[i] >= self.flow_end[k]).only_enforce_if([share, second])

    def _cores(self) -> None:
        m, w = self.model, self.window
        for j in range(w.num_nodes):
            tasks = [i for i in range(w.size) if j in self.x[i]]
            if len(self.busy[j]) + len(tasks) <= w.cores[j]:
                continue  # never more tasks than free cores: the count cannot bind
            for i in tasks:
                counted = []  # cores busy past i's start: at the epoch, or by tasks before it
                for c, free in enumerate(self.busy[j]):
                    busy = m.new_bool_var(f"y{i}_{j}_{c}")
                    m.add(self.run_start[i] >= free).only_enforce_if([self.x[i][j], ~busy])
                    counted.append(busy)
                for k in tasks:
                    if k == i:
                        continue
                    later = m.new_bool_var(f"z{k}_{i}_{j}")
                    m.add(self.finish[k] <= self.run_start[i]).only_enforce_if(
                        [self.x[k][j], self.x[i][j], self.before(k, i), ~later])
                    counted.append(later)
                m.add(sum(counted) <= int(w.cores[j]) - 1).only_enforce_if(self.x[i][j])

    def _free_memory(self, j: int) -> int:
        w = self.window
        return math.ceil((w.memory_cap[j] - w.memory_used[j]) * MEMORY_SCALE)

    def _memory_binds(self, j: int) -> bool:
        w = self.window
        need = sum(math.floor(w.memory[i] * MEMORY_SCALE) for i in range(w.size)
                   if j in self.nodes[i])
        return need > self._free_memory(j)

    def _memory(self) -> None:
        w = self.window
        for j in range(w.num_nodes):
            if self._memory_binds(j):
                held = sum(math.floor(w.memory[i] * MEMORY_SCALE) * self.x[i][j]
                           for i in range(w.size) if j in self.x[i])
                self.model.add(held <= self._free_memory(j))

    def _objective(self) -> None:
        m, w, n = self.model, self.window, self.window.size
        per_tick = math.floor(w.weights.response * COST_SCALE / TIME_SCALE)  # per µs of response
        per_miss = math.floor(w.weights.miss * COST_SCALE)
        terms, constant, worst = [], 0, 1
        self.miss = [m.new_bool_var(f"miss{i}") for i in range(n)]
        for i in range(n):
            for j in self.x[i]:
                if self.limit[i, j] < self.horizon + self.run[i, j]:  # else always met
                    m.add(self.finish[i] <= int(self.limit[i, j])).only_enforce_if(
                        [self.x[i][j], ~self.miss[i]])
            constant += per_tick * int(self.waited[i])
            terms += [per_tick * self.finish[i], per_miss * self.miss[i]]
            placements = [0]
            for j in self.x[i]:
                energy = math.floor(w.weights.energy * self.energy[i, j] * COST_SCALE)
                terms.append((per_tick * int(self.back[i, j]) + energy) * self.x[i][j])
                placements.append(per_tick * (2 * self.horizon + int(self.back[i, j])) + energy)
            worst += per_tick * int(self.waited[i]) + per_miss + max(placements)
        self.penalty = worst  # a deferral costs more than any placement of the whole batch
        terms += [worst * d for d in self.defer if d is not None]
        m.minimize(sum(terms) + constant)

    # ---------------------------------------------------------------- solve

    def hint(self, sequence: list[tuple[int, int]]) -> None:
        """Hints the search with a placement sequence (e.g. the greedy one)."""
        rank = {p: r for r, (p, _) in enumerate(sequence)}
        for p, node in sequence:
            for j, var in self.x[p].items():
                self.model.add_hint(var, j == node)
            if self.defer[p] is not None:
                self.model.add_hint(self.defer[p], node not in self.x[p])
        for (i, k), var in self._before.items():
            self.model.add_hint(var, rank[i] < rank[k])

    def solve(self, work_limit: float, workers: int, seed: int) -> Solution:
        """Solves within ``work_limit`` deterministic seconds; the sequence is the solution's
        order (by number of predecessors) and nodes."""
        solver = cp_model.CpSolver()
        solver.parameters.max_deterministic_time = work_limit
        solver.parameters.num_workers = workers
        solver.parameters.interleave_search = workers > 1
        solver.parameters.random_seed = seed
        code = solver.solve(self.model)
        status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(code, "unknown")
        if status == "unknown":
            return Solution(status, None, None, None, solver.deterministic_time)
        n = self.window.size
        value = solver.boolean_value
        rank = [sum(value(self.before(k, i)) for k in range(n) if k != i) for i in range(n)]
        nodes = [next((j for j, var in self.x[i].items() if value(var)), DEFER) for i in range(n)]
        sequence = [(i, nodes[i]) for i in sorted(range(n), key=lambda i: rank[i])]
        bound = solver.best_objective_bound
        bound = bound / COST_SCALE if bound < self.penalty else None
        return Solution(status, sequence, solver.objective_value / COST_SCALE, bound,
                        solver.deterministic_time)


__all__ = ["CpSatWindowScheduler", "WindowModel", "Solution", "tolerance", "TIME_SCALE",
           "COST_SCALE", "WORK_LIMIT"]
