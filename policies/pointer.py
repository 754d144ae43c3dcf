"""The pointer actor-critic for sb3-contrib's ``MaskablePPO``.

:class:`PointerNet` is the whole network: the GNN of :mod:`policies.gnn` embeds every node; the
actor scores each node with one shared head (a pointer, so one set of weights serves any number
of nodes) from the node's embedding and a graph context; the critic reads the same context.
The context is the mean and max of the real nodes' embeddings, the embedded ``globals`` and the
embedding of the node flagged as selected (the first half of a two-step decision, e.g. the VM
whose destination is chosen next), so a phase-1 destination score sees what is being placed.

Illegal and padded nodes get the logit :data:`MASKED_LOGIT`, so they never get probability,
whatever mask the caller passes; ``MaskablePPO`` applies ``action_masks`` on top.

:class:`PointerPolicy` plugs the net into ``MaskablePPO``: the features extractor returns
``[logits | value]`` and the policy's action and value nets just split it. Everything lives in
this package, so a saved model loads wherever ``schedgym`` is installed.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from schedgym.envs.graph import OBS_KEYS
from schedgym.policies.extras import raise_if_extra_missing

try:
    import torch
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn
except ModuleNotFoundError as error:  # the train extra is not installed
    raise_if_extra_missing("schedgym.policies.pointer", error)
    raise

from schedgym.policies.gnn import GraphEncoder

MASKED_LOGIT = -1e9
#: Observation keys in the order :meth:`PointerNet.forward` (and the ONNX graph) takes them.
INPUT_NAMES = OBS_KEYS  # the network reads every observation array, in the contract's order


class PointerNet(nn.Module):
    """Padded graph batch -> (logits (B, N), value (B, 1)).

    Args:
        node_dim, edge_dim, global_dim: F, Fe and G of the observation.
        width, depth, conv, heads: The GNN (:class:`policies.gnn.GraphEncoder`).
        selected_index: Column of the node feature that flags the selected node, or ``None``.
    """

    def __init__(
        self,
        node_dim: int,
        edge_dim: int,
        global_dim: int,
        width: int = 64,
        depth: int = 3,
        conv: str = "sage",
        heads: int = 4,
        selected_index: int | None = None,
    ) -> None:
        super().__init__()
        self.selected_index = selected_index
        self.encoder = GraphEncoder(node_dim, edge_dim, width, depth, conv, heads)
        self.globals_embed = nn.Sequential(nn.Linear(global_dim, width), nn.ReLU())
        context_dim = 4 * width
        self.context = nn.Sequential(nn.Linear(context_dim, width), nn.ReLU())
        self.node_lin = nn.Linear(width, width)
        self.context_lin = nn.Linear(width, width, bias=False)
        self.score = nn.Linear(width, 1)
        self.value = nn.Sequential(nn.Linear(context_dim, width), nn.ReLU(), nn.Linear(width, 1))
        # Near-uniform initial policy, value near 0.
        nn.init.normal_(self.score.weight, std=0.01)
        nn.init.zeros_(self.score.bias)
        nn.init.normal_(self.value[-1].weight, std=0.01)
        nn.init.zeros_(self.value[-1].bias)

    def forward(
        self,
        nodes: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        node_mask: torch.Tensor,
        edge_mask: torch.Tensor,
        globals_: torch.Tensor,
        action_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = nodes.float()
        h = self.encoder(nodes, edge_index, edge_attr, edge_mask)  # (B, N, D)
        real = (node_mask > 0.5).unsqueeze(-1)  # (B, N, 1)
        count = real.float().sum(1).clamp(min=1.0)
        mean = torch.where(real, h, torch.zeros_like(h)).sum(1) / count
        peak = torch.where(real, h, torch.full_like(h, MASKED_LOGIT)).amax(1)
        if self.selected_index is None:
            selected = torch.zeros_like(mean)
        else:
            flag = nodes[:, :, self.selected_index].unsqueeze(-1) * real.float()
            selected = (h * flag).sum(1)
        summary = torch.cat([mean, peak, self.globals_embed(globals_.float()), selected], dim=-1)  # (B, 4D)
        context = self.context(summary)
        hidden = torch.relu(self.node_lin(h) + self.context_lin(context).unsqueeze(1))
        scores = self.score(hidden).squeeze(-1)  # (B, N)
        legal = (action_mask > 0.5) & (node_mask > 0.5)
        logits = torch.where(legal, scores, torch.full_like(scores, MASKED_LOGIT))
        return logits, self.value(summary)

    def forward_obs(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` on an observation dict (batched)."""
        return self(*(obs[key] for key in INPUT_NAMES))


def obs_tensors(obs: dict[str, Any]) -> tuple[dict[str, torch.Tensor], bool]:
    """Torch tensors of a numpy observation dict with a leading batch axis, and whether ``obs``
    was already batched (``nodes`` of rank 3); a single observation gets a batch axis of 1."""
    batched = np.ndim(obs["nodes"]) == 3
    tensors = {key: torch.as_tensor(np.asarray(value) if batched else np.asarray(value)[None])
               for key, value in obs.items()}
    return tensors, batched


def torch_logits(net: "PointerNet", obs: dict[str, Any]) -> np.ndarray:
    """Pointer logits of ``net`` on one numpy observation, (N_MAX,), or a batch, (B, N_MAX)."""
    tensors, batched = obs_tensors(obs)
    with torch.no_grad():
        logits, _ = net.forward_obs(tensors)
    return logits.numpy() if batched else logits.numpy()[0]


def net_kwargs_for(observation_space: gym.spaces.Dict, node_features: tuple[str, ...] | None = None,
                   selected_feature: str | None = "selected") -> dict[str, int | None]:
    """Input sizes of :class:`PointerNet` for an env's observation space (and the selected
    column when its node feature names are given)."""
    selected = None
    if node_features is not None and selected_feature in node_features:
        selected = list(node_features).index(selected_feature)
    return {
        "node_dim": observation_space["nodes"].shape[-1],
        "edge_dim": observation_space["edge_attr"].shape[-1],
        "global_dim": observation_space["globals"].shape[-1],
        "selected_index": selected,
    }


class PointerFeatures(BaseFeaturesExtractor):
    """SB3 features extractor that runs the whole :class:`PointerNet` and returns
    ``[logits (N) | value (1)]``; ``PointerPolicy`` splits it."""

    def __init__(self, observation_space: gym.spaces.Dict, **net_kwargs: Any) -> None:
        n_max = observation_space["nodes"].shape[0]
        super().__init__(observation_space, features_dim=n_max + 1)
        sizes = net_kwargs_for(observation_space)
        sizes.update(net_kwargs)
        self.net = PointerNet(**sizes)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        logits, value = self.net.forward_obs(observations)
        return torch.cat([logits, value], dim=-1)


class _Split(nn.Module):
    """The policy's "MLP extractor": logits to the actor, value to the critic."""

    def __init__(self, n_max: int) -> None:
        super().__init__()
        self.n_max = n_max
        self.latent_dim_pi = n_max
        self.latent_dim_vf = 1

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, : self.n_max]

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, self.n_max :]


class PointerPolicy(MaskableActorCriticPolicy):
    """``MaskableActorCriticPolicy`` whose logits are :class:`PointerNet`'s per-node scores.

    Pass the network's settings as ``policy_kwargs={"features_extractor_kwargs": {"width": 64,
    "depth": 3, "conv": "sage", "selected_index": 12}}``. ``net_arch`` and ``ortho_init`` are
    ignored: the pointer net has its own heads and initialisation. The features extractor is
    shared by actor and critic.
    """

    def __init__(self, observation_space: gym.spaces.Dict, action_space: gym.spaces.Discrete,
                 lr_schedule: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", PointerFeatures)
        kwargs["share_features_extractor"] = True
        kwargs["ortho_init"] = False
        kwargs["net_arch"] = []
        if action_space.n != observation_space["nodes"].shape[0]:
            raise ValueError(f"pointer actions need Discrete(N_MAX): {action_space.n} actions for "
                             f"{observation_space['nodes'].shape[0]} nodes")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = _Split(self.action_space.n)

    def _build(self, lr_schedule: Any) -> None:
        self._build_mlp_extractor()
        self.action_net = nn.Identity()
        self.value_net = nn.Identity()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    @property
    def pointer_net(self) -> PointerNet:
        """The underlying network (what :mod:`policies.export` exports)."""
        return self.features_extractor.net


__all__ = ["MASKED_LOGIT", "INPUT_NAMES", "PointerNet", "PointerFeatures", "PointerPolicy", "net_kwargs_for",
           "obs_tensors", "torch_logits"]
