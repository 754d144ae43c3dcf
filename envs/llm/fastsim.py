"""The headless path: a rule-based scheduler drives the simulator directly, with no observation
encoding, for the leaderboard, capacity searches and benchmarks.

Both this runner and the env act through :func:`envs.llm.sim.apply`, and a scheduler sees the
same simulator either way, so an episode here is bit-identical to the env driven by the same
scheduler (tested), only faster. The batching baselines (``baselines.llm``) are functions of
the simulator already; the random baseline runs as :class:`HeadlessRandom`, which draws from the
env's own legal actions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schedgym.envs.llm.cost import HardwarePreset
from schedgym.envs.llm.env import (QUEUE_NODE0, check_replica_arguments, fill_action_mask,
                                   node_of_op, op_of_node)
from schedgym.envs.llm.sim import LLMSim, Op, apply
from schedgym.envs.llm.types import LLMInstance
from schedgym.envs.validation import argument_error, check_int


class HeadlessRandom:
    """:class:`baselines.random.RandomScheduler` on the simulator: at each step the env's
    action mask (:func:`envs.llm.env.fill_action_mask`), the scheduler's own draw among its
    nodes (``RandomScheduler.choose``), and the operation of the node drawn. The same seed
    thus takes the same actions as the scheduler stepping the env.

    Args:
        scheduler: The random scheduler whose generator draws.
    """

    name = "random"

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self._mask = np.zeros(0, np.int8)

    def reset_sim(self, sim: LLMSim, seed: int | None = None) -> None:
        self.scheduler.reseed(seed)  # as RandomScheduler.reset(env, seed)

    def next_op(self, sim: LLMSim) -> Op:
        if len(self._mask) != QUEUE_NODE0 + sim.window + sim.max_batch_size:  # the env's N_MAX
            self._mask = np.zeros(QUEUE_NODE0 + sim.window + sim.max_batch_size, np.int8)
        queue = np.asarray(sim.visible_queue(), np.int64)
        running = np.asarray(sim.running, np.int64)
        fill_action_mask(self._mask, sim, queue, running, sim.pick_chunks(queue))
        node = self.scheduler.choose(np.flatnonzero(self._mask))
        return op_of_node(node, sim.window, queue, running)


def headless_driver(scheduler: Any) -> Any | None:
    """What the headless path drives for ``scheduler``: a batching baseline itself (it has
    ``reset_sim`` and ``next_op``), the random baseline as :class:`HeadlessRandom`; None for
    anything else (learned policies read observations)."""
    from schedgym.baselines.random import RandomScheduler

    if isinstance(scheduler, RandomScheduler):
        return HeadlessRandom(scheduler)
    if callable(getattr(scheduler, "reset_sim", None)) and callable(getattr(scheduler, "next_op",
                                                                                   None)):
        return scheduler
    return None


def play(sim: LLMSim, driver: Any, max_steps: int, actions: list[int] | None = None) -> int:
    """Applies ``driver``'s operations (see :func:`headless_driver`, already reset on ``sim``)
    until every request is done or ``max_steps`` operations; returns how many it applied.

    Args:
        actions: If given, the env's pointer action of every operation is appended to it (the
            record the leaderboard replays).
    """
    steps = 0
    while not sim.done and steps < max_steps:
        op = driver.next_op(sim)
        if actions is not None:
            actions.append(node_of_op(op, sim.window, sim.visible_queue(), sim.running))
        apply(sim, op)
        steps += 1
    return steps


def run_headless(instance: LLMInstance, scheduler: Any, seed: int = 0,
                 preset: str | HardwarePreset = "llama2-7b-a100", max_batch_size: int = 128,
                 token_budget: int = 4096, window: int = 64, idle_step: float = 0.01,
                 max_steps: int | None = None, compiled: bool = True,
                 actions: list[int] | None = None) -> tuple[LLMSim, int]:
    """Runs ``scheduler`` on ``instance``: a batching baseline
    (:class:`baselines.llm.common.BatchScheduler`) or the random baseline.

    The arguments after ``seed`` up to ``max_steps`` are the env's of the same name, with the
    same defaults and the same checks (:func:`envs.llm.env.check_replica_arguments`);
    ``compiled=False`` runs the simulator's numpy reference instead of its kernel
    (:class:`envs.llm.sim.LLMSim`), for tests.

    Args:
        actions: If given, the env's pointer action of every operation is appended to it (the
            record the leaderboard replays).

    Returns:
        The finished simulator (``sim.metrics()`` holds the env's final ``info`` metrics) and
        the number of operations applied (the env's step count).

    Raises:
        schedgym.envs.validation.ArgumentError: A bad argument, named with its value and what
            is allowed (also a ``TypeError`` for one of the wrong type).
    """
    if not isinstance(instance, LLMInstance):
        raise argument_error("instance", instance, "an LLMInstance", wrong_type=True)
    driver = headless_driver(scheduler)
    if driver is None:
        raise argument_error("scheduler", scheduler, "a BatchScheduler (with reset_sim and "
                             "next_op) or the random baseline", wrong_type=True)
    seed = check_int("seed", seed, low=0)
    if not isinstance(compiled, (bool, np.bool_)):
        raise argument_error("compiled", compiled, "True or False", wrong_type=True)
    args = check_replica_arguments(preset, max_batch_size, token_budget, window, idle_step,
                                   max_steps)
    sim = LLMSim(instance, args.preset, args.max_batch_size, args.token_budget, args.idle_step,
                 args.window, bool(compiled))
    limit = args.max_steps or 4 * (instance.num_requests + int(instance.output_tokens.sum())) + 1000
    driver.reset_sim(sim, seed)
    return sim, play(sim, driver, limit, actions)
