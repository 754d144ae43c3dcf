"""MAX–MIN Ant System over each decision window of ``schedgym/IoTPlacement-v0``.

The formulation of ``../shared/reference/iot_edge.md`` ("Ant colony optimisation for task → node
assignment": textbook Ant System with the MAX–MIN bounds of Stützle & Hoos, 2000), applied, as in
the online variants it cites, to the batch of waiting tasks of every epoch:

- **Construction.** Each ant takes the batch's tasks in a fixed order (EDF, as the reference
  says, or arrival) and puts task i on node j with probability ∝ τ[d(i), j]^α · η[i, j]^β over
  the nodes that can take it, where d(i) is the task's device and η = 1 / ECT: the time from the
  epoch until the task's result is back at its device, computed inside the ant's own partial
  schedule (its link, core and memory reservations so far, by the env's rules,
  :mod:`baselines.iot.window`). A task no node can take (memory) is deferred to the next epoch.
- **Fitness** L: the env's own objective for the window (response, deadline-miss and energy
  terms with the env's weights), exactly what the env charges when the assignment is placed;
  fewer deferrals come first.
- **Update** after each iteration: τ ← (1 − ρ) τ, then Q / L on each (device, node) pair of the
  iteration-best (or best-so-far) assignment, then τ clamped to [τ_min, τ_max] with
  τ_max = Q / (ρ L_best) (the reference's 1 / (ρ L_best) at Q = 1) and τ_min = τ_max / (2n),
  n the nodes the device may use; L_best is the best-so-far fitness of the window.
- **Online memory.** Pheromone is kept per (source device, node), so it carries over from window
  to window (reset each episode, τ = τ_max everywhere at first, as MMAS starts). Since the
  bounds depend on the window's L_best, it is carried in units of τ_max; only the rows of the
  devices in a window evaporate and are clamped there.

Parameters default to the reference's typical values: α = 1, β = 2, ρ = 0.1, Q = 1, 20 ants
(of 10–50) and 50 iterations (of 20–100). The budget is in ant tours (ants × iterations per
window), so a plan is a function of the state, the parameters and the seed.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from schedgym.baselines.base import SolverReport
from schedgym.baselines.iot.planner import WindowPlanner
from schedgym.baselines.iot.window import DEFER, Window, commit, edf_positions, options
from schedgym.envs.validation import check_choice, check_float, check_int

ORDERS = ("edf", "arrival")
DEPOSITS = ("iteration_best", "best_so_far")
_TINY = 1e-12  # floor of a fitness, so Q / L stays finite when every weight is 0


class ACOScheduler(WindowPlanner):
    """MAX–MIN Ant System per decision window (module docstring), replayed placement by placement.

    Args:
        ants: Ants per iteration, in [1, 10^4].
        iterations: Iterations per window, in [1, 10^5].
        alpha: Pheromone exponent α, in [0, 100].
        beta: Heuristic exponent β, in [0, 100].
        rho: Evaporation rate ρ, in (0, 1].
        q: Deposit constant Q, in (0, 10^6].
        deposit: ``"iteration_best"`` (MMAS's default) or ``"best_so_far"``.
        order: The order ants take tasks in: ``"edf"`` (absolute deadline, ties by arrival) or
            ``"arrival"``.
        seed: Seed of the ants' generator; ``reset(env, seed)`` overrides it.

    Attributes:
        report: The last window's :class:`SolverReport` (status ``"feasible"``; ``objective`` the
            best fitness; budget in ant tours).
        curve: Best-so-far fitness after each iteration of the last window.
        curves: Every window's curve since the last reset.

    Raises:
        ValueError: If an argument is out of range (naming it).
    """

    name = "aco"
    budget_unit = "ant tours"

    def __init__(self, ants: int = 20, iterations: int = 50, alpha: float = 1.0, beta: float = 2.0,
                 rho: float = 0.1, q: float = 1.0, deposit: str = "iteration_best",
                 order: str = "edf", seed: int = 0) -> None:
        super().__init__()
        self.ants = check_int("ants", ants, low=1, high=10_000)
        self.iterations = check_int("iterations", iterations, low=1, high=100_000)
        self.alpha = check_float("alpha", alpha, low=0.0, high=100.0)
        self.beta = check_float("beta", beta, low=0.0, high=100.0)
        self.rho = check_float("rho", rho, low=0.0, low_open=True, high=1.0)
        self.q = check_float("q", q, low=0.0, low_open=True, high=1e6)
        self.deposit = check_choice("deposit", deposit, DEPOSITS)
        self.order = check_choice("order", order, ORDERS)
        self.seed = check_int("seed", seed)
        self.curve: list[float] = []
        self.curves: list[list[float]] = []
        self._rng = np.random.default_rng(self.seed)
        self._tau: np.ndarray | None = None  # (D, K) pheromone in units of τ_max

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._rng = np.random.default_rng(self.seed if seed is None else seed)
        routes = env.unwrapped.sim.routes
        self._tau = np.ones(routes.runnable.shape)
        self._choices = routes.runnable.sum(axis=1)  # n of τ_min, per device row
        self.curve, self.curves = [], []

    @property
    def pheromone(self) -> np.ndarray | None:
        """A copy of the pheromone per (device row, node), in units of each window's τ_max."""
        return None if self._tau is None else self._tau.copy()

    def prior(self, window: Window) -> np.ndarray | None:
        """A factor on each (task, node) transition weight of the window, (n, K), or None (plain
        MMAS). Subclasses use it to bias the ants (``policies.rl_aco``)."""
        return None

    def plan(self, window: Window) -> tuple[list[tuple[int, int]], SolverReport]:
        positions = edf_positions(window) if self.order == "edf" else np.arange(window.size)
        prior = self.prior(window)
        rows = np.unique(window.device_row)
        tau = self._tau  # rows of this window are in units of τ_max until the first bounds
        best_nodes, best_key = None, (np.inf, np.inf)
        curve: list[float] = []
        tau_max = 1.0
        for iteration in range(self.iterations):
            nodes, cost, deferred = self._construct(window, positions, tau, prior)
            ant = int(np.lexsort((cost, deferred))[0])
            if (deferred[ant], cost[ant]) < best_key:
                best_key, best_nodes = (int(deferred[ant]), float(cost[ant])), nodes[ant].copy()
            new_max = self.q / (self.rho * max(best_key[1], _TINY))
            if iteration == 0:
                tau[rows] *= new_max  # from units of τ_max to pheromone
            tau_max = new_max
            if self.deposit == "iteration_best":
                deposit_nodes, deposit_cost = nodes[ant], float(cost[ant])
            else:
                deposit_nodes, deposit_cost = best_nodes, best_key[1]
            tau[rows] *= 1.0 - self.rho
            placed = deposit_nodes >= 0
            np.add.at(tau, (window.device_row[positions][placed], deposit_nodes[placed]),
                      self.q / max(deposit_cost, _TINY))
            tau_min = tau_max / (2.0 * self._choices[rows])
            tau[rows] = np.clip(tau[rows], tau_min[:, None], tau_max)
            curve.append(best_key[1])
        tau[rows] /= tau_max  # back to units of τ_max for the next window
        self.curve = curve
        self.curves.append(curve)
        tours = self.ants * self.iterations
        report = SolverReport(
            status="feasible", budget=tours, budget_unit=self.budget_unit, budget_used=tours,
            objective=best_key[1],
            extra={"tasks": window.size, "deferred": best_key[0], "time": window.time})
        return [(int(p), int(j)) for p, j in zip(positions, best_nodes)], report

    def _construct(self, window: Window, positions: np.ndarray, tau: np.ndarray,
                   prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One tour of every ant: its nodes in ``positions`` order (``DEFER`` where none could
        take the task), (ants, n); its fitness and its deferrals, (ants,)."""
        states = window.states(self.ants)
        nodes = np.full((self.ants, window.size), DEFER, np.int64)
        cost = np.zeros(self.ants)
        for step, position in enumerate(positions):
            choice = options(window, states, int(position))
            eta = 1.0 / (choice.back - window.time)
            weight = tau[window.device_row[position]] ** self.alpha * eta ** self.beta
            if prior is not None:
                biased = weight * prior[position]
                # Where the prior rules out every node the ant could still use, fall back to MMAS.
                open_ = (choice.feasible & (biased > 0)).any(axis=1, keepdims=True)
                weight = np.where(open_, biased, weight)
            weight = np.where(choice.feasible, weight, 0.0)
            cumulative = np.cumsum(weight, axis=1)
            total = cumulative[:, -1]
            draw = self._rng.random(self.ants) * total
            picked = np.where(total > 0, np.argmax(cumulative > draw[:, None], axis=1), DEFER)
            nodes[:, step] = picked
            cost += commit(window, states, int(position), choice, picked)
        return nodes, cost, (nodes == DEFER).sum(axis=1)


__all__ = ["ACOScheduler", "ORDERS", "DEPOSITS"]
