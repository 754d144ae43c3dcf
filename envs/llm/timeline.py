"""A timeline picture of one episode of ``schedgym/LLMServe-v0`` or ``schedgym/LLMCluster-v0``:
what the iterations processed over time (prefill vs decode tokens per second, summed over the
replicas), the KV cache each replica uses, and the CDFs of the time to first token (TTFT) and
the time between tokens (TBT) of the requests served so far.

The iterations come from the simulator's log (``LLMSim(record=True)``, which the envs turn on
with ``render_mode="rgb_array"``, running the numpy reference of the iterations, bit for bit
the compiled one); the latencies from the state. The envs' ``render()`` returns
:func:`render_timeline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from schedgym.envs.llm.types import DONE
from schedgym.envs.render import colour_table, figure_array, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from schedgym.envs.llm.sim import LLMSim

#: Time bins of the throughput panel (fewer if the episode ran fewer iterations).
TIME_BINS = 200
#: Artist ids (``gid``) of the CDF lines, for finding them in a drawn figure.
TTFT_GID, TBT_GID = "ttft", "tbt"
_PREFILL, _DECODE = "#fb8c00", "#1e88e5"


@dataclass(frozen=True)
class Timeline:
    """What the picture draws.

    Attributes:
        edges: Time bin edges, s, (B + 1,).
        prefill_rate, decode_rate: Prefill and decode tokens per second in each bin, summed
            over the replicas (an iteration counts in the bin of its end), (B,) each.
        kv_time: Per replica, the end of each of its iterations, s, (I_k,).
        kv_share: Per replica, the share of its KV blocks in use then, (I_k,).
        ttft: Time to first token of every request that has one, s, ascending.
        tbt: Every gap between two output tokens of a request, s, ascending.
    """

    edges: np.ndarray
    prefill_rate: np.ndarray
    decode_rate: np.ndarray
    kv_time: list[np.ndarray]
    kv_share: list[np.ndarray]
    ttft: np.ndarray
    tbt: np.ndarray


def _log(sim: "LLMSim") -> np.ndarray:
    """The sim's iteration log as an (I, 5) array.

    Raises:
        ValueError: If ``sim`` was made without ``record=True``.
    """
    if sim.iteration_log is None:
        raise ValueError("the LLM simulator logs its iterations only with record=True "
                         "(the envs: render_mode='rgb_array')")
    return np.asarray(sim.iteration_log, np.float64).reshape(-1, 5)


def timeline(sims: Sequence["LLMSim"], bins: int = TIME_BINS) -> Timeline:
    """The :class:`Timeline` of one replica or of a cluster's replicas (one workload)."""
    logs = [_log(sim) for sim in sims]
    log = np.concatenate(logs)
    start = float(sims[0].instance.arrival[0]) if sims[0].instance.num_requests else 0.0
    end = max([start + 1e-3, *(float(sim.state.time) for sim in sims)])
    edges = np.linspace(start, end, max(1, min(bins, len(log))) + 1)
    width = np.diff(edges)
    prefill = np.histogram(log[:, 1], edges, weights=log[:, 2])[0] / width
    decode = np.histogram(log[:, 1], edges, weights=log[:, 3])[0] / width
    ttft = []
    for sim in sims:
        first = sim.state.first_token
        served = np.flatnonzero(~np.isnan(first))
        ttft.append(first[served] - sim.instance.arrival[served])
    return Timeline(edges, prefill, decode, [part[:, 1] for part in logs],
                    [part[:, 4] / sim.capacity for part, sim in zip(logs, sims)],
                    np.sort(np.concatenate(ttft)),
                    np.sort(np.concatenate([sim.token_gaps() for sim in sims])))


def _cdf(axis, values: np.ndarray, gid: str, label: str) -> None:  # noqa: ANN001
    """An empirical CDF of ``values`` (ascending) on a log time axis, in ms."""
    shares = np.arange(1, len(values) + 1) / max(len(values), 1)
    axis.plot(values * 1e3, shares, drawstyle="steps-post", color="black", linewidth=1, gid=gid)
    if len(values) and values[0] > 0:
        from matplotlib.ticker import NullFormatter

        axis.set_xscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
    axis.set_xlabel(f"{label} (ms)")
    axis.set_ylabel("share")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.set_title(f"{label} CDF ({len(values)} {'requests' if gid == TTFT_GID else 'gaps'})",
                   fontsize=8, loc="left")


def draw_timeline(sims: Sequence["LLMSim"], title: str = "") -> "Figure":
    """The timeline figure of ``sims`` (see the module docstring)."""
    data = timeline(sims)
    figure = new_figure(10.0, 7.0)
    grid = figure.add_gridspec(3, 2, height_ratios=(1.2, 1.0, 1.1))
    tokens = figure.add_subplot(grid[0, :])
    kv = figure.add_subplot(grid[1, :], sharex=tokens)
    tokens.stairs(data.prefill_rate, data.edges, fill=True, color=_PREFILL, linewidth=0,
                  label="prefill")
    tokens.stairs(data.prefill_rate + data.decode_rate, data.edges,
                  baseline=data.prefill_rate, fill=True, color=_DECODE, linewidth=0,
                  label="decode")
    tokens.set_ylabel("tokens / s")
    replicas = "" if len(sims) == 1 else f", {len(sims)} replicas summed"
    tokens.set_title(f"tokens processed per second{replicas}", fontsize=8, loc="left")
    tokens.legend(fontsize=7, ncol=2, loc="lower right", bbox_to_anchor=(1.0, 0.98),
                  frameon=False)
    colours = colour_table(len(sims))
    for k, (times, shares) in enumerate(zip(data.kv_time, data.kv_share)):
        kv.plot(times, shares, drawstyle="steps-pre", linewidth=0.8, color=colours[k],
                label=f"replica {k}" if len(sims) > 1 else None)
    kv.set_ylim(0, 1.05)
    kv.set_ylabel("KV share used")
    kv.set_xlabel("time (s)")
    kv.set_xlim(data.edges[0], data.edges[-1])
    kv.set_title("KV cache blocks in use", fontsize=8, loc="left")
    if 1 < len(sims) <= 10:
        kv.legend(fontsize=7, ncol=len(sims), loc="lower right", bbox_to_anchor=(1.0, 0.98),
                  frameon=False)
    _cdf(figure.add_subplot(grid[2, 0]), data.ttft, TTFT_GID, "TTFT")
    _cdf(figure.add_subplot(grid[2, 1]), data.tbt, TBT_GID, "TBT")
    done = sum(int(np.count_nonzero(sim.state.status == DONE)) for sim in sims)
    figure.suptitle(title or (
        f"{sims[0].instance.name or 'LLM workload'} at {max(s.state.time for s in sims):.1f} s: "
        f"{done}/{sims[0].instance.num_requests} requests done, "
        f"{sum(s.iterations for s in sims)} iterations, "
        f"{sum(s.preemptions for s in sims)} preemptions"), fontsize=9)
    return figure


def render_timeline(sims: Sequence["LLMSim"], title: str = "") -> np.ndarray:
    """:func:`draw_timeline` as an (H, W, 3) uint8 image."""
    return figure_array(draw_timeline(sims, title))


__all__ = ["Timeline", "timeline", "draw_timeline", "render_timeline", "TIME_BINS", "TTFT_GID",
           "TBT_GID"]
