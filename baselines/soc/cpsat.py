"""``cpsat``: an exact planner for static SoC instances, replayed in the env.

At reset it solves the instance's jobs with the CP-SAT model of the lower bound
(:mod:`baselines.soc.bound_model`) on the *mean* latencies, the only times a scheduler sees, and
keeps each PE's tasks in the planned start order. It then commits a ready task as soon as it is
the next one of its PE's plan, and waits otherwise. Such a replay never starts a task later than
planned: a task is committed once its inputs are computed and its PE's previous task is
committed, both no later than its planned start, and the env starts a committed task when its PE
is free and its inputs have arrived. So without noise the episode's objective is at most the
plan's, and equal to the optimum when CP-SAT proves the plan optimal. The env's FIFO queues
without insertion do not restrict it: the plan's order is the queue order.

Static mode and ``pe_selection="pointer"`` only (a stream's future jobs are not known at reset,
and with ``"eft"`` the env picks the PE). If the task window is too small for the whole plan and
the replay would stall, it commits the first ready task to its planned PE out of order.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.baselines.base import SolverReport
from schedgym.baselines.soc.bound_model import BoundJob, solve, topological_order
from schedgym.envs.soc.dag import inverse_bandwidth


class CpSatScheduler:
    """Plans a static instance with CP-SAT on mean latencies and replays the plan.

    Args:
        deterministic_time: CP-SAT budget in deterministic seconds (one worker), > 0.
    """

    name = "cpsat"

    def __init__(self, deterministic_time: float = 10.0) -> None:
        if not (isinstance(deterministic_time, (int, float)) and deterministic_time > 0):
            raise ValueError(f"deterministic_time must be > 0, got {deterministic_time!r}")
        self.deterministic_time = float(deterministic_time)
        self.report = SolverReport()
        self._pe: list[np.ndarray] = []
        self._queues: list[list[tuple[int, int]]] = []

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        u = env.unwrapped
        if u.mode != "static" or u.pe_selection != "pointer":
            raise ValueError(f"cpsat plans static instances with pe_selection='pointer'; this env "
                             f"has mode={u.mode!r}, pe_selection={u.pe_selection!r}")
        platform = u.platform
        jobs = [BoundJob(job.cost[:, platform.pe_kind], np.asarray(job.edges).reshape(-1, 2),
                         np.asarray(job.volume, float).reshape(-1), float(arrival))
                for job, arrival in zip(u.jobs(), u.sim.arrival.tolist())]
        result = solve(jobs, inverse_bandwidth(platform.bandwidth), self.deterministic_time)
        if result.status == "unknown":
            raise RuntimeError(f"cpsat found no plan within {self.deterministic_time} "
                               "deterministic s; raise deterministic_time")
        self._pe = result.pe
        topo = [{t: r for r, t in enumerate(topological_order(len(j.duration), j.edges))}
                for j in jobs]
        tasks = sorted(((result.start[j][i], j, topo[j][i], i) for j in range(len(jobs))
                        for i in range(len(jobs[j].duration))))
        self._queues = [[] for _ in range(platform.n_pe)]
        for _, j, _, i in tasks:
            self._queues[int(result.pe[j][i])].append((j, i))
        n = len(jobs)
        self.report = SolverReport(
            status=result.status, budget=self.deterministic_time,
            budget_unit="CP-SAT deterministic s", budget_used=result.deterministic_time,
            wall_seconds=result.wall_s, objective=result.value / n, bound=result.bound / n)

    def act(self, env: gym.Env) -> int:
        u = env.unwrapped
        s = u.state
        if s.phase == 1:
            slot = s.selected_slot
            return u.pe_node(int(self._pe[s.task_job[slot]][s.task_index[slot]]))
        ready = u.ready_slots()
        for slot in ready.tolist():
            j, i = int(s.task_job[slot]), int(s.task_index[slot])
            queue = self._queues[int(self._pe[j][i])]
            if queue and queue[0] == (j, i):
                queue.pop(0)
                return u.task_node(slot)
        if len(ready) and not u.has_pending_events():
            # Waiting cannot help any more (e.g. a job of the plan is outside the window).
            slot = int(ready[0])
            j, i = int(s.task_job[slot]), int(s.task_index[slot])
            self._queues[int(self._pe[j][i])].remove((j, i))
            return u.task_node(slot)
        return u.WAIT_NODE


__all__ = ["CpSatScheduler"]
