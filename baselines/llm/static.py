"""Static batching (FasterTransformer): a batch runs until all its requests finish."""

from __future__ import annotations

from schedgym.baselines.llm.common import OrderedAdmission, reserved_blocks
from schedgym.envs.llm.sim import LLMSim
from schedgym.envs.llm.types import DONE


class StaticBatchScheduler(OrderedAdmission):
    """When the replica is empty, the FCFS head of the queue forms a batch: as many requests
    as the batch cap and their maximum KV (prompt + max new tokens) allow. The batch is
    prefilled (in chunks of the token budget when its prompts exceed it) and decoded; no request
    joins until every member has finished."""

    name = "static"
    chunked = True

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        super().reset_sim(sim, seed)
        self._members: set[int] = set()

    def on_boundary(self, sim: LLMSim) -> None:
        st = sim.state
        if all(st.status[r] == DONE for r in self._members):
            self._members = set()
            for r in sim.visible_queue()[:sim.max_batch_size]:
                if reserved_blocks(sim, sorted(self._members | {r})) > sim.capacity:
                    break
                self._members.add(r)

    def first(self, sim: LLMSim, candidates: list[int]) -> int:
        # The oldest member: with several tenants the round-robin window may show an older
        # non-member before the members (with one tenant the members are the oldest requests).
        return next((r for r in candidates if r in self._members), int(candidates[0]))

    def admit(self, sim: LLMSim, request: int) -> bool:
        return request in self._members
