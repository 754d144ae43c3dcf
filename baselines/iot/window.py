"""One decision window of ``schedgym/IoTPlacement-v0`` as a pure problem, for the window planners
(``aco``, ``cpsat``).

A :class:`Window` freezes, at an epoch, the batch of waiting tasks with everything a placement of
each on each node depends on, and the reservation state (core, link and memory) it starts from.
:func:`options` and :func:`commit` then apply the rules of :meth:`envs.iot.sim.IoTSim.timeline` and
:meth:`~envs.iot.sim.IoTSim.place` to many copies of that state at once (one per ant), with the
same floating-point operations in the same order, so the cost of a placement sequence computed
here is exactly what the env charges for it (tests check the equality bit for bit). Memory is only
taken within a window: the sim releases it at epochs, never while placing.

A task with no node that can take it at its turn (all out of memory) is *deferred*: it stays
waiting for the next epoch and costs nothing here; planners minimise deferrals first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schedgym.envs.iot.sim import IoTSim, Weights

DEFER = -1  # the "node" of a deferred task in a sequence


@dataclass(frozen=True)
class Window:
    """The batch of an epoch and the state its placements start from. ``n`` = tasks of the batch
    (in the planner's order), ``K`` nodes, ``C`` the most cores of a node, ``H`` the most channels
    of a route, ``L`` links.

    Route channels index a link-state row of ``2L + 2`` columns: the ``2L`` channels, then a
    column that stays ``-inf`` (read through route padding) and one that absorbs writes to it.
    """

    time: float  # s, the epoch
    tasks: np.ndarray  # (n,) int64 task ids
    device_row: np.ndarray  # (n,) int64 row of each task's device in the routes' arrays
    read_channels: np.ndarray  # (n, K, H) int64 link-state columns of each route (padding: 2L)
    write_channels: np.ndarray  # (n, K, H) int64 the same, padding to the dump column 2L + 1
    transfer: np.ndarray  # (n, K) float64 s, input_bits / bottleneck (0 on the own device)
    latency: np.ndarray  # (n, K) float64 s, one way (inf if unreachable)
    run: np.ndarray  # (n, K) float64 s, cycles / freq
    output: np.ndarray  # (n, K) float64 s, output_bits / bottleneck
    tx_power: np.ndarray  # (n,) float64 W of the task's device radio
    arrival: np.ndarray  # (n,) float64 s
    deadline: np.ndarray  # (n,) float64 s, relative to arrival
    memory: np.ndarray  # (n,) float64 MB
    runnable: np.ndarray  # (n, K) bool, nodes the task's device may use
    dynamic_power: np.ndarray  # (K,) float64 W per busy core
    memory_cap: np.ndarray  # (K,) float64 MB
    cores: np.ndarray  # (K,) int64
    core_free: np.ndarray  # (K, C) float64 s at the epoch (inf past a node's cores)
    link_free: np.ndarray  # (2L + 2,) float64 s at the epoch, then -inf and a dump column
    memory_used: np.ndarray  # (K,) float64 MB at the epoch
    weights: Weights

    @classmethod
    def from_sim(cls, sim: IoTSim, tasks: np.ndarray) -> "Window":
        """The window of waiting ``tasks`` (in this order) at the sim's current epoch."""
        inst, topo, routes, st = sim.instance, sim.topology, sim.routes, sim.state
        tasks = np.asarray(tasks, np.int64)
        rows = routes.device_row[inst.device[tasks]]
        channels = routes.links[rows]  # (n, K, H)
        sentinel = 2 * topo.num_links
        bottleneck = routes.bottleneck[rows]
        return cls(
            time=float(st.time), tasks=tasks, device_row=rows,
            read_channels=np.where(channels >= 0, channels, sentinel),
            write_channels=np.where(channels >= 0, channels, sentinel + 1),
            transfer=inst.input_bits[tasks][:, None] / bottleneck,
            latency=routes.latency[rows],
            run=inst.cycles[tasks][:, None] / topo.freq_hz[None, :],
            output=inst.output_bits[tasks][:, None] / bottleneck,
            tx_power=topo.tx_power_w[inst.device[tasks]],
            arrival=inst.arrival[tasks], deadline=inst.deadline_s[tasks],
            memory=inst.memory_mb[tasks],
            runnable=routes.runnable[rows],
            dynamic_power=(topo.p_max_w - topo.p_idle_w) / topo.cores,
            memory_cap=topo.memory_mb.astype(np.float64), cores=topo.cores.astype(np.int64),
            core_free=st.core_free.copy(),
            link_free=np.concatenate([st.link_free, [-np.inf, -np.inf]]),
            memory_used=st.memory_used.copy(), weights=sim.weights)

    @property
    def size(self) -> int:
        """Tasks in the batch."""
        return int(self.tasks.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.core_free.shape[0])

    def states(self, copies: int) -> "States":
        """``copies`` independent copies of the window's starting reservation state."""
        return States(np.repeat(self.core_free[None], copies, axis=0),
                      np.repeat(self.link_free[None], copies, axis=0),
                      np.repeat(self.memory_used[None], copies, axis=0))


@dataclass
class States:
    """``A`` copies of the reservation state, changed in place by :func:`commit`."""

    core_free: np.ndarray  # (A, K, C) float64 s
    link_free: np.ndarray  # (A, 2L + 2) float64 s
    memory_used: np.ndarray  # (A, K) float64 MB

    @property
    def copies(self) -> int:
        return int(self.core_free.shape[0])


@dataclass(frozen=True)
class Options:
    """What placing one task on each node would reserve, in each copy: (A, K) arrays."""

    transfer_start: np.ndarray
    core: np.ndarray  # int64, the core that frees first
    start: np.ndarray
    finish: np.ndarray
    back: np.ndarray  # s, the result back at the device
    response: np.ndarray
    energy: np.ndarray
    cost: np.ndarray  # the objective the env would charge
    feasible: np.ndarray  # bool


def options(window: Window, states: States, position: int) -> Options:
    """Placing the task at ``position`` of the batch on every node, in every copy of the state
    (the arithmetic of :meth:`IoTSim.timeline` and :meth:`IoTSim.cost`, term by term)."""
    w, p = window, position
    links_free = states.link_free[:, w.read_channels[p]].max(axis=2)  # (A, K)
    transfer_start = np.maximum(w.time, links_free)
    input_arrival = transfer_start + w.transfer[p] + w.latency[p]
    core = states.core_free.argmin(axis=2)
    core_free = np.take_along_axis(states.core_free, core[..., None], axis=2)[..., 0]
    start = np.maximum(input_arrival, core_free)
    finish = start + w.run[p]
    back = finish + w.latency[p] + w.output[p]
    response = back - w.arrival[p]
    energy = w.dynamic_power * (finish - start) + w.tx_power[p] * w.transfer[p]
    weights = w.weights
    cost = (weights.response * response + weights.miss * (response > w.deadline[p])
            + weights.energy * energy)
    feasible = w.runnable[p] & (states.memory_used + w.memory[p] <= w.memory_cap)
    return Options(transfer_start, core, start, finish, back, response, energy, cost, feasible)


def commit(window: Window, states: States, position: int, choice: Options,
           nodes: np.ndarray) -> np.ndarray:
    """Places the task at ``position`` on ``nodes[a]`` in copy ``a`` (``DEFER``: not placed),
    reserving what ``choice`` says; returns the cost charged in each copy, (A,) (0 if deferred)."""
    copies = np.flatnonzero(nodes >= 0)
    node = nodes[copies]
    core = choice.core[copies, node]
    states.core_free[copies, node, core] = choice.finish[copies, node]
    released = choice.transfer_start[copies, node] + window.transfer[position, node]
    states.link_free[copies[:, None], window.write_channels[position, node]] = released[:, None]
    states.memory_used[copies, node] += window.memory[position]
    charged = np.zeros(states.copies)
    charged[copies] = choice.cost[copies, node]
    return charged


@dataclass(frozen=True)
class Evaluation:
    """A placement sequence of a window evaluated with the env's rules."""

    cost: float  # Σ of the charges, in placement order (the env's objective increment)
    deferred: int  # tasks left waiting (no node could take them at their turn)
    charges: np.ndarray  # (n,) float64 per placement, in sequence order
    finish: np.ndarray  # (n,) float64 s, run end per placement (nan if deferred)

    def key(self) -> tuple[int, float]:
        """Planners compare sequences by (deferrals, cost)."""
        return self.deferred, self.cost


def evaluate(window: Window, sequence: list[tuple[int, int]]) -> Evaluation:
    """Evaluates ``sequence``, a list of (batch position, node) in placement order; a node that
    cannot take its task at its turn (or ``DEFER``) defers the task.

    Raises:
        ValueError: If a position is out of range or repeated.
    """
    positions = [p for p, _ in sequence]
    if len(set(positions)) != len(positions) or any(not 0 <= p < window.size for p in positions):
        raise ValueError(f"sequence positions must be distinct batch positions in "
                         f"[0, {window.size}), got {positions}")
    states = window.states(1)
    total, deferred = 0.0, 0
    charges, finish = np.zeros(len(sequence)), np.full(len(sequence), np.nan)
    for step, (position, node) in enumerate(sequence):
        choice = options(window, states, position)
        if node == DEFER or not choice.feasible[0, node]:
            deferred += 1
            continue
        charges[step] = commit(window, states, position, choice, np.array([node]))[0]
        finish[step] = choice.finish[0, node]
        total += float(charges[step])
    return Evaluation(total, deferred, charges, finish)


def earliest_response(choice: Options, copy: int = 0) -> int:
    """The feasible node with the earliest result back, then the least energy, then the lowest
    index (the rule of :func:`baselines.iot.common.earliest_response`); ``DEFER`` if none."""
    candidates = np.flatnonzero(choice.feasible[copy])
    if not len(candidates):
        return DEFER
    order = np.lexsort((candidates, choice.energy[copy, candidates],
                        choice.response[copy, candidates]))
    return int(candidates[order[0]])


def greedy_sequence(window: Window, positions: np.ndarray | None = None) -> list[tuple[int, int]]:
    """The batch in ``positions`` order (default: batch order), each task to the node with the
    earliest result back given the placements before it (the ``greedy`` / ``edf`` rule)."""
    states = window.states(1)
    sequence = []
    for position in (range(window.size) if positions is None else positions):
        choice = options(window, states, int(position))
        node = earliest_response(choice)
        commit(window, states, int(position), choice, np.array([node]))
        sequence.append((int(position), node))
    return sequence


def edf_positions(window: Window) -> np.ndarray:
    """Batch positions by absolute deadline, ties by task id (the ``edf`` baseline's order)."""
    return np.lexsort((window.tasks, window.arrival + window.deadline))


__all__ = ["DEFER", "Window", "States", "Options", "Evaluation", "options", "commit", "evaluate",
           "earliest_response", "greedy_sequence", "edf_positions"]
