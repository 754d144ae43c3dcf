"""An occupancy picture of one episode of ``schedgym/VMReschedule-v2``: CPU and memory of every
NUMA node (PM by PM, two nodes each), at the initial placement and now.

The CPU panels split each NUMA node's cores into used, free in whole ``granularity``-core
slices, and the fragment (free cores mod g, VMR2L's fragment rate counts them), so the
fragment rate can be read off as the red area over the red and green areas. The NUMA nodes a
migrated VM left and the ones it sits on now are marked. Everything comes from the state
(:class:`envs.vm.types.VMState` keeps the instance's initial placement), so the env records
nothing for it; its ``render()`` returns :func:`render_occupancy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from schedgym.envs.render import figure_array, new_figure
from schedgym.envs.vm.sim import allocation, fragment_rate
from schedgym.envs.vm.types import BOTH_NUMA, VMState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Artist ids (``gid``) of the migration markers, for finding them in a drawn figure.
LEFT_GID, ARRIVED_GID = "left", "arrived"
_USED, _FREE, _FRAGMENT = "0.55", "#4caf50", "#e53935"


@dataclass(frozen=True)
class Occupancy:
    """Per-NUMA-node quantities, each (2P,) int64 in node order ``2 * pm + numa``.

    Attributes:
        cpu, mem: Cores and GiB of each NUMA node.
        cpu_before, mem_before: Allocated at the initial placement.
        cpu_now, mem_now: Allocated now.
        left: NUMA nodes a VM that is elsewhere now sat on initially (ascending, unique).
        arrived: NUMA nodes hosting a VM that sat elsewhere initially (ascending, unique).
    """

    cpu: np.ndarray
    mem: np.ndarray
    cpu_before: np.ndarray
    mem_before: np.ndarray
    cpu_now: np.ndarray
    mem_now: np.ndarray
    left: np.ndarray
    arrived: np.ndarray


def _numa_nodes(pm: np.ndarray, numa: np.ndarray) -> np.ndarray:
    """The NUMA nodes of VMs at (pm, numa): one each, both of the PM for double VMs."""
    double = numa == BOTH_NUMA
    nodes = [2 * pm[~double] + numa[~double], 2 * pm[double], 2 * pm[double] + 1]
    return np.unique(np.concatenate(nodes).astype(np.int64))


def occupancy(state: VMState) -> Occupancy:
    """The :class:`Occupancy` of ``state`` against its instance's initial placement."""
    inst = state.instance
    before = allocation(inst, inst.vm_pm, inst.vm_numa)
    now = allocation(inst, state.vm_pm, state.vm_numa)
    moved = (state.vm_pm != inst.vm_pm) | (state.vm_numa != inst.vm_numa)
    return Occupancy(
        inst.numa_cpu.reshape(-1).astype(np.int64), inst.numa_mem.reshape(-1).astype(np.int64),
        before[0].reshape(-1), before[1].reshape(-1), now[0].reshape(-1), now[1].reshape(-1),
        _numa_nodes(inst.vm_pm[moved], inst.vm_numa[moved]),
        _numa_nodes(state.vm_pm[moved], state.vm_numa[moved]))


def draw_occupancy(state: VMState, title: str = "") -> "Figure":
    """The occupancy figure of ``state`` (see the module docstring)."""
    from matplotlib.patches import Patch

    occ, g = occupancy(state), state.granularity
    edges = np.arange(len(occ.cpu) + 1) - 0.5
    figure = new_figure(10.0, 6.0)
    cpu_before, cpu_now, memory = figure.subplots(3, 1, sharex=True)
    for axis, used, when in ((cpu_before, occ.cpu_before, "initial placement"),
                             (cpu_now, occ.cpu_now, "now")):
        free = occ.cpu - used
        fragment = free % g
        # Stacked: used from 0, the whole g-slices above it, the fragment on top.
        for low, high, colour in ((0, used, _USED), (used, occ.cpu - fragment, _FREE),
                                  (occ.cpu - fragment, occ.cpu, _FRAGMENT)):
            axis.stairs(high, edges, baseline=low, fill=True, color=colour, linewidth=0)
        axis.set_ylabel("cores")
        axis.set_title(f"CPU per NUMA node, {when}: fragment rate "
                       f"{fragment_rate(free, g):.4f}", fontsize=8, loc="left")
        axis.set_ylim(0, float(occ.cpu.max(initial=1)) * 1.15)
    top = float(occ.cpu.max(initial=1)) * 1.1
    cpu_before.plot(occ.left, np.full(len(occ.left), top), "v", color="black", markersize=3,
                    linestyle="none", gid=LEFT_GID)
    cpu_now.plot(occ.arrived, np.full(len(occ.arrived), top), "^", color="black",
                 markersize=3, linestyle="none", gid=ARRIVED_GID)
    memory.stairs(occ.mem_now, edges, fill=True, color="#1e88e5", alpha=0.6, linewidth=0,
                  label="now")
    memory.stairs(occ.mem_before, edges, color="black", linewidth=0.6, label="initial")
    memory.stairs(occ.mem, edges, color="0.7", linewidth=0.6, label="capacity")
    memory.set_ylabel("GiB")
    memory.set_title("memory per NUMA node", fontsize=8, loc="left")
    memory.legend(fontsize=7, ncol=3, loc="lower right", bbox_to_anchor=(1.0, 0.98),
                  frameon=False)
    memory.set_xlabel("NUMA node (2 × PM + NUMA)")
    memory.set_xlim(edges[0], edges[-1])
    cpu_before.legend(handles=[Patch(color=_USED, label="used"),
                               Patch(color=_FREE, label=f"free, whole {g}-core slices"),
                               Patch(color=_FRAGMENT, label=f"fragment (free mod {g})")],
                      fontsize=7, ncol=3, loc="lower right", bbox_to_anchor=(1.0, 0.98),
                      frameon=False)
    figure.suptitle(title or (
        f"{state.instance.name or 'VM cluster'}: {state.migrations} migrations; "
        f"▼ a migrated VM left, ▲ it sits now"), fontsize=9)
    return figure


def render_occupancy(state: VMState, title: str = "") -> np.ndarray:
    """:func:`draw_occupancy` as an (H, W, 3) uint8 image."""
    return figure_array(draw_occupancy(state, title))


__all__ = ["Occupancy", "occupancy", "draw_occupancy", "render_occupancy", "LEFT_GID",
           "ARRIVED_GID"]
