"""A Gantt picture of one episode of ``schedgym/SoCDAG-v0``: a row per processing element
(PE), a bar per finished task from its realised start to its finish, coloured by its job, and
the tasks committed but not finished yet as hatched bars at their expected times.

The finished runs come from the simulator's record (``SoCSim(record=True)``, which the env
turns on with ``render_mode="rgb_array"``): task slots are reused once a job completes, so the
state alone forgets them. The env's ``render()`` returns :func:`render_gantt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from schedgym.envs.render import colour_table, figure_array, new_figure
from schedgym.envs.soc.types import QUEUED, RUNNING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from schedgym.envs.soc.sim import SoCSim

#: Artist ids (``gid``) of the two bar groups, for finding them in a drawn figure.
FINISHED_GID, PENDING_GID = "finished", "pending"


@dataclass(frozen=True)
class SoCBars:
    """What the picture draws, one entry per bar. Times in µs.

    Attributes:
        job: Job index of each bar.
        pe: PE it ran (or is queued) on.
        start: Realised start (finished), or the expected / realised start (pending).
        finish: Realised finish (finished), or the expected finish (pending).
    """

    job: np.ndarray  # (B,) int64
    pe: np.ndarray  # (B,) int64
    start: np.ndarray  # (B,) float64
    finish: np.ndarray  # (B,) float64


def finished_bars(sim: "SoCSim") -> SoCBars:
    """The finished tasks' runs, in finish order.

    Raises:
        ValueError: If ``sim`` was made without ``record=True``.
    """
    if sim.runs is None:
        raise ValueError("the SoC simulator records its runs only with record=True "
                         "(the env: render_mode='rgb_array')")
    runs = np.asarray(sim.runs, np.float64).reshape(-1, 5)
    return SoCBars(runs[:, 0].astype(np.int64), runs[:, 2].astype(np.int64), runs[:, 3],
                   runs[:, 4])


def pending_bars(sim: "SoCSim") -> SoCBars:
    """The tasks queued or running now, at the state's expected times."""
    st = sim.state
    slots = np.flatnonzero(st.task_valid & np.isin(st.task_status, (QUEUED, RUNNING)))
    return SoCBars(st.task_job[slots], st.task_pe[slots], st.task_start[slots],
                   st.task_finish[slots])


def draw_gantt(sim: "SoCSim", title: str = "") -> "Figure":
    """The Gantt figure of ``sim``'s episode so far (see the module docstring)."""
    from matplotlib.patches import Patch

    done, pending = finished_bars(sim), pending_bars(sim)
    platform, n_pe = sim.platform, sim.platform.n_pe
    colours = colour_table(max(len(sim.jobs), 1))
    figure = new_figure(10.0, 1.6 + 0.22 * n_pe)
    axis = figure.add_subplot()
    for bars, gid, style in ((done, FINISHED_GID, {}),
                             (pending, PENDING_GID, {"hatch": "///", "alpha": 0.45})):
        axis.barh(bars.pe, bars.finish - bars.start, left=bars.start, height=0.8, gid=gid,
                  color=[colours[j % len(colours)] for j in bars.job.tolist()],
                  edgecolor="white", linewidth=0.3, **style)
    arrived = sim.arrival[sim.arrival <= sim.state.time]
    axis.plot(arrived, np.full(len(arrived), -0.9), "|", color="0.3", markersize=6)
    axis.set_yticks(np.arange(n_pe))
    axis.set_yticklabels([f"PE {p} {platform.kind_names[k]}"
                          for p, k in enumerate(platform.pe_kind.tolist())], fontsize=7)
    axis.set_ylim(-1.4, n_pe - 0.4)
    axis.invert_yaxis()
    end = max(float(sim.state.time), float(np.max(pending.finish, initial=0.0)), 1.0)
    axis.set_xlim(0.0, end * 1.01)
    axis.set_xlabel("time (µs); bars: tasks coloured by job, hatched: queued or running; "
                    "ticks at the top: job arrivals")
    axis.legend(handles=[Patch(color="0.6", label="finished"),
                         Patch(facecolor="0.6", alpha=0.45, hatch="///", label="queued/running")],
                fontsize=7, loc="lower right", frameon=False)
    metrics = sim.metrics()
    axis.set_title(title or (
        f"{platform.name}: {metrics['jobs_completed']}/{len(sim.jobs)} jobs done at "
        f"{sim.state.time:.0f} µs, mean job duration {metrics['avg_job_duration']:.1f} µs"),
        fontsize=9)
    return figure


def render_gantt(sim: "SoCSim", title: str = "") -> np.ndarray:
    """:func:`draw_gantt` as an (H, W, 3) uint8 image."""
    return figure_array(draw_gantt(sim, title))


__all__ = ["SoCBars", "finished_bars", "pending_bars", "draw_gantt", "render_gantt",
           "FINISHED_GID", "PENDING_GID"]
