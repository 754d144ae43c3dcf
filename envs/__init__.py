"""SchedGym's environment registry: one table of env ids, one comment each with its default
configuration.

Importing ``schedgym.envs`` (or ``schedgym``) registers the ids with Gymnasium, so
``gym.make("schedgym/<Name>-vN")`` works. Every env has a key (``vm``, ``soc``, ...) that names
its folder in every layer: ``envs/<key>/``, ``baselines/<key>/``, ``data/<key>/``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from gymnasium.envs.registration import register, registry


@dataclass(frozen=True)
class EnvEntry:
    """One registered env.

    Attributes:
        key: The env's folder name in every layer (``envs/<key>/``, ``baselines/<key>/``, ...).
        entry_point: ``"module:Class"`` of the env, imported only when the env is made.
        instance_type: ``"module:Class"`` of its instances (``arrays()`` / ``from_arrays()``).
        instance_sets: ``"module:attribute"``, the recipes of its fixed instance sets.
    """

    key: str
    entry_point: str
    instance_type: str
    instance_sets: str


ENVS: dict[str, EnvEntry] = {
    # VM rescheduling (VMR2L): size="medium" (280 PMs, about 1,500 VMs), MNL 50, FR granularity 16,
    # instances from the Google-2011-calibrated generator, version 2 (point masses, preempting
    # churn; trace_dir= for real traces, request_tables= for tables fitted to one).
    "schedgym/VMReschedule-v2": EnvEntry(
        "vm", "schedgym.envs.vm.env:VMRescheduleEnv", "schedgym.envs.vm.types:VMInstance",
        "schedgym.envs.vm.generator:INSTANCE_SETS"),
    # The same env with generator version 1 (about 1,800 VMs at medium), kept so that v1 results
    # and policies replay; its fixed sets are v1-small-test, ... (the same observation as v2).
    "schedgym/VMReschedule-v1": EnvEntry(
        "vm", "schedgym.envs.vm.env:VMRescheduleV1Env", "schedgym.envs.vm.types:VMInstance",
        "schedgym.envs.vm.generator:INSTANCE_SETS"),
    # SoC DAG scheduling (DS3/DeepSoCS): 16-PE DS3 SoC, streaming 40 jobs of the 6 DS3 apps at
    # 20 jobs/ms, no noise, 128 task slots, two-step (task, PE) pointer decisions.
    "schedgym/SoCDAG-v0": EnvEntry(
        "soc", "schedgym.envs.soc.env:SoCDAGEnv", "schedgym.envs.soc.types:SoCInstance",
        "schedgym.envs.soc.generator:INSTANCE_SETS"),
    # LLM request batching (vLLM, Sarathi-Serve, ...): one replica, Llama-2-7B on an A100-80GB,
    # batch cap 128, 4,096 tokens per iteration, 64 queue slots, the conversation workload at 3 req/s.
    "schedgym/LLMServe-v0": EnvEntry(
        "llm", "schedgym.envs.llm.env:LLMServeEnv", "schedgym.envs.llm.types:LLMInstance",
        "schedgym.envs.llm.generator:INSTANCE_SETS"),
    # IoT task placement (our formulation after arXiv 2508.04334): 8 Raspberry Pi devices, 2 edge
    # servers, 1 fog node, 1 cloud in a tree; 400 tasks at 30 tasks/s per device; 10 ms epochs.
    "schedgym/IoTPlacement-v0": EnvEntry(
        "iot", "schedgym.envs.iot.env:IoTPlacementEnv", "schedgym.envs.iot.types:IoTInstance",
        "schedgym.envs.iot.generator:INSTANCE_SETS"),
    # LLM request routing (Vidur's global schedulers, Llumnix's dispatch): 4 replicas of the
    # LLMServe-v0 replica, each run by vLLM's FCFS, the conversation workload at 3 req/s per
    # replica (12 req/s), 1,600 requests; one routing decision per arrival.
    "schedgym/LLMCluster-v0": EnvEntry(
        "llm_cluster", "schedgym.envs.llm.cluster_env:LLMClusterEnv",
        "schedgym.envs.llm.types:LLMInstance", "schedgym.envs.llm.generator:CLUSTER_INSTANCE_SETS"),
}
ENV_IDS: tuple[str, ...] = tuple(ENVS)

for _env_id, _entry in ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry.entry_point)


def entry(env_id: str) -> EnvEntry:
    """The table entry of ``env_id``; ``KeyError`` names the known ids."""
    if env_id not in ENVS:
        raise KeyError(f"unknown env {env_id!r}; SchedGym registers {', '.join(ENV_IDS)}")
    return ENVS[env_id]


def env_key(env_id: str) -> str:
    """The key (``vm``, ``soc``, ...) of ``env_id``."""
    return entry(env_id).key


def key_of(env_class: type) -> str:
    """The key of a registered env class."""
    reference = f"{env_class.__module__}:{env_class.__qualname__}"
    for item in ENVS.values():
        if item.entry_point == reference:
            return item.key
    raise KeyError(f"{reference} is not a registered SchedGym env")


def load_reference(reference: str) -> Any:
    """Imports and returns the object named by ``"module:attribute"`` (the table's references)."""
    module_name, attribute = reference.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def env_class(env_id: str) -> type:
    """The env class registered as ``env_id`` (for its class-level data: instance sets, metrics)."""
    return load_reference(entry(env_id).entry_point)
