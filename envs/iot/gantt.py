"""A Gantt picture of one episode of ``schedgym/IoTPlacement-v0``: a band per compute node
(split into lanes, at most one per core), a bar per task run from its start to its finish,
coloured by the device that generated it, and each offloaded task's input transfer as a thin
bar on its destination's band.

    python -m schedgym.envs.iot.gantt --instances small-tree-medium --index 0 --policy greedy \\
        --out gantt.png [--seed 0] [--until 1.0]

``--policy`` takes what ``evaluate.py --policies`` takes (a baseline name, a policy file or
``pretrained:NAME``); rule baselines run on the headless path (:mod:`envs.iot.fastsim`), the
same episode as the env's. The image is written atomically (:mod:`schedgym.data.files`).
The env's ``render()`` (``render_mode="rgb_array"``) returns :func:`render_gantt`, the same
picture of the episode so far.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from schedgym.data.files import atomic_path
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import PLACED, TIER_NAMES
from schedgym.envs.render import colour_table, figure_array, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ENV_ID = "schedgym/IoTPlacement-v0"
#: Artist ids (``gid``) of the runs' and the transfers' bars, for finding them in a figure.
RUNS_GID, TRANSFERS_GID = "runs", "transfers"


@dataclass(frozen=True)
class GanttBars:
    """What the picture draws. Runs: one entry per placed task, (R,); transfers: one per task
    placed away from its device, (T,).

    The sim does not record which core ran a task, so lanes are recomputed: each node's runs,
    by start time, take the lowest lane free by then (interval partitioning), which needs no
    more lanes than the node has cores, since the sim never runs more tasks at once.
    """

    task: np.ndarray  # (R,) int64 task id
    node: np.ndarray  # (R,) int64 node it ran on
    lane: np.ndarray  # (R,) int64 lane within the node's band, < its cores
    start: np.ndarray  # (R,) float64 s
    finish: np.ndarray  # (R,) float64 s
    device: np.ndarray  # (R,) int64 the device that generated it (the colour)
    transfer_task: np.ndarray  # (T,) int64
    transfer_node: np.ndarray  # (T,) int64 destination node
    transfer_start: np.ndarray  # (T,) float64 s, the input starts on its route
    transfer_end: np.ndarray  # (T,) float64 s, the input has arrived (state.input_arrival)


def gantt_bars(sim: IoTSim) -> GanttBars:
    """The bars of the tasks placed so far in ``sim`` (:class:`GanttBars`)."""
    st, inst, routes = sim.state, sim.instance, sim.routes
    task = np.flatnonzero(st.status == PLACED)
    node, start, finish = st.node[task], st.start[task], st.finish[task]
    lane = np.zeros(len(task), np.int64)
    for k in np.unique(node):
        runs = np.flatnonzero(node == k)
        free: list[float] = []  # when each lane of node k frees
        for i in runs[np.lexsort((task[runs], start[runs]))]:
            spare = [j for j, t in enumerate(free) if t <= start[i]]
            lane[i] = spare[0] if spare else len(free)
            if spare:
                free[lane[i]] = finish[i]
            else:
                free.append(finish[i])
    device = inst.device[task]
    away = node != device
    row = routes.device_row[device[away]]
    # The flow holds its links for input / bottleneck, then the path latency brings it in.
    held = inst.input_bits[task[away]] / routes.bottleneck[row, node[away]]
    arrived = st.input_arrival[task[away]]
    return GanttBars(task, node, lane, start, finish, device, task[away], node[away],
                     arrived - routes.latency[row, node[away]] - held, arrived)


def draw_gantt(sim: IoTSim, title: str = "", until: float | None = None) -> "Figure":
    """The Gantt figure of ``sim``'s episode so far (up to time ``until``)."""
    from matplotlib.patches import Patch

    bars, topo = gantt_bars(sim), sim.topology
    # Bands bottom-up: each node gets its cores as lanes, with a gap between nodes.
    base = np.concatenate([[0], np.cumsum(topo.cores + 1)[:-1]]).astype(float)
    devices = list(topo.devices)
    colours = colour_table(len(devices))
    colour = {int(d): colours[i] for i, d in enumerate(devices)}
    figure = new_figure(11, 1.5 + 0.09 * float(base[-1] + topo.cores[-1]))
    axis = figure.add_subplot()
    for k in range(topo.num_nodes):
        axis.axhspan(base[k] - 0.5, base[k] + topo.cores[k] - 0.5, color="0.95", zorder=0)
    axis.barh(base[bars.node] + bars.lane, bars.finish - bars.start, left=bars.start, height=0.8,
              color=[colour[int(d)] for d in bars.device], edgecolor="none", zorder=2,
              gid=RUNS_GID)
    # Transfers in the gap below their node's band.
    axis.barh(base[bars.transfer_node] - 0.8, bars.transfer_end - bars.transfer_start,
              left=bars.transfer_start, height=0.25, zorder=3, gid=TRANSFERS_GID,
              color=[colour[int(d)] for d in sim.instance.device[bars.transfer_task]])
    axis.set_yticks(base + (topo.cores - 1) / 2)
    axis.set_yticklabels([f"{TIER_NAMES[t]} {k}" for k, t in enumerate(topo.tier)], fontsize=7)
    axis.set_xlabel("time (s); thick bars: runs, thin bars below a node: input transfers to it")
    end = max(float(bars.finish.max(initial=0.0)), 1e-3)
    axis.set_xlim(0.0, until if until is not None else end)
    if len(devices) <= 20:
        figure.legend(handles=[Patch(color=colour[int(d)], label=f"device {d}") for d in devices],
                      fontsize=7, ncol=min(len(devices), 10), loc="outside lower center",
                      frameon=False)
    axis.set_title(title, fontsize=9)
    return figure


def plot_gantt(sim: IoTSim, path: str | Path, title: str = "", until: float | None = None) -> None:
    """Saves the Gantt picture of ``sim``'s episode (up to time ``until``) as an image,
    atomically; the format follows ``path``'s suffix."""
    figure = draw_gantt(sim, title, until)
    with atomic_path(path) as temporary:  # keeps the suffix, which names the image format
        figure.savefig(temporary, dpi=120)


def render_gantt(sim: IoTSim) -> np.ndarray:
    """The Gantt picture of the episode so far as an (H, W, 3) uint8 image (the env's
    ``render()``), titled with the metrics so far."""
    metrics = sim.metrics()
    title = (f"{sim.instance.name or 'IoT episode'} at {sim.state.time:.3f} s: response "
             f"{metrics['response_time_mean'] * 1e3:.1f} ms mean, deadline hit "
             f"{metrics['deadline_hit_ratio']:.3f}, {metrics['tasks_dropped']} dropped")
    return figure_array(draw_gantt(sim, title))


def run_episode_sim(env_kwargs: dict[str, Any], instance: Any, scheduler: Any,
                    seed: int) -> IoTSim:
    """The finished simulator of ``scheduler``'s episode on ``instance`` (the leaderboard's
    ``run_episode``: headless for the rule baselines)."""
    from schedgym.policies.evaluation import run_episode

    env = gym.make(ENV_ID, **env_kwargs)
    run_episode(env, scheduler, instance, seed)
    return env.unwrapped.sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", required=True,
                        help="a fixed instance set, e.g. small-tree-medium")
    parser.add_argument("--index", type=int, default=0,
                        help="the instance within the set (default 0)")
    parser.add_argument("--policy", default="greedy",
                        help="what evaluate.py --policies takes (default greedy)")
    parser.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    parser.add_argument("--until", type=float, help="draw the time axis up to this many seconds")
    parser.add_argument("--out", type=Path, default=Path("gantt.png"),
                        help="image file (default gantt.png)")
    args = parser.parse_args(argv)
    from schedgym import envs  # noqa: F401  (registers the ids)
    from schedgym.policies import evaluation

    try:
        (instance_set,) = evaluation.load_instance_sets(ENV_ID, [args.instances])
        schedulers, _ = evaluation.build_schedulers(ENV_ID, [args.policy])
        if not 0 <= args.index < len(instance_set.instances):
            raise ValueError(f"--index must be in [0, {len(instance_set.instances)}) for "
                             f"{args.instances}, got {args.index}")
        if args.until is not None and not args.until > 0:
            raise ValueError(f"--until must be positive, got {args.until}")
    except ValueError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    instance = instance_set.instances[args.index]
    sim = run_episode_sim(instance_set.env_kwargs, instance, schedulers[args.policy](), args.seed)
    metrics = sim.metrics()
    title = (f"{instance.name or args.instances}: {args.policy}, seed {args.seed} — response "
             f"{metrics['response_time_mean'] * 1e3:.1f} ms mean, deadline hit "
             f"{metrics['deadline_hit_ratio']:.3f}, {metrics['tasks_dropped']} dropped")
    plot_gantt(sim, args.out, title, args.until)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
