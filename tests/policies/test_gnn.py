"""The GNN extractor: flattening, padding, masks, batches of graphs of different sizes."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from schedgym import envs  # noqa: F401
from schedgym.policies.gnn import CONVS, GraphEncoder, flatten_batch, to_pyg
from schedgym.policies.pointer import MASKED_LOGIT, PointerNet, net_kwargs_for


def _batch(observations):
    return {key: torch.as_tensor(np.stack([obs[key] for obs in observations])) for key in observations[0]}


@pytest.fixture(scope="module")
def vm_observations():
    """Real VM observations of different sizes (different instances), both phases."""
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    observations = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        observations.append(obs)
        legal = np.flatnonzero(obs["action_mask"][1:]) + 1
        obs, *_ = env.step(int(legal[0]))  # a VM: phase 1
        observations.append(obs)
    return env, observations


def test_flatten_offsets_and_drops_padded_edges():
    nodes = torch.arange(2 * 4 * 1, dtype=torch.float32).view(2, 4, 1)
    edge_index = torch.tensor([[[0, 1, 0], [1, 2, 0]], [[2, 3, 0], [3, 0, 0]]])
    edge_attr = torch.tensor([[[1.0], [2.0], [9.0]], [[3.0], [4.0], [9.0]]])
    edge_mask = torch.tensor([[1, 1, 0], [1, 1, 0]], dtype=torch.int8)
    x, index, attr = flatten_batch(nodes, edge_index, edge_attr, edge_mask)
    assert x.shape == (8, 1)
    assert index.tolist() == [[0, 1, 6, 7], [1, 2, 7, 4]]
    assert attr.view(-1).tolist() == [1.0, 2.0, 3.0, 4.0]


def test_to_pyg_batch(vm_observations):
    _, observations = vm_observations
    batch = to_pyg(_batch(observations[:2]))
    n = observations[0]["nodes"].shape[0]
    assert batch.num_graphs == 2 and batch.x.shape[0] == 2 * n
    assert int(batch.edge_index.shape[1]) == int(sum(o["edge_mask"].sum() for o in observations[:2]))
    assert batch.edge_index.max() < 2 * n


@pytest.mark.parametrize("conv", CONVS)
def test_batching_graphs_of_different_sizes(conv, vm_observations):
    """A graph's outputs do not depend on the other graphs of its batch."""
    env, observations = vm_observations
    assert len({int(o["node_mask"].sum()) for o in observations}) > 1  # really different sizes
    torch.manual_seed(0)
    net = PointerNet(**net_kwargs_for(env.observation_space, env.unwrapped.spec_graph.node_features),
                     width=16, depth=2, conv=conv).eval()
    with torch.no_grad():
        together, values = net.forward_obs(_batch(observations))
        for i, obs in enumerate(observations):
            alone, value = net.forward_obs(_batch([obs]))
            np.testing.assert_allclose(together[i].numpy(), alone[0].numpy(), rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(values[i].numpy(), value[0].numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("conv", CONVS)
def test_padding_is_ignored(conv, vm_observations):
    """Garbage in padded edge slots and padded node rows changes no logit of a real node."""
    env, observations = vm_observations
    obs = observations[1]
    torch.manual_seed(1)
    net = PointerNet(**net_kwargs_for(env.observation_space, env.unwrapped.spec_graph.node_features),
                     width=16, depth=2, conv=conv).eval()
    noisy = {key: value.copy() for key, value in obs.items()}
    rng = np.random.default_rng(0)
    pad_edges = noisy["edge_mask"] == 0
    pad_nodes = noisy["node_mask"] == 0
    assert pad_edges.any() and pad_nodes.any()
    noisy["edge_index"][:, pad_edges] = rng.integers(0, obs["nodes"].shape[0], (2, int(pad_edges.sum())))
    noisy["edge_attr"][pad_edges] = rng.normal(size=(int(pad_edges.sum()), obs["edge_attr"].shape[1]))
    noisy["nodes"][pad_nodes] = rng.normal(size=(int(pad_nodes.sum()), obs["nodes"].shape[1]))
    with torch.no_grad():
        clean_logits, clean_value = net.forward_obs(_batch([obs]))
        noisy_logits, noisy_value = net.forward_obs(_batch([noisy]))
    real = obs["node_mask"].astype(bool)
    np.testing.assert_allclose(clean_logits[0, real].numpy(), noisy_logits[0, real].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(clean_value.numpy(), noisy_value.numpy(), rtol=1e-4, atol=1e-5)


def test_masked_and_padded_nodes_get_masked_logit(vm_observations):
    env, observations = vm_observations
    net = PointerNet(**net_kwargs_for(env.observation_space), width=16, depth=1).eval()
    with torch.no_grad():
        logits, _ = net.forward_obs(_batch(observations))
    legal = np.stack([o["action_mask"] for o in observations]).astype(bool)
    assert np.all(logits.numpy()[~legal] == MASKED_LOGIT)
    assert np.all(logits.numpy()[legal] > MASKED_LOGIT / 2)


def test_encoder_rejects_bad_settings():
    with pytest.raises(ValueError, match="conv"):
        GraphEncoder(4, 1, conv="gcn")
    with pytest.raises(ValueError, match="heads"):
        GraphEncoder(4, 1, width=10, conv="gatv2", heads=4)
