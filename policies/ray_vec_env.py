"""Training rollouts on Ray: :class:`RayVecEnv`, an SB3 ``VecEnv`` whose envs live in Ray actors,
one env per actor, with the protocol of SB3's ``SubprocVecEnv`` (selected by ``vec_env: ray``,
:func:`policies.training.make_vec_env`).

Each actor runs exactly what ``DummyVecEnv`` runs in this process (step, then reset on the end of
an episode, keeping the final observation in ``info["terminal_observation"]``), on an env built
by the same factory, so the same seed gives the same observations, rewards and so the same
training whichever vector env holds the envs. The envs may sit on any node of a cluster
(:func:`policies.distributed.connect`); every node needs SchedGym installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from schedgym.policies.distributed import cluster_cpus, connect
from schedgym.policies.extras import raise_if_extra_missing

try:
    from stable_baselines3.common.vec_env.base_vec_env import (VecEnv, VecEnvIndices, VecEnvObs,
                                                               VecEnvStepReturn)
    from stable_baselines3.common.vec_env.subproc_vec_env import _stack_obs
except ModuleNotFoundError as error:  # the train extra is not installed
    raise_if_extra_missing("schedgym.policies.ray_vec_env", error)
    raise


class _EnvActor:
    """The state of one Ray actor: one env, stepped as ``SubprocVecEnv``'s worker steps it."""

    def __init__(self, env_fn: Callable[[], gym.Env]) -> None:
        from stable_baselines3.common.vec_env.patch_gym import _patch_env

        self.env = _patch_env(env_fn())

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        return self.env.observation_space, self.env.action_space

    def step(self, action: Any) -> tuple[Any, float, bool, dict[str, Any], dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        done = terminated or truncated
        info["TimeLimit.truncated"] = truncated and not terminated
        reset_info: dict[str, Any] = {}
        if done:  # keep the final observation, then start the next episode at once
            info["terminal_observation"] = observation
            observation, reset_info = self.env.reset()
        return observation, reward, done, info, reset_info

    def reset(self, seed: int | None, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return self.env.reset(seed=seed, **({"options": options} if options else {}))

    def env_method(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        return self.env.get_wrapper_attr(name)(*args, **kwargs)

    def get_attr(self, name: str) -> Any:
        return self.env.get_wrapper_attr(name)

    def set_attr(self, name: str, value: Any) -> None:
        setattr(self.env, name, value)

    def is_wrapped(self, wrapper_class: type[gym.Wrapper]) -> bool:
        from stable_baselines3.common.env_util import is_wrapped

        return is_wrapped(self.env, wrapper_class)

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


class RayVecEnv(VecEnv):
    """``len(env_fns)`` envs, each in its own Ray actor.

    Args:
        env_fns: Factories of the envs (pickled to the actors, as ``SubprocVecEnv`` does).
        address: The Ray cluster to join (:func:`policies.distributed.connect`; default: the Ray
            of this process if initialised, else a new local one).
        num_cpus: CPUs each actor reserves; by default 1, or an equal share of the cluster's CPUs
            when there are more envs than CPUs (so that every actor can start).
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], address: str | None = None,
                 num_cpus: float | None = None) -> None:
        self._ray = ray = connect(address)
        if num_cpus is None:
            num_cpus = min(1.0, cluster_cpus(ray) / len(env_fns))
        remote = ray.remote(num_cpus=num_cpus)(_EnvActor)
        self._actors = [remote.remote(fn) for fn in env_fns]
        self._stepping: list[Any] = []
        self.closed = False
        observation_space, action_space = ray.get(self._actors[0].spaces.remote())
        super().__init__(len(env_fns), observation_space, action_space)

    def step_async(self, actions: np.ndarray) -> None:
        pairs = zip(self._actors, actions, strict=True)
        self._stepping = [actor.step.remote(action) for actor, action in pairs]

    def step_wait(self) -> VecEnvStepReturn:
        results, self._stepping = self._ray.get(self._stepping), []
        obs, rewards, dones, infos, self.reset_infos = zip(*results, strict=True)
        observations = _stack_obs(obs, self.observation_space)
        return observations, np.stack(rewards), np.stack(dones), list(infos)

    def reset(self) -> VecEnvObs:
        calls = [actor.reset.remote(self._seeds[i], self._options[i])
                 for i, actor in enumerate(self._actors)]
        obs, self.reset_infos = zip(*self._ray.get(calls), strict=True)
        self._reset_seeds()  # seeds and options apply to one reset only
        self._reset_options()
        return _stack_obs(obs, self.observation_space)

    def close(self) -> None:
        if self.closed:
            return
        if self._stepping:
            self._ray.get(self._stepping)
        self._ray.get([actor.close.remote() for actor in self._actors])
        for actor in self._actors:
            self._ray.kill(actor)
        self.closed = True

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self._ray.get([actor.render.remote() for actor in self._actors])

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._ray.get([actor.get_attr.remote(attr_name) for actor in self._targets(indices)])

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._ray.get([actor.set_attr.remote(attr_name, value) for actor in self._targets(indices)])

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        calls = [actor.env_method.remote(method_name, method_args, method_kwargs)
                 for actor in self._targets(indices)]
        return self._ray.get(calls)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        targets = self._targets(indices)
        return self._ray.get([actor.is_wrapped.remote(wrapper_class) for actor in targets])

    def _targets(self, indices: VecEnvIndices) -> list[Any]:
        return [self._actors[i] for i in self._get_indices(indices)]
