"""Hand-made LLM workloads and presets with answers worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from schedgym.envs.llm.cost import PRESETS, HardwarePreset
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.types import LLMInstance

A100 = PRESETS["llama2-7b-a100"]


def workload(arrival, prompt, output, tenant=None, ttft=0.8, tpot=0.08, tenants=1, name="hand") -> LLMInstance:
    n = len(arrival)
    return LLMInstance(
        arrival=np.asarray(arrival, float), prompt_tokens=np.asarray(prompt, np.int64),
        output_tokens=np.asarray(output, np.int64), max_new_tokens=np.asarray(output, np.int64) + 10,
        tenant=np.zeros(n, np.int64) if tenant is None else np.asarray(tenant, np.int64),
        ttft_slo=np.full(n, ttft), tpot_slo=np.full(n, tpot), tenant_weight=np.ones(tenants), name=name)


def tiny_memory(blocks: int) -> HardwarePreset:
    """The A100 preset's costs with a KV cache of exactly ``blocks`` blocks."""
    return replace(A100, name=f"tiny-{blocks}", gpu_memory_gb=1.0, memory_utilization=1.0, weights_gb=0.0,
                   kv_bytes_per_token=int(1e9 // (16 * blocks)))


def make_sim(instance: LLMInstance, preset: HardwarePreset = A100, max_batch_size: int = 128,
             token_budget: int = 4096, window: int = 64) -> LLMSim:
    return LLMSim(instance, preset, max_batch_size, token_budget, 0.01, window)


def fcfs_run(sim: LLMSim) -> LLMSim:
    """Picks every pickable visible request in arrival order, then runs, until done."""
    while not sim.done:
        while True:
            queue = np.asarray(sim.visible_queue(), np.int64)
            ok = sim.pickable(queue)
            if not ok.any():
                break
            sim.pick(int(queue[np.argmax(ok)]))
        sim.run()
    return sim
