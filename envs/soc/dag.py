"""Task-graph algebra shared by the env (upward-rank feature) and the baselines: a DAG with
its cost matrix and platform bandwidths, mean costs, topological order and HEFT/CPOP ranks.

``comp`` (n, P) are execution times (``np.inf`` where a processor cannot run the task),
``edges`` (m, 2) task pairs and ``volume`` (m,) data volumes. Moving ``v`` units from processor
p to q takes ``v / bandwidth[p, q]``, zero when ``p == q`` (Topcuoglu et al., TPDS 2002, with
startup cost L = 0).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np


def inverse_bandwidth(bandwidth: np.ndarray) -> np.ndarray:
    """1 / bandwidth with zeros on the diagonal: multiply by a volume to get a transfer time."""
    inv = 1.0 / np.asarray(bandwidth, dtype=np.float64)
    np.fill_diagonal(inv, 0.0)
    return inv


def mean_inverse_bandwidth(bandwidth: np.ndarray) -> float:
    """Mean transfer time per unit of volume over ordered processor pairs ``p != q`` (0 with
    a single processor): multiply by a volume to get HEFT's mean communication cost c̄."""
    p = len(bandwidth)
    return float(inverse_bandwidth(bandwidth).sum() / (p * (p - 1))) if p > 1 else 0.0


@dataclass
class Dag:
    """A task graph with its costs on a platform.

    Attributes:
        comp: Execution time of each task on each processor, ``inf`` if impossible.  # (n, P)
        edges: Precedence pairs ``(src, dst)``.  # (m, 2)
        volume: Data volume sent along each edge.  # (m,)
        bandwidth: Transfer rate between processors; the diagonal is ignored.  # (P, P)
    """

    comp: np.ndarray
    edges: np.ndarray
    volume: np.ndarray
    bandwidth: np.ndarray
    succ: list[list[tuple[int, int]]] = field(init=False, repr=False)
    pred: list[list[tuple[int, int]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.comp = np.asarray(self.comp, dtype=np.float64)
        self.edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        self.volume = np.asarray(self.volume, dtype=np.float64).reshape(-1)
        self.bandwidth = np.asarray(self.bandwidth, dtype=np.float64)
        n = self.comp.shape[0]
        self.succ = [[] for _ in range(n)]
        self.pred = [[] for _ in range(n)]
        for k, (s, d) in enumerate(self.edges.tolist()):
            self.succ[s].append((d, k))
            self.pred[d].append((s, k))

    @property
    def n(self) -> int:
        return self.comp.shape[0]

    @property
    def n_proc(self) -> int:
        return self.comp.shape[1]

    def inv_bandwidth(self) -> np.ndarray:
        """:func:`inverse_bandwidth` of this graph's platform."""
        return inverse_bandwidth(self.bandwidth)


def mean_costs(dag: Dag) -> tuple[np.ndarray, np.ndarray]:
    """Mean execution time of each task over the processors that can run it, and mean
    communication cost of each edge over ordered processor pairs ``p != q`` (HEFT's w̄ and c̄)."""
    finite = np.isfinite(dag.comp)
    w_bar = np.where(finite, dag.comp, 0.0).sum(1) / np.maximum(finite.sum(1), 1)
    return w_bar, dag.volume * mean_inverse_bandwidth(dag.bandwidth)


def topological_order(dag: Dag) -> list[int]:
    """Kahn's algorithm, lowest index first among ties (deterministic)."""
    indeg = np.zeros(dag.n, np.int64)
    np.add.at(indeg, dag.edges[:, 1], 1)
    frontier = [i for i in range(dag.n) if indeg[i] == 0]
    order: list[int] = []
    while frontier:
        i = frontier.pop(0)
        order.append(i)
        for j, _ in dag.succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                bisect.insort(frontier, j)
    if len(order) != dag.n:
        raise ValueError("the task graph has a cycle")
    return order


def upward_rank(dag: Dag) -> np.ndarray:
    """rank_u(i) = w̄_i + max over successors j of (c̄_ij + rank_u(j)) (Topcuoglu eq. 3)."""
    w_bar, c_bar = mean_costs(dag)
    rank = np.zeros(dag.n)
    for i in reversed(topological_order(dag)):
        rank[i] = w_bar[i] + max((c_bar[k] + rank[j] for j, k in dag.succ[i]), default=0.0)
    return rank


def downward_rank(dag: Dag) -> np.ndarray:
    """rank_d(i) = max over predecessors j of (rank_d(j) + w̄_j + c̄_ji) (Topcuoglu eq. 5)."""
    w_bar, c_bar = mean_costs(dag)
    rank = np.zeros(dag.n)
    for i in topological_order(dag):
        rank[i] = max((rank[j] + w_bar[j] + c_bar[k] for j, k in dag.pred[i]), default=0.0)
    return rank
