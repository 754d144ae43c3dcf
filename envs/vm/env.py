"""``schedgym/VMReschedule-v2`` (and ``-v1``): VM rescheduling to reduce CPU fragmentation
(VMR2L)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from schedgym.envs.graph import NOOP_NODE, GraphEnv, GraphSpec
from schedgym.envs.validation import (ArgumentError, check_choice, check_directory, check_file,
                                      check_float, check_int)
from schedgym.envs.vm import generator, trace
from schedgym.envs.vm.generator import SIZES, SizePreset
from schedgym.envs.vm.requests import RequestTables, RequestTablesError
from schedgym.envs.vm.sim import BestMoves, fragment_rate, initial_state, migrate
from schedgym.envs.vm.types import BOTH_NUMA, VMInstance, VMState


NODE_FEATURES = (
    "is_stop", "is_vm", "is_numa", "is_pm",
    "cpu",  # VM: cores requested; NUMA/PM: free cores (÷ NUMA_CPU_SCALE, PM ÷ 2×)
    "mem",  # VM: GiB requested; NUMA/PM: free GiB (÷ NUMA_MEM_SCALE, PM ÷ 2×)
    "fragment",  # VM: its cores per NUMA mod g; NUMA/PM: free cores mod g (÷ g, PM ÷ 2g)
    "cpu_capacity", "mem_capacity",  # NUMA/PM capacity, scaled as cpu/mem
    "double", "anti_affinity",  # VM kind and its job's different-machines restriction
    "movable",  # VM has at least one legal destination
    "selected",  # VM chosen by the first half of the current migration
    "leave_gain",  # VM: change of Σ free mod g (÷ g) if it left its place; negative is good
    "best_move_gain",  # VM: lowest change of Σ free mod g (÷ g) over its legal migrations; 0 if none
    "move_gain",  # NUMA/PM in phase 1: change of Σ free mod g (÷ g) if the selected VM moved here
)
EDGE_FEATURES = ("placement", "numa_of_pm", "reverse")
GLOBAL_FEATURES = ("phase", "migrations_used", "fragment_rate", "initial_fragment_rate", "cpu_allocation")
_F = {name: i for i, name in enumerate(NODE_FEATURES)}

NUMA_CPU_SCALE = generator.CORES_PER_UNIT / 2  # cores of the largest NUMA node
NUMA_MEM_SCALE = generator.GIB_PER_UNIT / 2
STOP_NODE = NOOP_NODE
#: Upper bound of ``granularity``: cores of the largest NUMA node (above it every free core is
#: a fragment, so FR is 1 whatever the placement).
MAX_GRANULARITY = int(NUMA_CPU_SCALE)
#: Upper bound of ``trace_time_s``: the loader counts trace time in int64 microseconds.
MAX_TRACE_TIME_S = float(2**63 // 10**6)


class VMRescheduleEnv(GraphEnv):
    """Migrate VMs between NUMA nodes of a cluster to reduce CPU fragmentation (VMR2L).

    ## Description
    A cluster of physical machines (PMs), each with 2 NUMA nodes of CPU cores and memory, hosts
    VMs. A VM sits on one NUMA node, or, if it is "double" (at least ``double_numa_min_cpu``
    cores), half on each NUMA node of its PM. The headline metric is VMR2L's fragment rate
    FR = Σ_pm Σ_numa (free_cpu mod g) / Σ free_cpu: the share of free CPU that cannot host a
    g-core-per-NUMA VM (g = ``granularity``, 16 by default). A migration moves one VM; the agent
    makes at most ``mnl`` of them (the migration number limit) or stops early.
    Semantics from Ding et al., "Towards VM Rescheduling Optimization Through Deep Reinforcement
    Learning", EuroSys 2025.

    ## Action Space
    ``Discrete(N_MAX)`` pointers; one migration is two steps. The stop node 0 is legal in every
    state and ends the episode (in phase 1 it drops the chosen VM). Phase 0: a VM node, the VM
    to migrate. Phase 1: its destination, a NUMA node for a single VM or a
    PM node for a double VM. The mask allows only destinations other than the VM's current place
    with enough CPU and memory on the NUMA node(s) the VM would occupy, holding no other VM of its
    job if that job has the different-machines (anti-affinity) restriction; a VM with no such
    destination is masked in phase 0. Illegal actions raise ``ValueError``.

    ## Observation Space
    The padded graph of ``envs.graph`` with node layout: 0 stop; 1..max_vms VMs; then 2 NUMA
    nodes per PM slot; then one node per PM slot. N_MAX = 1 + max_vms + 3 × num_pms,
    E_MAX = 4 × max_vms + 4 × num_pms. Edges (both directions, ``reverse`` flags the second):
    VM–NUMA placement (a double VM has one to each NUMA node of its PM) and NUMA–PM membership,
    so co-located VMs are two hops apart. Node features are ``NODE_FEATURES``; ``globals`` are
    ``GLOBAL_FEATURES`` (phase, migrations used ÷ mnl, FR, initial FR, CPU allocation).

    ## Rewards
    On each destination step: FR before − FR after − ``migration_cost``; 0 on other steps. The
    return is therefore FR₀ − FR_final − cost × migrations.

    ## Starting State
    An instance from ``options["instance"]`` (a ``VMInstance``, e.g. from a fixed test set), else
    a fresh one: from the trace snapshot when ``trace_dir`` is set, from the calibrated churn
    generator otherwise (``envs.vm.generator``, version :attr:`generator_version`), drawn with
    ``self.np_random``.

    ## Episode End
    Terminated when the stop node is chosen or after ``mnl`` migrations; never truncated.
    ``info`` always carries ``fragment_rate``, ``initial_fragment_rate``, ``fr_reduction``
    (relative) and ``migrations``.

    ## Arguments
    Each is validated here, so a bad one fails at ``gym.make`` with an
    :class:`~schedgym.envs.validation.ArgumentError` (a ``ValueError``; a ``TypeError`` too for
    a wrong type) naming it, its value and what is allowed.

    size: ``"small"`` (10 PMs), ``"medium"`` (280 PMs, VMR2L's Medium) or ``"large"`` (1,200).
    mnl: Migration number limit, an integer >= 1; default from the size (10, 50, 50).
    granularity: g of the fragment rate, an integer number of cores in [1, 64]
        (``MAX_GRANULARITY``, the largest NUMA node).
    migration_cost: Subtracted from the reward per migration, in [0, 1].
    trace_dir: Google cluster-data 2011 directory (``machine_events/``, ``task_events/``);
        instances are then ``generator_config["num_pms"]`` machines (default the size's) sampled
        from the snapshot at ``trace_time_s``. Read here, so a malformed trace fails at make.
    trace_time_s: Snapshot time in trace seconds, >= 0 (only with ``trace_dir``); default the
        end of the task events read.
    generator_config: A ``envs.vm.generator.GeneratorConfig`` or a mapping of some of its fields
        (``generator.make_config`` has the bounds: ``num_pms`` and ``max_vms`` at most the
        size's, probabilities in [0, 1], ...). With ``trace_dir`` only ``num_pms``, ``max_vms``
        and ``double_numa_min_cpu`` apply, and the others are refused.
    request_tables: Path of a JSON file of request tables (``envs.vm.requests.RequestTables``,
        e.g. written by ``python -m schedgym.envs.vm.calibrate TRACE_DIR --out tables.json``)
        that replace the generator's default (the published Google 2011 figures). Read and
        validated here: a bad file fails at make naming the file, the field and the value.
        Not with ``trace_dir`` (instances then come from the trace itself).
    render_mode: ``None`` (default) or ``"rgb_array"``: ``render()`` then returns the CPU and
        memory of every NUMA node, initially and now, migrated VMs marked (``envs.vm.occupancy``,
        drawn from the state).

    ## Version History
    v2: instance generator version 2 (``envs.vm.generator``): CPU and memory requests with the
        published Google 2011 point masses (the ten most frequent values of each), the copula
        recalibrated to Pearson ~0.49 in placed VMs, and churn that preempts rather than drops
        an arrival that fits nowhere, so placed instances keep the ~3% of double-NUMA VMs;
        target CPU allocation 0.87 (initial FR ~0.56 at medium, 0.60 on medium-test); the
        ``request_tables`` argument. The observation, actions, rewards and dynamics are those
        of v1: on a given instance an episode is the same in both, so v1 policies run on v2
        instances (only the generated instances differ; the ONNX runtime still checks the env
        id, so the shipped v1 policies load with the v1 id). v1 stays registered (``VMRescheduleV1Env``, generator version 1,
        bit for bit): its fixed sets are ``v1-small-test`` etc.
    v1: VM feature ``best_move_gain`` and destination feature ``move_gain`` (the fragment change
        of single migrations, which the policy otherwise has to infer from free cores mod g).
        Later ``render_mode="rgb_array"`` (an occupancy picture), which changes no episode.
    v0: initial version (removed; policies trained on it do not fit v1's observation).

    ## What baselines may read
    - ``state`` (:class:`schedgym.envs.vm.types.VMState`): placement, free capacity, legality,
      ``migrations`` used and ``granularity``; pass it to the pure functions of
      :mod:`schedgym.envs.vm.sim` (``fragment_change``, ``destination_of``, ``fragment_rate``).
    - ``mnl`` (int): the migration limit of the episode.
    - ``vm_node(vm) -> int`` and ``destination_node(destination) -> int``: the pointer actions
      of VM ``vm`` and of destination ``destination`` (a NUMA node ``2 * pm + numa``, or
      ``2 * num_pms + pm`` for a double VM's PM).
    - ``action_masks() -> np.ndarray`` (bool, (N_MAX,)): the legal actions now.
    """

    #: Version of the instance generator (``envs.vm.generator.GENERATOR_VERSIONS``).
    generator_version = 2
    leaderboard_metrics = ("initial_fragment_rate", "fragment_rate", "fr_reduction", "migrations")
    known_dynamics = True
    #: Leaderboard metric -> the per-instance column that bounds it from below
    #: (:meth:`instance_bounds`).
    bound_columns = {"fragment_rate": "fr_lower_bound"}

    def __init__(
        self,
        size: str = "medium",
        mnl: int | None = None,
        granularity: int = 16,
        migration_cost: float = 0.0,
        trace_dir: str | Path | None = None,
        trace_time_s: float | None = None,
        generator_config: generator.GeneratorConfig | dict[str, Any] | None = None,
        request_tables: str | Path | None = None,
        render_mode: str | None = None,
    ) -> None:
        self._init_render(render_mode)
        self.size = check_choice("size", size, SIZES)
        self.preset = SIZES[self.size]
        self.mnl = self.preset.mnl if mnl is None else check_int("mnl", mnl, low=1)
        self.granularity = check_int("granularity", granularity, low=1, high=MAX_GRANULARITY,
                                     why="cores of the largest NUMA node")
        self.migration_cost = check_float("migration_cost", migration_cost, low=0.0, high=1.0,
                                          why="a cost above 1 outweighs any change of FR")
        self.trace_dir = None if trace_dir is None else check_directory("trace_dir", trace_dir)
        self.trace_time_s = self._check_trace_time(trace_time_s)
        self.generator_config = generator.make_config(self.preset, generator_config,
                                                      trace=self.trace_dir is not None,
                                                      version=self.generator_version)
        self.request_tables = self._load_request_tables(request_tables)
        self._snapshot = None
        if self.trace_dir is not None:
            self._snapshot = trace.load_trace_snapshot(self.trace_dir, self.trace_time_s)

        max_vms, num_pms = self.preset.max_vms, self.preset.num_pms
        self._vm0 = 1  # node of VM 0
        self._numa0 = 1 + max_vms  # node of NUMA node 0 of PM 0
        self._pm0 = self._numa0 + 2 * num_pms  # node of PM 0
        self._init_spaces(
            GraphSpec(
                n_max=self._pm0 + num_pms,
                e_max=4 * max_vms + 4 * num_pms,
                node_features=NODE_FEATURES,
                edge_features=EDGE_FEATURES,
                global_features=GLOBAL_FEATURES,
            ),
            sized_by={"size": self.size},
        )
        self.state: VMState | None = None

    # ------------------------------------------------------------------------------ Gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        instance = (options or {}).get("instance")
        if instance is None:
            instance = self._sample_instance()
        elif not isinstance(instance, VMInstance):
            raise ValueError(f"options['instance'] must be a VMInstance, got {type(instance).__name__}")
        self._check_fits(instance)
        self.state = initial_state(instance, self.granularity)
        self._fragment_rate = self.state.initial_fragment_rate  # kept current: read by info and globals
        self._moves = BestMoves(self.state)
        self._encode_all()
        return self.observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        node = self._check_action(action)
        state, reward, terminated = self.state, 0.0, False
        if node == STOP_NODE:
            terminated = True
        elif state.selected_vm < 0:
            self._select(node - self._vm0)
        else:
            vm, before = state.selected_vm, self._fragment_rate
            src_pm, dst_pm = migrate(state, vm, self._node_destination(node))
            self._fragment_rate = fragment_rate(state.free_cpu, self.granularity)
            reward = before - self._fragment_rate - self.migration_cost
            state.selected_vm = -1
            self._obs["nodes"][self._vm0 + vm, _F["selected"]] = 0.0
            self._write_destinations(self._obs["nodes"][:, _F["move_gain"]], 0.0)
            self._moves.refresh(src_pm, dst_pm)
            self._encode_hosts(np.unique([src_pm, dst_pm]))
            self._encode_placement(np.array([vm]))
            self._encode_vm_dynamics()
            terminated = state.migrations >= self.mnl
            self._mask_vms()
        self._encode_globals()
        return self.observation(), float(reward), terminated, False, self._info()

    def _render_frame(self) -> np.ndarray:
        """The occupancy picture (:func:`envs.vm.occupancy.render_occupancy`)."""
        if self.state is None:
            raise RuntimeError("call reset() before render()")
        from schedgym.envs.vm.occupancy import render_occupancy

        return render_occupancy(self.state)

    # ------------------------------------------------------------------------------ helpers

    def _check_trace_time(self, trace_time_s: Any) -> float | None:
        if trace_time_s is None:
            return None
        if self.trace_dir is None:
            raise ArgumentError(f"trace_time_s needs trace_dir (a trace to take the snapshot "
                                f"from), got trace_time_s={trace_time_s!r} and trace_dir=None")
        return check_float("trace_time_s", trace_time_s, low=0.0, high=MAX_TRACE_TIME_S,
                           why="trace seconds; times are int64 microseconds")

    def _load_request_tables(self, path: Any) -> RequestTables | None:
        if path is None:
            return None
        if self.trace_dir is not None:
            raise ArgumentError(f"request_tables has no effect with trace_dir (instances drawn "
                                f"from a trace keep its requests), got request_tables={path!r}")
        given, path = path, check_file("request_tables", path)
        try:
            return RequestTables.load(path)
        except RequestTablesError as error:
            raise ArgumentError(f"request_tables={given!r} holds no valid request tables: "
                                f"{error}") from None

    def _sample_instance(self) -> VMInstance:
        config = self.generator_config
        if self._snapshot is not None:
            return trace.instance_from_snapshot(self._snapshot, self.np_random, config.num_pms,
                                                config.max_vms, config.double_numa_min_cpu)
        return generator.sample_instance(self.np_random, config, version=self.generator_version,
                                         tables=self.request_tables)

    def _check_fits(self, instance: VMInstance) -> None:
        if instance.num_pms > self.preset.num_pms or instance.num_vms > self.preset.max_vms:
            raise ValueError(
                f"instance {instance.name!r} has {instance.num_pms} PMs and {instance.num_vms} VMs; "
                f"size {self.size!r} holds at most {self.preset.num_pms} PMs and "
                f"{self.preset.max_vms} VMs: choose a larger size"
            )

    def _info(self) -> dict[str, Any]:
        state = self.state
        current, initial = self._fragment_rate, state.initial_fragment_rate
        return {
            "fragment_rate": current,
            "initial_fragment_rate": initial,
            "fr_reduction": (initial - current) / initial if initial > 0 else 0.0,
            "migrations": state.migrations,
            "phase": int(state.selected_vm >= 0),
        }

    def instance_bounds(self, instance: VMInstance) -> dict[str, float]:
        """Proven lower bounds of ``instance``'s leaderboard metrics under this env's ``mnl`` and
        ``granularity`` (the columns of ``bound_columns``): the least fragment rate any plan of
        at most ``mnl`` migrations can reach, by :func:`schedgym.baselines.vm.bound.fr_lower_bound`
        (imported here: the bound is a baseline, which the env does not otherwise need)."""
        from schedgym.baselines.vm.bound import fr_lower_bound

        return {"fr_lower_bound": fr_lower_bound(instance, self.granularity, self.mnl)}

    def vm_node(self, vm: int) -> int:
        """The node (pointer action) of VM ``vm``."""
        return self._vm0 + vm

    def destination_node(self, destination: int) -> int:
        """The node (pointer action) of destination index ``destination`` (see ``VMState``)."""
        return int(self._destination_nodes()[destination])

    def _destination_nodes(self) -> np.ndarray:
        """Node index of every destination of the current instance, shape (3P,)."""
        num_pms = self.state.instance.num_pms
        return np.concatenate([self._numa0 + np.arange(2 * num_pms), self._pm0 + np.arange(num_pms)])

    def _write_destinations(self, column: np.ndarray, values: np.ndarray | float) -> None:
        """Writes per-destination ``values`` (3P,) or a scalar into a node-indexed ``column``:
        the NUMA nodes and the PMs are two contiguous node ranges (slices, not fancy indexing,
        on the hot path)."""
        num_pms = self.state.instance.num_pms
        values = np.broadcast_to(values, (3 * num_pms,))
        column[self._numa0 : self._numa0 + 2 * num_pms] = values[: 2 * num_pms]
        column[self._pm0 : self._pm0 + num_pms] = values[2 * num_pms :]

    def _node_destination(self, node: int) -> int:
        """Inverse of :meth:`_destination_nodes` for a legal destination node."""
        if node >= self._pm0:
            return 2 * self.state.instance.num_pms + node - self._pm0
        return node - self._numa0

    # ------------------------------------------------------------------ observation encoding

    def _encode_all(self) -> None:
        """Writes every observation buffer for a freshly reset state."""
        inst, obs = self.state.instance, self._obs
        for buffer in obs.values():
            buffer[...] = 0
        num_vms, num_pms = inst.num_vms, inst.num_pms
        nodes = obs["nodes"]
        nodes[STOP_NODE, _F["is_stop"]] = 1.0
        vms = slice(self._vm0, self._vm0 + num_vms)
        nodes[vms, _F["is_vm"]] = 1.0
        nodes[vms, _F["cpu"]] = inst.vm_cpu / NUMA_CPU_SCALE
        nodes[vms, _F["mem"]] = inst.vm_mem / NUMA_MEM_SCALE
        nodes[vms, _F["fragment"]] = (inst.cpu_per_numa % self.granularity) / self.granularity
        nodes[vms, _F["double"]] = inst.vm_double
        nodes[vms, _F["anti_affinity"]] = inst.vm_anti_affinity
        numas = slice(self._numa0, self._numa0 + 2 * num_pms)
        pms = slice(self._pm0, self._pm0 + num_pms)
        nodes[numas, _F["is_numa"]] = 1.0
        nodes[numas, _F["cpu_capacity"]] = inst.numa_cpu.reshape(-1) / NUMA_CPU_SCALE
        nodes[numas, _F["mem_capacity"]] = inst.numa_mem.reshape(-1) / NUMA_MEM_SCALE
        nodes[pms, _F["is_pm"]] = 1.0
        nodes[pms, _F["cpu_capacity"]] = inst.numa_cpu.sum(1) / (2 * NUMA_CPU_SCALE)
        nodes[pms, _F["mem_capacity"]] = inst.numa_mem.sum(1) / (2 * NUMA_MEM_SCALE)
        obs["node_mask"][: self._vm0 + num_vms] = 1
        obs["node_mask"][numas] = 1
        obs["node_mask"][pms] = 1
        self._encode_hosts(np.arange(num_pms))
        self._encode_vm_dynamics()
        # NUMA–PM membership edges sit after the 4 placement slots of every VM slot.
        first = 4 * self.preset.max_vms
        pm = np.arange(num_pms)
        numa_nodes = self._numa0 + 2 * pm[:, None] + np.arange(2)[None, :]  # (P, 2)
        pm_nodes = np.repeat((self._pm0 + pm)[:, None], 2, axis=1)
        src = np.stack([numa_nodes, pm_nodes], axis=2).reshape(-1)  # numa→pm, pm→numa, ...
        dst = np.stack([pm_nodes, numa_nodes], axis=2).reshape(-1)
        slots = slice(first, first + 4 * num_pms)
        obs["edge_index"][0, slots], obs["edge_index"][1, slots] = src, dst
        obs["edge_attr"][slots, 1] = 1.0
        obs["edge_attr"][slots, 2] = np.tile([0.0, 1.0], 2 * num_pms)
        obs["edge_mask"][slots] = 1
        self._encode_placement(np.arange(num_vms))
        self._encode_globals()
        self._mask_vms()

    def _select(self, vm: int) -> None:
        """First half of a migration: marks ``vm``, masks and scores its destinations."""
        self.state.selected_vm = vm
        self._obs["nodes"][self._vm0 + vm, _F["selected"]] = 1.0
        self._mask_destinations(vm)
        change = self._moves.changes_of(vm)
        gain = np.where(np.isfinite(change), change, 0.0) / self.granularity
        self._write_destinations(self._obs["nodes"][:, _F["move_gain"]], gain)

    def _encode_hosts(self, pms: np.ndarray) -> None:
        """Refreshes the free-capacity features of the given PMs and their NUMA nodes."""
        state, g, nodes = self.state, self.granularity, self._obs["nodes"]
        free_cpu, free_mem = state.free_cpu[pms], state.free_mem[pms]  # (k, 2)
        numa_rows = (self._numa0 + 2 * pms[:, None] + np.arange(2)[None, :]).reshape(-1)
        nodes[numa_rows, _F["cpu"]] = free_cpu.reshape(-1) / NUMA_CPU_SCALE
        nodes[numa_rows, _F["mem"]] = free_mem.reshape(-1) / NUMA_MEM_SCALE
        nodes[numa_rows, _F["fragment"]] = (free_cpu.reshape(-1) % g) / g
        pm_rows = self._pm0 + pms
        nodes[pm_rows, _F["cpu"]] = free_cpu.sum(1) / (2 * NUMA_CPU_SCALE)
        nodes[pm_rows, _F["mem"]] = free_mem.sum(1) / (2 * NUMA_MEM_SCALE)
        nodes[pm_rows, _F["fragment"]] = (free_cpu % g).sum(1) / (2 * g)

    def _encode_vm_dynamics(self) -> None:
        """Refreshes every VM's ``movable`` flag, ``leave_gain`` and ``best_move_gain``."""
        state, nodes, g = self.state, self._obs["nodes"], self.granularity
        vms = slice(self._vm0, self._vm0 + state.instance.num_vms)
        nodes[vms, _F["movable"]] = state.num_destinations > 0
        nodes[vms, _F["leave_gain"]] = self._moves.leave / g
        best = self._moves.best_change()
        nodes[vms, _F["best_move_gain"]] = np.where(np.isfinite(best), best, 0.0) / g

    def _encode_placement(self, vms: np.ndarray) -> None:
        """Rewrites the 4 placement-edge slots of each VM in ``vms`` (a double VM uses all 4)."""
        state, obs = self.state, self._obs
        double = state.vm_numa[vms] == BOTH_NUMA
        numa_a = self._numa0 + 2 * state.vm_pm[vms] + np.where(double, 0, state.vm_numa[vms])
        numa_b = self._numa0 + 2 * state.vm_pm[vms] + 1
        vm_nodes = self._vm0 + vms
        slots = 4 * vms[:, None] + np.arange(4)[None, :]  # (k, 4)
        obs["edge_index"][0, slots] = np.stack([vm_nodes, numa_a, vm_nodes, numa_b], axis=1)
        obs["edge_index"][1, slots] = np.stack([numa_a, vm_nodes, numa_b, vm_nodes], axis=1)
        used = np.stack([np.ones_like(double), np.ones_like(double), double, double], axis=1)
        obs["edge_mask"][slots] = used
        obs["edge_index"][:, slots[~used]] = 0  # unused slots of single VMs are padding
        obs["edge_attr"][slots, 0] = used
        obs["edge_attr"][slots, 2] = np.array([0.0, 1.0, 0.0, 1.0])[None, :] * used

    def _encode_globals(self) -> None:
        state = self.state
        current = self._fragment_rate
        obs = self._obs["globals"]
        obs[:] = (
            float(state.selected_vm >= 0),
            state.migrations / self.mnl,
            current,
            state.initial_fragment_rate,
            1.0 - state.free_cpu.sum() / state.instance.numa_cpu.sum(),
        )

    def _mask_vms(self) -> None:
        """Phase 0: the stop node and every VM with a legal destination."""
        mask = self._obs["action_mask"]
        mask[:] = 0
        mask[STOP_NODE] = 1
        num_vms = self.state.instance.num_vms
        mask[self._vm0 : self._vm0 + num_vms] = self.state.num_destinations > 0

    def _mask_destinations(self, vm: int) -> None:
        """Phase 1: the stop node and the legal destinations of ``vm``."""
        mask = self._obs["action_mask"]
        mask[:] = 0
        mask[STOP_NODE] = 1
        self._write_destinations(mask, self.state.feasible[vm])


class VMRescheduleV1Env(VMRescheduleEnv):
    """``schedgym/VMReschedule-v1``: :class:`VMRescheduleEnv` with instance generator version 1
    (kept so that v1 results replay; see the version history there)."""

    generator_version = 1


__all__ = ["VMRescheduleEnv", "VMRescheduleV1Env", "SIZES", "SizePreset", "NODE_FEATURES",
           "EDGE_FEATURES", "GLOBAL_FEATURES"]
