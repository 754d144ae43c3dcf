"""The observation contract shared by every SchedGym environment.

Every env observes a padded graph: a ``gymnasium.spaces.Dict`` of fixed-shape arrays, so that
stable-baselines3 buffers, vector envs and ONNX export work unchanged:

=============  ================  =======  ==================================================
key            shape             dtype    meaning
=============  ================  =======  ==================================================
nodes          (N_MAX, F)        float32  node features; first columns one-hot the node type
edge_index     (2, E_MAX)        int64    source/target of each edge; padding points at node 0
edge_attr      (E_MAX, Fe)       float32  edge features
node_mask      (N_MAX,)          int8     1 for real nodes
edge_mask      (E_MAX,)          int8     1 for real edges
globals        (G,)              float32  graph-level features (phase, budget, load, ...)
action_mask    (N_MAX,)          int8     1 for legal pointer actions
=============  ================  =======  ==================================================

Actions are pointers, ``Discrete(N_MAX)``: the index of a node. :class:`GraphEnv` holds what all
envs share: the spaces, the observation buffers, ``action_masks()`` and the illegal-action check.

Samples and illegal actions
---------------------------
An action is legal if the ``action_mask`` of the state it is stepped in allows it; ``step``
raises ``ValueError`` for any other action and never replaces it. A space's ``sample()`` cannot
know in which state its action will be stepped (Gymnasium's ``check_env`` samples, then
resets, then steps), so :class:`PointerSpace` keeps sampling independent of the env's state:

- ``sample()`` without a mask returns :data:`NOOP_NODE`, the only action legal in every state;
- ``sample(mask=obs["action_mask"])`` draws uniformly among the legal actions of ``obs``, the
  way to play at random (a bool mask such as ``env.unwrapped.action_masks()`` works too).

Rendering
---------
Every env takes ``render_mode=None`` (the default) or ``"rgb_array"``: then ``render()`` returns
an (H, W, 3) uint8 picture of the episode so far, drawn by the env's picture module, and with
``None`` it warns and returns ``None``, as Gymnasium's own envs do. What a picture needs that the
simulator does not keep anyway is recorded only when ``render_mode`` is set.

Sizes
-----
:meth:`GraphEnv._init_spaces` refuses a configuration whose observation arrays would take more
than :data:`schedgym.envs.validation.MAX_OBSERVATION_BYTES`, naming the arguments that set
N_MAX and E_MAX, before it allocates anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from schedgym.envs.render import RENDER_MODES
from schedgym.envs.validation import check_choice, check_observation_size

if TYPE_CHECKING:
    from schedgym.data.instance_sets import InstanceSet

OBS_KEYS = ("nodes", "edge_index", "edge_attr", "node_mask", "edge_mask", "globals", "action_mask")
#: The no-op node of every env (VM: stop, SoC: wait), legal in every state.
NOOP_NODE = 0


@dataclass(frozen=True)
class GraphSpec:
    """Fixed sizes and feature names of one env configuration's observation.

    Attributes:
        n_max: Number of node slots (N_MAX); also the size of the action space.
        e_max: Number of edge slots (E_MAX).
        node_features: Names of the F node feature columns, node-type one-hot first.
        edge_features: Names of the Fe edge feature columns.
        global_features: Names of the G global features.
    """

    n_max: int
    e_max: int
    node_features: tuple[str, ...]
    edge_features: tuple[str, ...]
    global_features: tuple[str, ...]

    def observation_space(self) -> spaces.Dict:
        """The ``Dict`` space of this spec."""
        n, e = self.n_max, self.e_max
        return spaces.Dict(
            {
                "nodes": spaces.Box(-np.inf, np.inf, (n, len(self.node_features)), np.float32),
                "edge_index": spaces.Box(0, n - 1, (2, e), np.int64),
                "edge_attr": spaces.Box(-np.inf, np.inf, (e, len(self.edge_features)), np.float32),
                "node_mask": spaces.MultiBinary(n),
                "edge_mask": spaces.MultiBinary(e),
                "globals": spaces.Box(-np.inf, np.inf, (len(self.global_features),), np.float32),
                "action_mask": spaces.MultiBinary(n),
            }
        )

    def array_layout(self) -> dict[str, tuple[tuple[int, ...], type]]:
        """Shape and dtype of every observation array, by key."""
        n, e = self.n_max, self.e_max
        return {
            "nodes": ((n, len(self.node_features)), np.float32),
            "edge_index": ((2, e), np.int64),
            "edge_attr": ((e, len(self.edge_features)), np.float32),
            "node_mask": ((n,), np.int8),
            "edge_mask": ((e,), np.int8),
            "globals": ((len(self.global_features),), np.float32),
            "action_mask": ((n,), np.int8),
        }

    def observation_bytes(self) -> int:
        """Bytes of one observation (every array once), computed without allocating it."""
        layout = self.array_layout().values()
        return sum(math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in layout)

    def empty_observation(self) -> dict[str, np.ndarray]:
        """Zeroed observation buffers (padding edges point at node 0)."""
        return {key: np.zeros(shape, dtype) for key, (shape, dtype) in self.array_layout().items()}

    def metadata(self) -> dict[str, Any]:
        """JSON-serialisable description, embedded in exported policies."""
        return {
            "n_max": self.n_max,
            "e_max": self.e_max,
            "node_features": list(self.node_features),
            "edge_features": list(self.edge_features),
            "global_features": list(self.global_features),
        }


class PointerSpace(spaces.Discrete):
    """``Discrete(N_MAX)`` whose samples are legal whatever state they are stepped in, unless a
    mask says which state (see "Samples and illegal actions" above).

    ``sample()`` returns the no-op node; ``sample(mask=...)`` draws uniformly among the actions
    the mask allows (Gymnasium's masked sampling; a bool mask is accepted as well as int8).
    """

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None) -> np.int64:
        if mask is None and probability is None:
            return self.start + self.dtype.type(NOOP_NODE)
        if isinstance(mask, np.ndarray) and mask.dtype == np.bool_:
            mask = mask.astype(np.int8)
        return super().sample(mask=mask, probability=probability)


class GraphEnv(gym.Env):
    """Base class of SchedGym envs: pointer actions over a padded graph observation.

    Subclasses validate every argument in ``__init__`` (:mod:`schedgym.envs.validation`), so a
    bad one fails at ``gym.make``, then call :meth:`_init_spaces`, keep the observation buffers
    in ``self._obs`` up to date in place, return :meth:`observation` from ``reset``/``step`` and
    validate actions with :meth:`_check_action`. Node 0 is the stop/wait node, legal in every
    state. They declare the ``info`` keys that the leaderboard reports in
    ``leaderboard_metrics`` and their fixed instance sets in :meth:`instance_sets`. They take a
    ``render_mode`` argument, checked by :meth:`_init_render`, and implement
    :meth:`_render_frame`.
    """

    # render_fps: Gymnasium's checker asks for one; a frame is a whole episode so far.
    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 1}
    #: ``info`` keys reported by the leaderboard, in display order.
    leaderboard_metrics: ClassVar[tuple[str, ...]] = ()
    #: Whether an episode is a deterministic function of the instance and the actions, all
    #: known to the scheduler at reset: then a scheduler may plan by simulating copies of the
    #: env (e.g. best-of-K rollouts). False where outcomes depend on hidden randomness.
    known_dynamics: ClassVar[bool] = False

    spec_graph: GraphSpec
    _obs: dict[str, np.ndarray]

    def _init_spaces(self, spec: GraphSpec, sized_by: Mapping[str, Any]) -> None:
        """Builds the spaces and observation buffers of ``spec``.

        Args:
            spec: The observation's sizes and features.
            sized_by: The env arguments that set N_MAX and E_MAX, with their values: an
                observation over the size limit fails with an error naming them.

        Raises:
            schedgym.envs.validation.ArgumentError: If the observation arrays would take more
                than ``MAX_OBSERVATION_BYTES``.
        """
        check_observation_size(spec.observation_bytes(), sized_by)
        self.spec_graph = spec
        self.observation_space = spec.observation_space()
        self._obs = spec.empty_observation()
        self.action_space = PointerSpace(spec.n_max)

    def _init_render(self, render_mode: str | None) -> None:
        """Sets ``render_mode``: ``None`` or one of :data:`envs.render.RENDER_MODES`.

        Raises:
            schedgym.envs.validation.ArgumentError: For any other value.
        """
        self.render_mode = check_choice("render_mode", render_mode, (None, *RENDER_MODES))

    def render(self) -> np.ndarray | None:
        """The picture of the episode so far, (H, W, 3) uint8, with ``render_mode="rgb_array"``;
        ``None`` (and a warning) without a render mode.

        Raises:
            RuntimeError: If called before the first ``reset``.
        """
        if self.render_mode is None:
            env_id = self.spec.id if self.spec is not None else type(self).__name__
            gym.logger.warn("You are calling render method without specifying any render mode; "
                            f'make the env with gym.make("{env_id}", render_mode="rgb_array")')
            return None
        return self._render_frame()

    def _render_frame(self) -> np.ndarray:
        """The env's picture as an (H, W, 3) uint8 array (its picture module draws it)."""
        raise NotImplementedError

    def action_masks(self) -> np.ndarray:
        """Legal actions as a bool vector (the sb3-contrib ``MaskablePPO`` convention)."""
        return self._obs["action_mask"].astype(bool)

    def observation(self) -> dict[str, np.ndarray]:
        """The current observation (a copy, so callers never see later in-place updates)."""
        return {key: value.copy() for key, value in self._obs.items()}

    def _check_action(self, action: Any) -> int:
        """Returns ``action`` as an int, or raises ``ValueError`` if it is not legal now."""
        if isinstance(action, np.ndarray) and action.shape in ((), (1,)):
            action = action.reshape(()).item()
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
            raise ValueError(f"action must be an integer node index, got {action!r}")
        index = int(action)
        if not 0 <= index < self.spec_graph.n_max:
            raise ValueError(f"action {index} is outside [0, {self.spec_graph.n_max})")
        if not self._obs["action_mask"][index]:
            raise ValueError(
                f"action {index} is illegal in this state; legal actions are "
                f"{np.flatnonzero(self._obs['action_mask'])[:20].tolist()}"
                f"{' ...' if self._obs['action_mask'].sum() > 20 else ''}"
            )
        return index

    @classmethod
    def instance_sets(cls) -> tuple[str, ...]:
        """Names of the fixed instance sets shipped for this env (``data/<key>/``)."""
        from schedgym.data.instance_sets import set_names
        from schedgym.envs import key_of

        return set_names(key_of(cls))

    @classmethod
    def load_instance_set(cls, name: str) -> "InstanceSet":
        """Loads a fixed instance set by name (see :meth:`instance_sets`)."""
        from schedgym.data.instance_sets import load_named
        from schedgym.envs import key_of

        return load_named(key_of(cls), name)
