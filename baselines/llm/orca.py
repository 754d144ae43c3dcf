"""Orca (Yu et al., OSDI 2022): iteration-level scheduling that reserves each request's
maximum KV at admission."""

from __future__ import annotations

from schedgym.baselines.llm.common import OrderedAdmission, kv_holders, reserved_blocks
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.types import PREFILLING


class OrcaScheduler(OrderedAdmission):
    """FCFS, decodes and whole prefills in one iteration; a request is admitted only if the
    maximum KV of every admitted request (prompt + max new tokens) fits the cache, so nothing is
    ever preempted, at the price of concurrency."""

    name = "orca"

    def admit(self, sim: LLMSim, request: int) -> bool:
        if sim.state.status[request] == PREFILLING:
            return True
        return reserved_blocks(sim, kv_holders(sim) + sim._picks + [request]) <= sim.capacity
