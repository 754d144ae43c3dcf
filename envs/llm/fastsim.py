"""The headless path: a rule-based scheduler drives the simulator directly, with no observation
encoding, for capacity searches and benchmarks.

Both this runner and the env act through :func:`envs.llm.sim.apply`, and a scheduler sees the
same simulator either way, so an episode here is bit-identical to the env driven by the same
scheduler (tested), only faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.env import check_replica_arguments
from schedgym.envs.llm.sim import LLMSim, apply
from schedgym.envs.llm.types import LLMInstance
from schedgym.envs.validation import argument_error, check_int


def run_headless(instance: LLMInstance, scheduler: Any, seed: int = 0,
                 preset: str | HardwarePreset = "llama2-7b-a100", max_batch_size: int = 128,
                 token_budget: int = 4096, window: int = 64, idle_step: float = 0.01,
                 max_steps: int | None = None, compiled: bool = True) -> tuple[LLMSim, int]:
    """Runs ``scheduler`` (a :class:`baselines.llm.common.BatchScheduler`) on ``instance``.

    The arguments after ``seed`` up to ``max_steps`` are the env's of the same name, with the
    same defaults and the same checks (:func:`envs.llm.env.check_replica_arguments`);
    ``compiled=False`` runs the simulator's numpy reference instead of its kernel
    (:class:`envs.llm.sim.LLMSim`), for tests.

    Returns:
        The finished simulator (``sim.metrics()`` holds the env's final ``info`` metrics) and
        the number of operations applied (the env's step count).

    Raises:
        schedgym.envs.validation.ArgumentError: A bad argument, named with its value and what
            is allowed (also a ``TypeError`` for one of the wrong type).
    """
    if not isinstance(instance, LLMInstance):
        raise argument_error("instance", instance, "an LLMInstance", wrong_type=True)
    if not (callable(getattr(scheduler, "reset_sim", None))
            and callable(getattr(scheduler, "next_op", None))):
        raise argument_error("scheduler", scheduler, "a BatchScheduler (with reset_sim and "
                             "next_op)", wrong_type=True)
    seed = check_int("seed", seed, low=0)
    if not isinstance(compiled, (bool, np.bool_)):
        raise argument_error("compiled", compiled, "True or False", wrong_type=True)
    args = check_replica_arguments(preset, max_batch_size, token_budget, window, idle_step,
                                   max_steps)
    sim = LLMSim(instance, args.preset, args.max_batch_size, args.token_budget, args.idle_step,
                 args.window, bool(compiled))
    limit = args.max_steps or 4 * (instance.num_requests + int(instance.output_tokens.sum())) + 1000
    scheduler.reset_sim(sim, seed)
    steps = 0
    while not sim.done and steps < limit:
        apply(sim, scheduler.next_op(sim))
        steps += 1
    return sim, steps
