"""Running a SchedGym workload through Vidur's simulator: one replica, SchedGym's cost model as the
execution-time predictor, and either a SchedGym scheduler (:func:`run_schedgym`) or one of Vidur's
own replica schedulers (:func:`run_native`); per-request results in SchedGym's terms."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from vidur.config import (BaseReplicaSchedulerConfig, CacheConfig, ClusterConfig,
                          FixedRequestLengthGeneratorConfig, MetricsConfig, ReplicaConfig,
                          RoundRobinGlobalSchedulerConfig, SarathiSchedulerConfig,
                          SimulationConfig, SyntheticRequestGeneratorConfig, VllmSchedulerConfig)
from vidur.entities import Batch, Replica, Request
from vidur.events import RequestArrivalEvent
from vidur.simulator import Simulator
from vidur.types import ReplicaId

from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.env import check_replica_arguments
from schedgym.envs.llm.fastsim import headless_driver
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.types import LLMInstance
from schedgym.envs.llm.vidur.predictor import CostModelPredictorConfig
from schedgym.envs.llm.vidur.scheduler import SchedGymReplicaScheduler, SchedGymSchedulerConfig
from schedgym.envs.validation import argument_error, check_choice, check_int

#: Vidur's model, device and node names of the presets. The predictor prices every iteration
#: with the preset itself; Vidur only needs names it knows for its memory planner and its
#: utilisation metrics, which the adapter does not use (the KV blocks are the preset's), so a
#: custom preset runs under the A100 names.
VIDUR_MODELS = {"llama2-7b-a100": ("meta-llama/Llama-2-7b-hf", "a100", "a100_dgx"),
                "llama2-7b-h100": ("meta-llama/Llama-2-7b-hf", "h100", "h100_dgx")}
NATIVE_SCHEDULERS = ("vllm", "sarathi")


@dataclass
class VidurResult:
    """Per-request outcome of a Vidur run, indexed by the instance's request ids.

    Attributes:
        first_token: Time of the first output token (Vidur's ``prefill_completed_at``), (R,) s.
        finish: Completion time, (R,) s.
        restarts: Preemptions each request suffered, (R,).
        batches: Iterations Vidur ran.
        scheduler: Vidur's replica scheduler after the run.
    """

    instance: LLMInstance
    first_token: np.ndarray
    finish: np.ndarray
    restarts: np.ndarray
    batches: int
    scheduler: Any

    @property
    def ttft(self) -> np.ndarray:
        return self.first_token - self.instance.arrival

    @property
    def e2e(self) -> np.ndarray:
        return self.finish - self.instance.arrival

    @property
    def tpot(self) -> np.ndarray:
        """(finish − first token) / (output tokens − 1), 0 for one-token requests (as
        ``envs.llm.sim.episode_metrics``)."""
        decode = self.instance.output_tokens - 1
        return np.where(decode > 0, (self.finish - self.first_token) / np.maximum(decode, 1), 0.0)


class _Simulator(Simulator):
    """Vidur's simulator fed the given requests instead of those of its request generator."""

    def __init__(self, config: SimulationConfig, requests: list[Request]) -> None:
        self._given = requests
        super().__init__(config)

    def _init_event_queue(self) -> None:
        for request in self._given:
            self._add_event(RequestArrivalEvent(request.arrived_at, request))


def _config(preset: HardwarePreset, scheduler: BaseReplicaSchedulerConfig, idle_step: float,
            output_dir: str) -> SimulationConfig:
    model, device, node = VIDUR_MODELS.get(preset.name, VIDUR_MODELS["llama2-7b-a100"])
    return SimulationConfig(
        cluster_config=ClusterConfig(
            num_replicas=1,
            replica_config=ReplicaConfig(model_name=model, device=device, network_device=node,
                                         num_pipeline_stages=1, tensor_parallel_size=1,
                                         gpu_memory_utilization=preset.memory_utilization),
            cache_config=CacheConfig(block_size=16, num_blocks=preset.kv_blocks),
            global_scheduler_config=RoundRobinGlobalSchedulerConfig(),
            replica_scheduler_config=scheduler),
        request_generator_config=SyntheticRequestGeneratorConfig(
            length_generator_config=FixedRequestLengthGeneratorConfig(
                max_tokens=preset.max_model_len)),
        execution_time_predictor_config=CostModelPredictorConfig(preset=preset,
                                                                 idle_step=idle_step),
        # No metrics, plots, traces or Weights & Biases: the results are read off the requests.
        metrics_config=MetricsConfig(write_metrics=False, enable_chrome_trace=False,
                                     store_plots=False, output_dir=output_dir))


def _simulate(instance: LLMInstance, scheduler_config: BaseReplicaSchedulerConfig,
              preset: HardwarePreset, idle_step: float,
              attach: Any = None) -> VidurResult:
    requests = [Request(float(a), int(p), int(o)) for a, p, o in
                zip(instance.arrival, instance.prompt_tokens, instance.output_tokens)]
    # Vidur numbers replicas with a class counter that never resets, while its round-robin router
    # sends to ReplicaId(0): restart the count so that every run in a process has replica 0.
    Replica._id = -1
    first_batch = Batch._id
    logger = logging.getLogger("vidur")  # Vidur logs every run's start and end at INFO
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="schedgym-vidur-") as output_dir:
            config = _config(preset, scheduler_config, idle_step, output_dir)
            simulator = _Simulator(config, requests)
            replica = simulator.scheduler.get_replica_scheduler(ReplicaId(0))
            if attach is not None:
                attach(replica, requests)
            simulator.run()
    finally:
        logger.setLevel(level)
    done = [request.completed for request in requests]
    if not all(done):
        raise RuntimeError(f"Vidur finished with {done.count(False)} requests not completed")
    return VidurResult(
        instance,
        np.array([request.prefill_completed_at for request in requests], np.float64),
        np.array([request.completed_at for request in requests], np.float64),
        np.array([request.num_restarts for request in requests], np.int64),
        Batch._id - first_batch, replica)


def run_schedgym(instance: LLMInstance, scheduler: Any, seed: int = 0,
                 preset: str | HardwarePreset = "llama2-7b-a100", max_batch_size: int = 128,
                 token_budget: int = 4096, window: int = 64, idle_step: float = 0.01,
                 record: bool = False) -> VidurResult:
    """Runs ``instance`` in Vidur with a SchedGym scheduler as the replica scheduler.

    Args:
        instance: The workload (request ``i`` becomes Vidur request ``i``).
        scheduler: A SchedGym LLM batching baseline (``baselines.make("schedgym/LLMServe-v0",
            "fcfs")``), the random baseline, or a :class:`.policy.PolicyDriver`.
        seed: The scheduler's seed.
        preset, max_batch_size, token_budget, window, idle_step: The env's arguments of the same
            names, with the same defaults and checks.
        record: Keep every batch in ``result.scheduler.history``.

    Raises:
        schedgym.envs.validation.ArgumentError: A bad argument, named with its value.
        ValueError: If a request cannot be served (context or KV capacity), as the env says.
        RuntimeError: If the scheduler makes more decisions than the env would allow an episode.
    """
    if not isinstance(instance, LLMInstance):
        raise argument_error("instance", instance, "an LLMInstance", wrong_type=True)
    driver = headless_driver(scheduler)
    if driver is None and callable(getattr(scheduler, "next_op", None)):
        driver = scheduler  # a PolicyDriver
    if driver is None:
        raise argument_error("scheduler", scheduler, "a SchedGym LLM baseline or a PolicyDriver",
                             wrong_type=True)
    seed = check_int("seed", seed, low=0)
    args = check_replica_arguments(preset, max_batch_size, token_budget, window, idle_step, None)
    config = SchedGymSchedulerConfig(batch_size_cap=args.max_batch_size,
                                     token_budget=args.token_budget, window=args.window)

    def attach(replica: SchedGymReplicaScheduler, requests: list[Request]) -> None:
        replica.attach(instance, requests, driver, args.preset, args.idle_step, seed, record)

    return _simulate(instance, config, args.preset, args.idle_step, attach)


def run_native(instance: LLMInstance, scheduler: str = "vllm",
               preset: str | HardwarePreset = "llama2-7b-a100", max_batch_size: int = 128,
               token_budget: int = 4096, chunk_size: int = 512) -> VidurResult:
    """Runs ``instance`` in Vidur with one of Vidur's own replica schedulers.

    Args:
        scheduler: ``"vllm"`` (``max_tokens_in_batch=token_budget``) or ``"sarathi"``
            (``chunk_size``).
        max_batch_size: Vidur's ``batch_size_cap``.

    Raises:
        schedgym.envs.validation.ArgumentError: A bad argument, named with its value.
        ValueError: If a request cannot be served (context or KV capacity), as the env says.
        AssertionError: Vidur 0.0.26's own, on the recompute after a preemption (see
            ``benchmarks/vidur_crosscheck.py``).
    """
    if not isinstance(instance, LLMInstance):
        raise argument_error("instance", instance, "an LLMInstance", wrong_type=True)
    scheduler = check_choice("scheduler", scheduler, NATIVE_SCHEDULERS)
    args = check_replica_arguments(preset, max_batch_size, token_budget, 1, 0.01, None)
    # The env's check that every request fits the context and the KV cache (Vidur would hang).
    LLMSim(instance, args.preset, args.max_batch_size, args.token_budget, 0.01, 1, compiled=False)
    if scheduler == "vllm":
        config = VllmSchedulerConfig(batch_size_cap=args.max_batch_size,
                                     max_tokens_in_batch=args.token_budget)
    else:
        config = SarathiSchedulerConfig(batch_size_cap=args.max_batch_size,
                                        chunk_size=check_int("chunk_size", chunk_size, low=1))
    return _simulate(instance, config, args.preset, 0.01)
