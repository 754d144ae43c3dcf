"""Replay of window plans: the base of the IoT planners that optimise a whole batch at once
(``aco``, ``cpsat``) and then place it one pending placement at a time."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from schedgym.baselines.base import SolverReport
from schedgym.baselines.iot.common import PlacementRule
from schedgym.baselines.iot.window import DEFER, Window, evaluate
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import WAITING


class WindowPlanner(PlacementRule):
    """Plans each decision window when it opens and replays the plan.

    At an epoch the batch is the visible waiting tasks (``env.visible_tasks()``). Subclasses
    implement :meth:`plan`, which returns a placement sequence for a :class:`Window`; the
    planner then places it in order, checking before each placement that the env would reserve
    exactly what the plan predicted (the task still waits, the node can take it, the run ends
    when predicted). If not, the tasks left are planned again from the env's state. Tasks shown
    only once the batch is placed (more waiting than the window has slots) form the next batch
    of the same epoch, as do those beyond ``batch_limit``; deferred tasks wait for the next
    epoch (the planner holds).

    Attributes:
        report: The :class:`SolverReport` of the last window planned.
        reports: Every window's report, in order, since the last :meth:`reset`.
        replans: Windows planned again because the env diverged from a plan (0 unless the
            evaluator and the env disagree).
    """

    name = "window-planner"
    budget_unit = ""
    batch_limit: int | None = None  # most tasks per batch (the earliest deadlines first); None: all

    def __init__(self) -> None:
        super().__init__()
        self.report = SolverReport(budget_unit=self.budget_unit)
        self.reports: list[SolverReport] = []
        self.replans = 0
        self._plan: list[tuple[int, int, float]] = []  # (task, node, predicted finish)
        self._epoch = -1.0
        self._seen: set[int] = set()

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        super().reset(env, seed)
        self.report = SolverReport(budget_unit=self.budget_unit)
        self.reports = []
        self.replans = 0
        self._plan, self._epoch, self._seen = [], -1.0, set()

    def plan(self, window: Window) -> tuple[list[tuple[int, int]], SolverReport]:
        """The placement sequence of ``window`` as (batch position, node) pairs in placement
        order (``DEFER`` leaves a task waiting), and the report of the search."""
        raise NotImplementedError

    def choose(self, env: gym.Env) -> tuple[int, int] | None:
        sim = env.sim
        if sim.state.time != self._epoch:
            self._plan, self._epoch, self._seen = [], sim.state.time, set()
        fresh = False
        while True:
            if self._plan:
                task, node, finish = self._plan[0]
                if _as_planned(sim, task, node, finish):
                    self._plan.pop(0)
                    return task, node
                if fresh:
                    raise RuntimeError(
                        f"{self.name}: the env does not reserve what a fresh plan predicts for "
                        f"task {task} on node {node}: the window evaluator disagrees with IoTSim")
                self.replans += 1
                self._seen -= {planned for planned, _, _ in self._plan}
                self._plan = []
            batch = self._batch(sim, env.visible_tasks())
            if not batch:
                return None
            self._seen.update(batch)
            self._plan = self._plan_window(Window.from_sim(sim, batch))
            fresh = True

    def _batch(self, sim: IoTSim, visible: np.ndarray) -> list[int]:
        """The visible tasks not planned yet at this epoch, at most ``batch_limit`` of them (the
        earliest absolute deadlines, ties by arrival), in arrival order."""
        fresh = np.array([t for t in visible if int(t) not in self._seen], np.int64)
        if self.batch_limit is not None and len(fresh) > self.batch_limit:
            inst = sim.instance
            deadline = inst.arrival[fresh] + inst.deadline_s[fresh]
            fresh = np.sort(fresh[np.lexsort((fresh, deadline))[:self.batch_limit]])
        return [int(t) for t in fresh]

    def _plan_window(self, window: Window) -> list[tuple[int, int, float]]:
        start = time.perf_counter()
        sequence, report = self.plan(window)
        report.wall_seconds = time.perf_counter() - start
        self.report = report
        self.reports.append(report)
        finish = evaluate(window, sequence).finish
        return [(int(window.tasks[p]), node, float(f)) for (p, node), f in zip(sequence, finish)
                if node != DEFER and f == f]  # f != f: deferred at its turn


def _as_planned(sim: IoTSim, task: int, node: int, finish: float) -> bool:
    """Whether placing ``task`` on ``node`` now reserves the run end the plan predicted."""
    if sim.state.status[task] != WAITING:
        return False
    plan = sim.timeline(task, [node])
    return bool(plan.feasible[0]) and float(plan.finish[0]) == finish


__all__ = ["WindowPlanner"]
