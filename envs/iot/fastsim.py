"""The headless path of ``schedgym/IoTPlacement-v0``: a rule baseline drives the simulator
directly, with no observation encoding, for the leaderboard, sweeps and benchmarks.

A placement rule (:class:`baselines.iot.common.PlacementRule`) reads only ``env.sim`` and
``env.visible_tasks()``; here it reads them from a :class:`HeadlessView` of the same
:class:`envs.iot.sim.IoTSim`, and each (task, node) it chooses is applied with the same
``sim.place`` (a ``None`` with ``sim.hold``) the env's two pointer steps would call. Steps,
truncation and the recorded pointer actions are counted as the env counts them, so an episode
here is bit-identical to the env driven by the same baseline (``tests/envs/iot/test_fastsim.py``
compares every metric and the simulator's arrays byte for byte), and its actions replay in the
env. ``python -m benchmarks.iot_speed`` measures the gain.

Example::

    from schedgym import baselines
    from schedgym.envs.iot.env import IoTPlacementEnv
    from schedgym.envs.iot.fastsim import run_headless

    st = IoTPlacementEnv.load_instance_set("small-tree-heavy")
    sched = baselines.make("schedgym/IoTPlacement-v0", "greedy")
    metrics = run_headless(st.instances[0], sched, **st.env_kwargs).info
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schedgym.baselines.iot.common import PlacementRule
from schedgym.envs.iot.env import HOLD_NODE, IoTPlacementEnv
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import IoTInstance, IoTState

#: The baselines this path runs: rules that read only ``sim`` and ``visible_tasks()``.
RULES: tuple[str, ...] = ("round_robin", "local", "cloud", "greedy", "min_energy", "edf", "wfq")


class HeadlessView:
    """The part of :class:`envs.iot.env.IoTPlacementEnv` a placement rule reads, over a bare
    simulator: ``sim``, ``state``, ``phase`` and ``visible_tasks()`` (as the env defines them).

    Args:
        sim: The simulator of the episode.
        window: The env's task slots (``visible_tasks`` shows the first ``window`` waiting).
    """

    def __init__(self, sim: IoTSim, window: int) -> None:
        self.sim = sim
        self.window = window

    @property
    def unwrapped(self) -> HeadlessView:
        return self

    @property
    def state(self) -> IoTState:
        return self.sim.state

    @property
    def phase(self) -> int:
        return int(self.sim.state.selected >= 0)

    def visible_tasks(self) -> np.ndarray:
        """The waiting tasks the env's window would show, in slot order, (≤ window,) int64."""
        return np.asarray(self.sim.waiting[:self.window], np.int64)


@dataclass
class HeadlessEpisode:
    """A finished headless episode.

    Attributes:
        sim: The simulator at the end (``sim.state`` as the env's would be).
        info: The env's final ``info``: every metric of ``sim.metrics()`` and ``steps``.
        actions: The pointer actions the env would have taken, in order (for replay).
    """

    sim: IoTSim
    info: dict[str, Any]
    actions: list[int] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.actions)


def supports(scheduler: Any) -> bool:
    """Whether ``scheduler`` is one of the rule baselines this path runs (:data:`RULES`)."""
    return isinstance(scheduler, PlacementRule) and scheduler.name in RULES


def run_env_episode(env: IoTPlacementEnv, scheduler: PlacementRule, instance: IoTInstance,
                    seed: int | None = 0) -> HeadlessEpisode:
    """Runs ``scheduler`` on ``instance`` under the configuration of ``env`` (its decision
    interval, window, weights, idle step and step limit), without touching ``env``.

    Equivalent to ``env.reset(seed=seed, options={"instance": instance})``, then
    ``scheduler.reset(env, seed)`` and ``env.step(scheduler.act(env))`` until the episode ends.

    Raises:
        ValueError: If ``scheduler`` is not one of :data:`RULES`, or the env would refuse the
            instance (it does not fit ``max_nodes`` / ``max_links``, or it is malformed).
    """
    if not supports(scheduler):
        raise ValueError(f"the headless path runs the rules {', '.join(RULES)}; got "
                         f"{getattr(scheduler, 'name', type(scheduler).__name__)!r}")
    if not isinstance(instance, IoTInstance):
        raise ValueError(f"instance must be an IoTInstance, got {type(instance).__name__}")
    env._check_fits(instance)
    sim = IoTSim(instance, env.decision_interval, env.idle_step, env.weights)
    view = HeadlessView(sim, env.window)
    node0, task0 = env.encoder.node0, env.encoder.task0
    limit = env.max_steps or 4 * instance.num_tasks + 1000
    scheduler.reset(view, seed=seed)
    actions: list[int] = []
    while True:  # the env's loop steps at least once, even from a finished episode
        choice = scheduler.choose(view)
        if choice is None:
            actions.append(HOLD_NODE)
            sim.hold()
        else:
            task, node = choice
            actions.append(task0 + sim.waiting.index(task, 0, env.window))  # its window slot
            sim.state.selected = task
            if len(actions) >= limit:
                break
            actions.append(node0 + node)
            sim.place(task, node)
        if sim.done or len(actions) >= limit:
            break
    return HeadlessEpisode(sim, {**sim.metrics(), "steps": len(actions)}, actions)


def run_headless(instance: IoTInstance, scheduler: PlacementRule, seed: int | None = 0,
                 **env_kwargs: Any) -> HeadlessEpisode:
    """Runs ``scheduler`` on ``instance`` as ``gym.make("schedgym/IoTPlacement-v0",
    **env_kwargs)`` would, without observations (:func:`run_env_episode`).

    Raises:
        ValueError: On an env argument the env refuses (its message), a scheduler that is not
            one of :data:`RULES`, or an instance the env refuses.
    """
    return run_env_episode(IoTPlacementEnv(**env_kwargs), scheduler, instance, seed)


__all__ = ["RULES", "HeadlessEpisode", "HeadlessView", "run_env_episode", "run_headless",
           "supports"]
