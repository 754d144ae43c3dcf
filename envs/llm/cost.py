"""Hardware/model presets and the iteration cost model of one serving replica.

The cost of an iteration (milliseconds) follows the form of
``../shared/reference/llm_serving.md`` (our fit to Vidur's profiles, roofline attention)::

    T = max(floor, intercept + per_token · N_tok) + prefill_attn · Σ_prefill c_i (2 h_i + c_i)
        + decode_attn · Σ_decode ctx_j + per_seq · n_seq + overhead

with ``N_tok`` the prefill-chunk tokens plus one per decode request, ``c_i`` a chunk's length,
``h_i`` the request's tokens already in the KV cache, ``ctx_j`` a decode request's context
length and ``n_seq`` the requests in the batch.

Adding a preset: build a :class:`HardwarePreset` with every figure's source in a comment and
either pass it to the env (``gym.make("schedgym/LLMServe-v0", preset=my_preset)``) or add it to
:data:`PRESETS` under a new name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from schedgym.envs.llm.types import BLOCK_TOKENS

GB = 1e9  # the reference's capacity arithmetic uses decimal gigabytes


@dataclass(frozen=True)
class HardwarePreset:
    """A model on a GPU: its iteration cost coefficients and KV-cache memory.

    Attributes:
        name: Preset name, e.g. ``"llama2-7b-a100"``.
        floor_ms: Lowest linear-layer time of an iteration (weights are read whatever the batch).
        intercept_ms: Intercept of the linear-layer time above the floor.
        per_token_ms: Linear-layer time per batched token.
        prefill_attn_ms: Prefill attention per unit of c·(2h + c).
        decode_attn_ms: Decode attention per context token.
        per_seq_ms: Per-request overhead of a batch.
        overhead_ms: Fixed per-iteration overhead (scheduling, sampling).
        gpu_memory_gb: GPU memory.
        memory_utilization: Share of memory the server may use (vLLM's ``gpu_memory_utilization``).
        weights_gb: Model weights.
        kv_bytes_per_token: 2 (K, V) × layers × KV heads × head dim × bytes per value.
        max_model_len: Longest context (prompt + output) the model serves.
    """

    name: str
    floor_ms: float
    intercept_ms: float
    per_token_ms: float
    prefill_attn_ms: float
    decode_attn_ms: float
    per_seq_ms: float
    overhead_ms: float
    gpu_memory_gb: float
    memory_utilization: float
    weights_gb: float
    kv_bytes_per_token: int
    max_model_len: int

    def __post_init__(self) -> None:
        for key, value in asdict(self).items():
            if key != "name" and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"HardwarePreset {self.name!r}: {key} = {value!r}, must be a finite number ≥ 0")
        if self.kv_blocks < 1:
            raise ValueError(f"HardwarePreset {self.name!r}: no memory is left for the KV cache "
                             f"({self.memory_utilization} × {self.gpu_memory_gb} GB − {self.weights_gb} GB weights)")

    @property
    def kv_blocks(self) -> int:
        """KV-cache capacity in blocks of :data:`BLOCK_TOKENS` tokens."""
        free = self.memory_utilization * self.gpu_memory_gb * GB - self.weights_gb * GB
        return int(free // (self.kv_bytes_per_token * BLOCK_TOKENS))

    def iteration_ms(self, prefill_tokens: int, prefill_attention: float, decode_requests: int,
                     decode_context: int, num_requests: int) -> float:
        """Duration of one iteration in milliseconds.

        Args:
            prefill_tokens: Σ c_i, the prefill-chunk tokens of the batch.
            prefill_attention: Σ c_i (2 h_i + c_i) over the chunks.
            decode_requests: Requests decoding one token.
            decode_context: Σ ctx_j, their context lengths.
            num_requests: Requests in the batch (prefill and decode).
        """
        tokens = prefill_tokens + decode_requests
        return (max(self.floor_ms, self.intercept_ms + self.per_token_ms * tokens)
                + self.prefill_attn_ms * prefill_attention + self.decode_attn_ms * decode_context
                + self.per_seq_ms * num_requests + self.overhead_ms)


PRESETS: dict[str, HardwarePreset] = {
    # Llama-2-7B fp16, TP1, one A100-80GB: linear layers fitted to Vidur's profile
    # data/profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv (9.0 ms floor up to 64 tokens,
    # 2.26 ms + 64.6 ms per 1k tokens above 256); attention by roofline (~150 TFLOPS effective
    # prefill, ~1.3 TB/s for 0.5 MiB of KV per context token); KV 2 × 32 layers × 32 heads × 128
    # × 2 B = 524,288 B/token; capacity (0.9 × 80 − 13.5) GB ≈ 111k tokens ≈ 6,973 blocks; context
    # 4,096 (Llama 2). Source: ../shared/reference/llm_serving.md, "Cost model" and "KV cache".
    "llama2-7b-a100": HardwarePreset(
        name="llama2-7b-a100", floor_ms=9.0, intercept_ms=2.3, per_token_ms=0.0646,
        prefill_attn_ms=1.7e-6, decode_attn_ms=4.0e-4, per_seq_ms=0.04, overhead_ms=1.0,
        gpu_memory_gb=80.0, memory_utilization=0.9, weights_gb=13.5, kv_bytes_per_token=524_288,
        max_model_len=4096),
    # The same model on one H100-80GB: Vidur's H100 profile of the same MLP (5.5 ms floor up to 64
    # tokens, 3.14 ms + 20.3 ms per 1k tokens), roofline attention about 0.6e-6 ms·n² and
    # 2.4e-4 ms per context token; memory and KV as on the A100. Per-sequence and fixed overheads
    # are the A100 fit's (our choice: they are host-side costs). Same source.
    "llama2-7b-h100": HardwarePreset(
        name="llama2-7b-h100", floor_ms=5.5, intercept_ms=3.14, per_token_ms=0.0203,
        prefill_attn_ms=0.6e-6, decode_attn_ms=2.4e-4, per_seq_ms=0.04, overhead_ms=1.0,
        gpu_memory_gb=80.0, memory_utilization=0.9, weights_gb=13.5, kv_bytes_per_token=524_288,
        max_model_len=4096),
}


def get_preset(preset: str | HardwarePreset) -> HardwarePreset:
    """A preset by name, or ``preset`` itself; ``ValueError`` lists the known names."""
    if isinstance(preset, HardwarePreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is not a known preset; known: {', '.join(PRESETS)} "
                         f"(or pass a schedgym.envs.llm.cost.HardwarePreset)")
    return PRESETS[preset]
