"""The headless path of ``schedgym/IoTPlacement-v0``: a rule baseline drives the simulator
directly, with no observation encoding, for the leaderboard, sweeps and benchmarks.

A placement rule (:class:`baselines.iot.common.PlacementRule`) reads only ``sim`` and
``visible_tasks()`` of the env, and never the observation. :func:`play` asks it for each
(task, node) and applies it with the ``sim.place`` (a ``None`` with ``sim.hold``) that the
env's two pointer steps would call, counting steps and truncation as the env does and
recording the pointer actions; :meth:`envs.iot.env.IoTPlacementEnv.finish_headless` then
encodes the last observation once. So an episode here is bit-identical to the env stepped by
the same baseline (``tests/envs/iot/test_fastsim.py`` compares every metric and the
simulator's arrays byte for byte) and its actions replay in the env.
``policies.evaluation.run_episode`` takes this path for the rules in :data:`RULES`;
``python -m benchmarks.iot_speed`` measures the gain.

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

from schedgym.baselines.iot.common import PlacementRule
from schedgym.envs.iot.env import HOLD_NODE, IoTPlacementEnv
from schedgym.envs.iot.sim import IoTSim
from schedgym.envs.iot.types import IoTInstance
from schedgym.envs.validation import argument_error

#: The baselines this path runs: rules that read only ``sim`` and ``visible_tasks()``.
RULES: tuple[str, ...] = ("round_robin", "local", "cloud", "greedy", "min_energy", "edf", "wfq")


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


def play(env: IoTPlacementEnv, scheduler: PlacementRule, steps_left: int) -> list[int]:
    """Plays ``scheduler`` on ``env``'s episode (reset, scheduler reset, phase 0) until it ends
    or ``steps_left`` steps are taken, without encoding observations; returns the pointer
    actions. At least one step is taken, as the env's loop does, even if the episode is over."""
    sim, window = env.sim, env.window
    node0, task0 = env.encoder.node0, env.encoder.task0
    actions: list[int] = []
    while True:
        choice = scheduler.choose(env)
        if choice is None:
            actions.append(HOLD_NODE)
            sim.hold()
        else:
            task, node = choice
            actions.append(task0 + sim.waiting.index(task, 0, window))  # its window slot
            sim.state.selected = task
            if len(actions) >= steps_left:  # the env truncates between the two steps
                break
            actions.append(node0 + node)
            sim.place(task, node)
        if sim.done or len(actions) >= steps_left:
            break
    return actions


def run_headless(instance: IoTInstance, scheduler: PlacementRule, seed: int | None = 0,
                 **env_kwargs: Any) -> HeadlessEpisode:
    """Runs ``scheduler`` on ``instance`` as ``policies.evaluation.run_episode`` does on
    ``gym.make("schedgym/IoTPlacement-v0", **env_kwargs)``, on the headless path.

    Raises:
        schedgym.envs.validation.ArgumentError: A scheduler that is not one of :data:`RULES`,
            or an env argument the env refuses (its message).
        ValueError: An instance the env refuses (it does not fit, or it is malformed).
    """
    if not supports(scheduler):
        raise argument_error("scheduler", scheduler,
                             f"one of the rule baselines {', '.join(RULES)}", wrong_type=True)
    env = IoTPlacementEnv(**env_kwargs)
    env.reset(seed=seed, options={"instance": instance})
    scheduler.reset(env, seed=seed)
    info, actions = env.finish_headless(scheduler)
    return HeadlessEpisode(env.sim, info, actions)


__all__ = ["RULES", "HeadlessEpisode", "play", "run_headless", "supports"]
