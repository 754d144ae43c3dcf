"""SchedGym's iteration cost model (:mod:`envs.llm.cost`) as Vidur's execution-time predictor.

Vidur normally predicts an iteration's time with scikit-learn models trained on profiling CSVs it
downloads from a model hub, which cannot run offline. :class:`CostModelPredictor` is registered in
Vidur's ``ExecutionTimePredictorRegistry`` instead and prices a Vidur batch with the preset's
formula (``HardwarePreset.iteration_ms``), so Vidur and SchedGym model the same hardware: the
same batch costs the same time, to the last bit, in both simulators (tested).

Translating a Vidur batch into the formula's terms (our reading of ``vidur/entities/request.py``
and the replica schedulers): a request whose prefill is not complete contributes a chunk of
``c = num_q_tokens`` tokens on top of ``h = num_kv_tokens − c`` already cached; one whose prefill
is complete decodes one token. Vidur counts the token a prefill emits as processed before its
KV exists, so a decode's ``num_kv_tokens`` is one more than the context it attends to (prompt plus
tokens generated, SchedGym's ``ctx``): the predictor subtracts that one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vidur.config import BaseExecutionTimePredictorConfig
from vidur.entities import ExecutionTime
from vidur.execution_time_predictor import ExecutionTimePredictorRegistry

from schedgym.envs.llm.cost import HardwarePreset, get_preset

#: The registry key of :class:`CostModelPredictor` (Vidur's registries are dicts; its enum has
#: no free member, and a key of another type cannot collide with one).
PREDICTOR_KEY = "schedgym_cost_model"


@dataclass
class CostModelPredictorConfig(BaseExecutionTimePredictorConfig):
    """Vidur's predictor config selecting :class:`CostModelPredictor`.

    Attributes:
        preset: A name of ``envs.llm.cost.PRESETS`` or a ``HardwarePreset``.
        idle_step: Seconds an empty batch lasts (the env's ``idle_step``): a scheduler that runs
            nothing while requests wait idles this long before it is asked again.
    """

    preset: Any = field(default="llama2-7b-a100", metadata={"help": "SchedGym preset."})
    idle_step: float = field(default=0.01, metadata={"help": "Seconds of an empty batch."})

    @staticmethod
    def get_type() -> str:
        return PREDICTOR_KEY


class IterationTime(ExecutionTime):
    """Vidur's ``ExecutionTime`` of one iteration priced by the cost model: the linear layers,
    prefill and decode attention and the per-request and fixed overheads in the matching
    components (as one "layer"), and the total exactly ``HardwarePreset.iteration_ms / 1000``."""

    def __init__(self, seconds: float, linear_ms: float, prefill_ms: float, decode_ms: float,
                 overhead_ms: float) -> None:
        super().__init__(1, 0.0, 0.0, decode_ms, prefill_ms, 0.0, 0.0, linear_ms, 0.0, 0.0, 0.0,
                         0.0, overhead_ms, 0.0, 0.0)
        self._seconds = seconds

    @property
    def model_time(self) -> float:
        return self._seconds

    @property
    def total_time(self) -> float:
        return self._seconds


def batch_terms(batch: Any) -> tuple[int, int, int, int, int]:
    """The cost model's terms of a Vidur batch: prefill tokens Σc, prefill attention Σc(2h + c),
    decode requests, decode context Σctx and requests (see the module docstring)."""
    prefill_tokens = attention = decodes = context = 0
    for request, q_tokens, kv_tokens in zip(batch.requests, batch.num_q_tokens,
                                            batch.num_kv_tokens):
        if request.is_prefill_complete:
            decodes += 1
            context += kv_tokens - 1
        else:
            history = kv_tokens - q_tokens
            prefill_tokens += q_tokens
            attention += q_tokens * (2 * history + q_tokens)
    return prefill_tokens, attention, decodes, context, len(batch.requests)


class CostModelPredictor:
    """Prices Vidur batches with a SchedGym :class:`~envs.llm.cost.HardwarePreset`.

    It has the constructor of Vidur's predictors (the registry builds it) and the one method
    Vidur's replica stage scheduler calls, ``get_execution_time(batch, pipeline_stage)``; a single
    pipeline stage and no tensor parallelism (the preset prices the whole replica).

    Args:
        predictor_config: A :class:`CostModelPredictorConfig`.
        replica_config: Vidur's replica config (unused: the preset is the hardware).
        cache_config: Vidur's cache config (unused).
    """

    def __init__(self, predictor_config: CostModelPredictorConfig, replica_config: Any = None,
                 cache_config: Any = None) -> None:
        self.preset: HardwarePreset = get_preset(predictor_config.preset)
        self.idle_step = float(predictor_config.idle_step)

    def get_execution_time(self, batch: Any, pipeline_stage: int = 0) -> IterationTime:
        """The iteration time of ``batch`` (an empty batch idles ``idle_step`` seconds)."""
        if not batch.requests:
            return IterationTime(self.idle_step, 0.0, 0.0, 0.0, self.idle_step * 1000.0)
        prefill_tokens, attention, decodes, context, requests = batch_terms(batch)
        p = self.preset
        total_ms = p.iteration_ms(prefill_tokens, float(attention), decodes, context, requests)
        linear_ms = max(p.floor_ms, p.intercept_ms + p.per_token_ms * (prefill_tokens + decodes))
        return IterationTime(total_ms / 1000.0, linear_ms, p.prefill_attn_ms * float(attention),
                             p.decode_attn_ms * context, p.per_seq_ms * requests + p.overhead_ms)


ExecutionTimePredictorRegistry.register(PREDICTOR_KEY, CostModelPredictor)
