"""The workload and hardware arguments shared by the LLM envs (``LLMServe-v0``,
``LLMCluster-v0``): checked when the env is made, then a seeded source of instances, sampled
from the generator (:mod:`envs.llm.generator`) or replayed from an Azure LLM trace
(:mod:`data.azure_llm`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schedgym.envs.llm.cost import PRESETS, HardwarePreset
from schedgym.envs.llm.generator import WORKLOADS
from schedgym.envs.llm.types import LLMInstance
from schedgym.envs.validation import (ArgumentError, ArgumentTypeError, check_choice, check_fields,
                                      check_float, check_int, item_name)


@dataclass(frozen=True)
class WorkloadOptions:
    """The ``generator_config`` of the env: options of its sampled or replayed workload
    (``envs.llm.generator.sample_instance``).

    Attributes:
        cv: Inter-arrival coefficient of variation of sampled workloads (None: the workload's).
        tenants: Tenants T, assigned by a Zipf law of exponent ``tenant_skew``.
        flood: Rate multiple of tenant 0 over each other tenant (None: the Zipf shares).
        tenant_skew: Zipf exponent of the tenant shares.
        slo_class: JITServe SLO class k (TTFT 0.8 s · k, TPOT 0.08 s · k) of every request.
        max_new_tokens: Cap on a request's output (None: the workload's largest).
    """

    cv: float | None = None
    tenants: int = 1
    flood: float | None = None
    tenant_skew: float = 1.0
    slo_class: int = 1
    max_new_tokens: int | None = None


def _check_workload_options(options: dict[str, Any]) -> dict[str, Any]:
    name = lambda key: item_name("generator_config", key)  # noqa: E731
    checked = dict(options)
    if checked.get("cv") is not None:
        checked["cv"] = check_float(name("cv"), checked["cv"], low=0.0, high=100.0, low_open=True)
    checked["tenants"] = check_int(name("tenants"), checked.get("tenants", 1), low=1, high=1024)
    if checked.get("flood") is not None:
        checked["flood"] = check_float(name("flood"), checked["flood"], low=1.0, high=1e4)
    checked["tenant_skew"] = check_float(name("tenant_skew"), checked.get("tenant_skew", 1.0),
                                         low=0.0, high=10.0)
    checked["slo_class"] = check_int(name("slo_class"), checked.get("slo_class", 1), low=1, high=4)
    if checked.get("max_new_tokens") is not None:
        checked["max_new_tokens"] = check_int(name("max_new_tokens"), checked["max_new_tokens"],
                                              low=1, high=10**6)
    return checked


def check_preset(preset: Any) -> HardwarePreset:
    """``preset`` (a name of ``PRESETS`` or a ``HardwarePreset``) as a ``HardwarePreset``.

    Raises:
        ArgumentError: Naming the argument and the value.
    """
    if isinstance(preset, HardwarePreset):
        return preset
    if not isinstance(preset, str):
        raise ArgumentTypeError(f"preset must be a preset name or a HardwarePreset, got {preset!r}")
    return PRESETS[check_choice("preset", preset, tuple(PRESETS))]


class WorkloadSource:
    """The checked workload arguments of an LLM env, and the instances they give.

    Args:
        workload: A key of ``envs.llm.generator.WORKLOADS`` (sampled workloads).
        rate: Mean arrival rate of sampled workloads, requests/s.
        num_requests: Requests of a sampled workload.
        generator_config: :class:`WorkloadOptions` or a mapping of some of its fields.
        trace: Path of an Azure LLM trace to replay instead (loaded here, so a bad file fails
            when the env is made).
        rate_scale: Arrival-rate multiple of the replayed trace.
        trace_start: Seconds of the trace to skip.
        trace_duration: Seconds of the trace to replay (None: to its end).
        default_rate_scale: The env's default ``rate_scale``: another value needs a trace.

    Raises:
        ArgumentError: On a bad argument, naming it and its value; also if a trace argument is
            given without ``trace``.
    """

    def __init__(self, *, workload: str, rate: float, num_requests: int,
                 generator_config: Any, trace: str | Path | None, rate_scale: float,
                 trace_start: float, trace_duration: float | None,
                 default_rate_scale: float = 1.0) -> None:
        self.workload = check_choice("workload", workload, tuple(WORKLOADS))
        self.rate = check_float("rate", rate, low=0.0, high=1e4, low_open=True)
        self.num_requests = check_int("num_requests", num_requests, low=1, high=10**6)
        options = check_fields("generator_config", generator_config or {}, WorkloadOptions)
        self.options = WorkloadOptions(**_check_workload_options(options))
        rate_scale = check_float("rate_scale", rate_scale, low=0.0, high=1e4, low_open=True)
        trace_start = check_float("trace_start", trace_start, low=0.0)
        if trace_duration is not None:
            trace_duration = check_float("trace_duration", trace_duration, low=0.0, low_open=True)
        given = {name: value for name, value, default in (
            ("rate_scale", rate_scale, default_rate_scale), ("trace_start", trace_start, 0.0),
            ("trace_duration", trace_duration, None)) if value != default}
        if trace is None and given:
            raise ArgumentError(", ".join(f"{name}={value!r}" for name, value in given.items())
                                + " applies only with trace=PATH (an Azure LLM trace file)")
        if trace is not None and not isinstance(trace, (str, Path)):
            raise ArgumentTypeError(
                f"trace must be the path of an Azure LLM trace file, got {trace!r}")
        self.trace = None
        if trace is not None:
            from schedgym.data.azure_llm import load_trace

            self.trace = load_trace(trace, start=trace_start, duration=trace_duration,
                                    rate_scale=rate_scale)

    def sample(self, rng: np.random.Generator, max_model_len: int) -> LLMInstance:
        """An instance: the replayed trace (tenants and SLO classes drawn from ``rng``), else a
        sampled workload."""
        from schedgym.envs.llm.generator import instance_from_trace, sample_instance

        options = dataclasses.asdict(self.options)
        cv, slo_class = options.pop("cv"), options.pop("slo_class")
        if self.trace is not None:
            return instance_from_trace(self.trace, rng, max_model_len=max_model_len,
                                       slo_classes=slo_class, **options)
        return sample_instance(rng, workload=self.workload, num_requests=self.num_requests,
                               rate=self.rate, cv=cv, max_model_len=max_model_len,
                               slo_classes=slo_class, **options)


__all__ = ["WorkloadOptions", "WorkloadSource", "check_preset"]
