"""An exported SchedGym LLM policy (ONNX, :mod:`policies.runtime`) as a driver of the Vidur
replica scheduler: at each decision, the LLMServe observation of the mirrored replica state
(``LLMServeEnv.observe``) and the policy's action, turned back into an operation."""

from __future__ import annotations

from typing import Any

import numpy as np

from schedgym.envs.llm.env import LLMServeEnv, op_of_node
from schedgym.envs.llm.sim import LLMSim, Op

ENV_ID = "schedgym/LLMServe-v0"


class PolicyDriver:
    """Decides with an ONNX pointer policy on the LLMServe observation.

    Args:
        policy: A ``policies.runtime.OnnxPolicy`` exported for ``schedgym/LLMServe-v0``.
        env: The env configuration the policy was exported for (its encoder builds the
            observation); its ``window`` and ``max_batch_size`` must be the replica scheduler's.
        deterministic: Take the best legal node (else sample the masked softmax).
        record: Keep every observation and action in :attr:`observations` and :attr:`actions`.

    Attributes:
        actions: The pointer action of every decision (always kept).
        ops: The operation of every decision (``envs.llm.sim.Op``).
        observations: Copies of the observations decided on, if recording.

    Raises:
        ValueError: If the policy was not exported for this env configuration.
    """

    name = "onnx_policy"

    def __init__(self, policy: Any, env: LLMServeEnv, deterministic: bool = True,
                 record: bool = False) -> None:
        if policy.env_id != ENV_ID:
            raise ValueError(f"policy={policy!r} is a policy for {policy.env_id}, not {ENV_ID}")
        policy.check_env(env)
        self.policy, self.env, self.deterministic, self.record = policy, env, deterministic, record
        self.actions: list[int] = []
        self.ops: list[Op] = []
        self.observations: list[dict[str, np.ndarray]] = []
        self._rng = np.random.default_rng(0)

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        if (sim.window, sim.max_batch_size) != (self.env.window, self.env.max_batch_size):
            raise ValueError(f"the replica's window and max_batch_size ({sim.window}, "
                             f"{sim.max_batch_size}) are not the policy env's "
                             f"({self.env.window}, {self.env.max_batch_size})")
        self.actions.clear()
        self.ops.clear()
        self.observations.clear()
        self._rng = np.random.default_rng(seed)

    def next_op(self, sim: LLMSim) -> Op:
        obs = self.env.observe(sim)
        node = int(self.policy.act(obs, self.deterministic, self._rng))
        self.actions.append(node)
        if self.record:
            self.observations.append({key: value.copy() for key, value in obs.items()})
        op = op_of_node(node, sim.window, sim.visible_queue(), sim.running)
        self.ops.append(op)
        return op
