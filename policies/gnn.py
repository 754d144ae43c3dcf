"""Graph neural network over SchedGym's padded graph observations.

A batch of observations ``nodes (B, N_MAX, F)``, ``edge_index (B, 2, E_MAX)``, ... is flattened
into one disjoint-union graph of ``B * N_MAX`` nodes, graph ``b`` owning nodes
``b*N_MAX .. (b+1)*N_MAX - 1`` (:func:`flatten_batch`, no Python loop over the batch). Padded
nodes stay in place as isolated nodes, so every tensor keeps a static node dimension and the
per-node output reshapes back to ``(B, N_MAX, D)``; padded edges are dropped by boolean indexing.

The message-passing layers are written with plain ``scatter_add`` / ``scatter_reduce`` so that
the whole network exports to ONNX (``policies.export``); :func:`to_pyg` gives the same flattened
batch as a PyTorch Geometric ``Batch`` for users who want PyG's own layers.

Layers (``conv``):

- ``sage``: GraphSAGE with mean aggregation; each message is ``h_j + W_e e_ij``.
- ``gine``: GINE (Hu et al. 2020): ``MLP((1 + eps) h_i + Σ_j relu(h_j + W_e e_ij))``.
- ``gatv2``: GATv2 (Brody et al. 2022) with edge features in the attention score, multi-head.

Every layer is residual with LayerNorm, so depth can grow without the node features washing out.
"""

from __future__ import annotations

from typing import Any

from schedgym.policies.extras import raise_if_extra_missing

try:
    import torch
    from torch import nn
except ModuleNotFoundError as error:  # the train extra is not installed
    raise_if_extra_missing("schedgym.policies.gnn", error)
    raise

CONVS = ("sage", "gine", "gatv2")


def flatten_batch(
    nodes: torch.Tensor,
    edge_index: torch.Tensor,
    edge_attr: torch.Tensor,
    edge_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded batch -> one disjoint-union graph.

    Args:
        nodes: (B, N, F) node features.
        edge_index: (B, 2, E) source/target node of each edge slot, any numeric dtype.
        edge_attr: (B, E, Fe) edge features.
        edge_mask: (B, E) nonzero for real edges.

    Returns:
        ``x`` (B*N, F), ``edge_index`` (2, E') int64 with node offsets ``b*N`` and only the real
        edges, ``edge_attr`` (E', Fe).
    """
    batch, n, f = nodes.shape
    e = edge_index.shape[-1]
    x = nodes.reshape(batch * n, f)
    offsets = (torch.arange(batch, device=nodes.device) * n).view(batch, 1, 1)
    index = (edge_index.long() + offsets).permute(1, 0, 2).reshape(2, batch * e)
    keep = edge_mask.reshape(batch * e) > 0.5
    return x, index[:, keep], edge_attr.reshape(batch * e, -1)[keep]


def to_pyg(obs: dict[str, torch.Tensor]) -> Any:
    """The padded batch as a ``torch_geometric.data.Batch`` (padded nodes kept, isolated).

    ``batch`` assigns every node to its graph and ``ptr`` holds the node offsets, so PyG layers
    and pooling functions apply unchanged; ``node_mask`` and ``action_mask`` ride along flat.
    """
    from torch_geometric.data import Batch

    nodes = obs["nodes"]
    batch, n, _ = nodes.shape
    x, edge_index, edge_attr = flatten_batch(nodes, obs["edge_index"], obs["edge_attr"], obs["edge_mask"])
    graph_of_node = torch.arange(batch, device=nodes.device).repeat_interleave(n)
    ptr = torch.arange(batch + 1, device=nodes.device) * n
    return Batch(
        x=x, edge_index=edge_index, edge_attr=edge_attr, batch=graph_of_node, ptr=ptr,
        node_mask=obs["node_mask"].reshape(-1) > 0.5, action_mask=obs["action_mask"].reshape(-1) > 0.5,
    )


def _scatter_sum(src: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """out[index[k]] += src[k] over the rows of ``src`` (E', ...)."""
    shape = (num_nodes, *src.shape[1:])
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    return torch.zeros(shape, dtype=src.dtype, device=src.device).scatter_add(0, expanded, src)


def _scatter_max(src: torch.Tensor, index: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """out[i] = max(initial[i], max of src[k] with index[k] == i); ``initial`` is (N, ...).
    (ONNX has no ``include_self=False``, hence the explicit initial value.)"""
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    return initial.scatter_reduce(0, expanded, src, reduce="amax", include_self=True)


class SAGELayer(nn.Module):
    """GraphSAGE, mean aggregation, edge features added to the messages."""

    def __init__(self, width: int, edge_dim: int) -> None:
        super().__init__()
        self.edge = nn.Linear(edge_dim, width)
        self.self_lin = nn.Linear(width, width)
        self.nbr_lin = nn.Linear(width, width, bias=False)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index[0], edge_index[1]
        messages = h[src] + self.edge(edge_attr)
        total = _scatter_sum(messages, dst, h.shape[0])
        degree = _scatter_sum(torch.ones_like(dst, dtype=h.dtype).unsqueeze(-1), dst, h.shape[0])
        return self.self_lin(h) + self.nbr_lin(total / degree.clamp(min=1.0))


class GINELayer(nn.Module):
    """GINE: sum of relu(h_j + W_e e_ij), then a 2-layer MLP."""

    def __init__(self, width: int, edge_dim: int) -> None:
        super().__init__()
        self.edge = nn.Linear(edge_dim, width)
        self.eps = nn.Parameter(torch.zeros(1))
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index[0], edge_index[1]
        messages = torch.relu(h[src] + self.edge(edge_attr))
        return self.mlp((1.0 + self.eps) * h + _scatter_sum(messages, dst, h.shape[0]))


class GATv2Layer(nn.Module):
    """GATv2 attention, ``heads`` heads of ``width // heads`` channels, concatenated; the edge
    features enter the score; every node also attends to itself (a self-loop without edge
    features), so isolated and padded nodes keep their own state."""

    def __init__(self, width: int, edge_dim: int, heads: int = 4) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads, self.channels = heads, width // heads
        self.src_lin = nn.Linear(width, width)
        self.dst_lin = nn.Linear(width, width)
        self.edge = nn.Linear(edge_dim, width, bias=False)
        self.att = nn.Parameter(torch.randn(heads, self.channels) / self.channels**0.5)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        num_nodes, heads, channels = h.shape[0], self.heads, self.channels
        xs = self.src_lin(h).view(num_nodes, heads, channels)
        xd = self.dst_lin(h).view(num_nodes, heads, channels)
        src, dst = edge_index[0], edge_index[1]
        edge = self.edge(edge_attr).view(-1, heads, channels)
        score = (torch.nn.functional.leaky_relu(xs[src] + xd[dst] + edge, 0.2) * self.att).sum(-1)  # (E', H)
        self_score = (torch.nn.functional.leaky_relu(xs + xd, 0.2) * self.att).sum(-1)  # (N, H)
        # Softmax over each node's incoming edges and its self-loop, stabilised per node.
        peak = _scatter_max(score, dst, self_score)
        weight = torch.exp(score - peak[dst])
        self_weight = torch.exp(self_score - peak)
        norm = _scatter_sum(weight, dst, num_nodes) + self_weight  # (N, H)
        total = _scatter_sum(weight.unsqueeze(-1) * xs[src], dst, num_nodes) + self_weight.unsqueeze(-1) * xs
        return self.out((total / norm.unsqueeze(-1)).reshape(num_nodes, heads * channels))


_LAYERS = {"sage": SAGELayer, "gine": GINELayer, "gatv2": GATv2Layer}


class GraphEncoder(nn.Module):
    """Node embeddings of a padded graph batch.

    Args:
        node_dim: F, node features.
        edge_dim: Fe, edge features.
        width: Embedding size D.
        depth: Number of message-passing layers.
        conv: ``"sage"``, ``"gine"`` or ``"gatv2"``.
        heads: Attention heads (``gatv2`` only).
    """

    def __init__(
        self, node_dim: int, edge_dim: int, width: int = 64, depth: int = 3, conv: str = "sage", heads: int = 4
    ) -> None:
        super().__init__()
        if conv not in _LAYERS:
            raise ValueError(f"conv must be one of {CONVS}, got {conv!r}")
        if depth < 0 or width < 1:
            raise ValueError(f"need depth >= 0 and width >= 1, got depth={depth}, width={width}")
        self.width = width
        self.embed = nn.Sequential(nn.Linear(node_dim, width), nn.ReLU(), nn.Linear(width, width))
        kwargs = {"heads": heads} if conv == "gatv2" else {}
        self.layers = nn.ModuleList(_LAYERS[conv](width, edge_dim, **kwargs) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))

    def forward(
        self,
        nodes: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        edge_mask: torch.Tensor,
    ) -> torch.Tensor:
        """(B, N, F) ... -> node embeddings (B, N, D)."""
        batch, n, _ = nodes.shape
        x, index, attr = flatten_batch(nodes.float(), edge_index, edge_attr.float(), edge_mask)
        h = self.embed(x)
        for layer, norm in zip(self.layers, self.norms):
            h = h + torch.relu(norm(layer(h, index, attr)))
        return h.view(batch, n, self.width)


__all__ = ["CONVS", "GraphEncoder", "flatten_batch", "to_pyg", "SAGELayer", "GINELayer", "GATv2Layer"]
