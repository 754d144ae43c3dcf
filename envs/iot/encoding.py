"""The observation encoder of the IoT env, a public class so that an external simulator (e.g.
LEAF's ``Orchestrator._processing_task_placement``) can build the same observation from a
topology, its node states and the waiting tasks, and run an exported policy on it.

Layout: node 0 HOLD, nodes ``1 .. max_nodes`` the compute nodes (topology order), then
``window`` task slots. Edges: link ``l`` of the topology in slots ``2l`` (src→dst) and
``2l + 1`` (dst→src), then one edge per shown task, task → its device.
"""

from __future__ import annotations

import numpy as np

from schedgym.envs.graph import GraphSpec
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import QOS_CLASSES, TIER_NAMES, Topology

NODE_FEATURES = (
    ("is_hold",) + tuple(f"is_{tier}" for tier in TIER_NAMES) + ("is_task",)
    # compute nodes
    + ("cores", "freq_ghz", "memory_free", "queue_wait", "next_core_wait", "utilization", "idle_kw",
       "dynamic_w_per_core", "candidate", "response_if_placed", "energy_if_placed")
    # tasks
    + ("input_kbit", "cycles_e8", "memory_e2mb", "output_kbit", "deadline", "slack", "waited")
    + tuple(f"qos_{k}" for k in range(QOS_CLASSES)) + ("local_run", "selected")
)
EDGE_FEATURES = ("latency", "log_bandwidth", "backlog", "is_task_edge")
GLOBAL_FEATURES = ("phase", "waiting", "hidden_waiting", "next_arrival", "resolved_fraction",
                   "decision_interval")
_F = {name: i for i, name in enumerate(NODE_FEATURES)}
CLIP = 10.0  # ratios (slack, response / deadline, waits) are clipped to ±10


class Encoder:
    """Writes the observation of an :class:`envs.iot.sim.IoTSim` into fixed buffers.

    Args:
        max_nodes: Compute-node slots.
        max_links: Link slots (each link takes two edge slots).
        window: Task slots.
        time_scale: Seconds per unit of the time features.
    """

    def __init__(self, max_nodes: int, max_links: int, window: int, time_scale: float) -> None:
        self.max_nodes, self.max_links, self.window, self.time_scale = max_nodes, max_links, window, time_scale
        self.node0 = 1
        self.task0 = 1 + max_nodes
        self.spec = GraphSpec(1 + max_nodes + window, 2 * max_links + window, NODE_FEATURES, EDGE_FEATURES,
                              GLOBAL_FEATURES)
        self._k = 0
        self._links = 0

    def start(self, obs: dict[str, np.ndarray], topology: Topology) -> None:
        """Writes what a topology fixes for a whole episode: node types and capacities, links."""
        k, n_links = topology.num_nodes, topology.num_links
        self._k, self._links = k, n_links
        nodes = obs["nodes"]
        nodes[:] = 0.0
        nodes[0, _F["is_hold"]] = 1.0
        rows = self.node0 + np.arange(k)
        nodes[rows, _F["is_device"] + topology.tier] = 1.0
        nodes[rows, _F["cores"]] = topology.cores / 16.0
        nodes[rows, _F["freq_ghz"]] = topology.freq_hz / 1e9
        nodes[rows, _F["idle_kw"]] = topology.p_idle_w / 1000.0
        nodes[rows, _F["dynamic_w_per_core"]] = (topology.p_max_w - topology.p_idle_w) / topology.cores / 100.0
        obs["edge_index"][:] = 0
        obs["edge_attr"][:] = 0.0
        obs["edge_mask"][:] = 0
        slots = 2 * np.arange(n_links)
        obs["edge_index"][0, slots], obs["edge_index"][1, slots] = self.node0 + topology.link_src, \
            self.node0 + topology.link_dst
        obs["edge_index"][0, slots + 1], obs["edge_index"][1, slots + 1] = self.node0 + topology.link_dst, \
            self.node0 + topology.link_src
        for column, values in ((0, topology.link_latency_s / self.time_scale),
                               (1, np.log10(topology.link_bandwidth_bps) / 10.0)):
            obs["edge_attr"][slots, column] = obs["edge_attr"][slots + 1, column] = values
        obs["edge_mask"][:2 * n_links] = 1
        obs["node_mask"][:] = 0
        obs["node_mask"][:self.node0 + k] = 1

    def encode(self, obs: dict[str, np.ndarray], sim: IoTSim, shown: np.ndarray) -> None:
        """Writes the current state: node loads, the shown tasks, their edges, mask, globals."""
        st, inst, topo = sim.state, sim.instance, sim.topology
        nodes, mask, now, scale = obs["nodes"], obs["action_mask"], st.time, self.time_scale
        rows = self.node0 + np.arange(self._k)
        wait = np.maximum(st.core_free - now, 0.0)
        real = np.isfinite(st.core_free)
        nodes[rows, _F["memory_free"]] = 1.0 - st.memory_used / topo.memory_mb
        nodes[rows, _F["queue_wait"]] = np.minimum(np.where(real, wait, 0.0).sum(1) / topo.cores / scale, CLIP)
        nodes[rows, _F["next_core_wait"]] = np.minimum(wait.min(1) / scale, CLIP)
        nodes[rows, _F["utilization"]] = np.minimum(st.busy_core_s / (topo.cores * max(now, 1e-9)), CLIP)
        link_backlog = np.maximum(st.link_free - now, 0.0) / scale
        obs["edge_attr"][:2 * self._links, 2] = np.minimum(link_backlog, CLIP)
        self._encode_tasks(obs, sim, shown)
        mask[:] = 0
        mask[0] = 1
        selected = st.selected
        candidate = _F["candidate"]
        nodes[rows, candidate:candidate + 3] = 0.0
        if selected >= 0:
            plan = sim.timeline(selected)
            deadline = inst.deadline_s[selected]
            nodes[rows, candidate] = plan.feasible
            nodes[rows, _F["response_if_placed"]] = np.where(
                plan.feasible, np.minimum(plan.response / deadline, CLIP), 0.0)
            nodes[rows, _F["energy_if_placed"]] = np.where(plan.feasible, np.minimum(plan.energy_j, CLIP), 0.0)
            mask[rows] = plan.feasible
        elif len(shown):
            mask[self.task0:self.task0 + len(shown)] = sim.feasible(shown).any(axis=1)
        waiting = len(sim.waiting)
        next_arrival = (inst.arrival[st.arrived] - now) / scale if st.arrived < inst.num_tasks else CLIP
        obs["globals"][:] = (float(selected >= 0), waiting / self.window, max(waiting - self.window, 0) / self.window,
                             min(next_arrival, CLIP), sim._resolved / max(inst.num_tasks, 1),
                             sim.decision_interval / scale)

    def _encode_tasks(self, obs: dict[str, np.ndarray], sim: IoTSim, shown: np.ndarray) -> None:
        st, inst = sim.state, sim.instance
        nodes, now, scale = obs["nodes"], st.time, self.time_scale
        nodes[self.task0:, :] = 0.0
        n = len(shown)
        rows = self.task0 + np.arange(n)
        obs["node_mask"][self.task0:] = 0
        obs["node_mask"][rows] = 1
        nodes[rows, _F["is_task"]] = 1.0
        deadline = inst.deadline_s[shown]
        columns = {
            "input_kbit": inst.input_bits[shown] / 1e5,
            "cycles_e8": inst.cycles[shown] / 1e8,
            "memory_e2mb": inst.memory_mb[shown] / 100.0,
            "output_kbit": inst.output_bits[shown] / 1e5,
            "deadline": np.minimum(deadline / scale, CLIP),
            "slack": np.clip((inst.arrival[shown] + deadline - now) / deadline, -CLIP, CLIP),
            "waited": np.minimum((now - inst.arrival[shown]) / scale, CLIP),
            "local_run": np.minimum(sim._local_time[shown] / scale, CLIP),
            "selected": shown == st.selected,
        }
        for name, values in columns.items():
            nodes[rows, _F[name]] = values
        nodes[rows, _F["qos_0"] + inst.qos[shown]] = 1.0
        # Task → device edges after the link edges.
        first = 2 * self._links
        obs["edge_index"][:, first:] = 0
        obs["edge_attr"][first:] = 0.0
        obs["edge_mask"][first:] = 0
        obs["edge_index"][0, first:first + n] = rows
        obs["edge_index"][1, first:first + n] = self.node0 + inst.device[shown]
        obs["edge_attr"][first:first + n, 3] = 1.0
        obs["edge_mask"][first:first + n] = 1
