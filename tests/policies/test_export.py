"""ONNX export and the torch-free runtime: parity with torch, metadata, mismatch refusal."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from schedgym import envs  # noqa: F401
from schedgym.policies import runtime
from schedgym.policies.export import export_net
from schedgym.policies.pointer import torch_logits
from schedgym.policies.gnn import CONVS
from schedgym.policies.pointer import PointerNet, net_kwargs_for


def _observations(env, seeds, steps=12):
    """Real observations from random legal rollouts."""
    rng = np.random.default_rng(0)
    observations = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        for _ in range(steps):
            observations.append(obs)
            legal = np.flatnonzero(obs["action_mask"])
            acting = legal[legal != 0]
            obs, _, terminated, truncated, _ = env.step(int(rng.choice(acting if len(acting) else legal)))
            if terminated or truncated:
                break
    return observations


def _export(env, env_id, path, conv="gine", kwargs=None):
    spec = env.unwrapped.spec_graph
    torch.manual_seed(0)
    net = PointerNet(**net_kwargs_for(env.observation_space, spec.node_features), width=16, depth=2, conv=conv).eval()
    export_net(net, path, spec.metadata(), env_id, kwargs or {})
    return net


def _envs():
    cases = [("schedgym/VMReschedule-v1", {"size": "small"})]
    try:
        gym.make("schedgym/SoCDAG-v0").reset(seed=0)
        cases.append(("schedgym/SoCDAG-v0", {}))
    except Exception:  # noqa: BLE001  (SoC is optional while it is being written)
        pass
    return cases


@pytest.mark.parametrize("env_id,kwargs", _envs())
@pytest.mark.parametrize("conv", CONVS)
def test_onnx_matches_torch_on_real_observations(tmp_path, env_id, kwargs, conv):
    env = gym.make(env_id, **kwargs)
    net = _export(env, env_id, tmp_path / "p.onnx", conv, kwargs)
    policy = runtime.load(tmp_path / "p.onnx")
    observations = _observations(env, seeds=(0, 1))
    for obs in observations:
        legal = obs["action_mask"].astype(bool)
        expected = torch_logits(net, obs)
        got = policy.logits(obs)
        np.testing.assert_allclose(got[legal], expected[legal], rtol=1e-4, atol=1e-4)
        assert np.all(got[~legal] < -1e8)
        assert policy.act(obs) == int(np.argmax(expected))
        assert legal[policy.act(obs, deterministic=False, rng=np.random.default_rng(0))]
    batch = {key: np.stack([o[key] for o in observations[:5]]) for key in observations[0]}
    np.testing.assert_allclose(policy.logits(batch), torch_logits(net, batch), rtol=1e-4, atol=1e-4)


def test_metadata_records_env_and_features(tmp_path):
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    _export(env, "schedgym/VMReschedule-v1", tmp_path / "p.onnx", kwargs={"size": "small"})
    meta = runtime.load(tmp_path / "p.onnx").metadata
    spec = env.unwrapped.spec_graph
    assert meta["env_id"] == "schedgym/VMReschedule-v1" and meta["env_version"] == 1
    assert meta["n_max"] == spec.n_max and meta["e_max"] == spec.e_max
    assert meta["node_features"] == list(spec.node_features)
    assert meta["env_kwargs"] == {"size": "small"}


def test_a_failed_export_leaves_the_previous_file(tmp_path, monkeypatch):
    import onnx

    env = gym.make("schedgym/VMReschedule-v1", size="small")
    _export(env, "schedgym/VMReschedule-v1", tmp_path / "p.onnx", kwargs={"size": "small"})
    previous = (tmp_path / "p.onnx").read_bytes()

    def refuse(model):
        assert model.metadata_props, "checked before its metadata were added"
        raise onnx.checker.ValidationError("refused")

    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    with pytest.raises(onnx.checker.ValidationError):
        _export(env, "schedgym/VMReschedule-v1", tmp_path / "p.onnx", conv="sage", kwargs={"size": "small"})
    assert (tmp_path / "p.onnx").read_bytes() == previous  # the file is only written once complete
    assert [path.name for path in tmp_path.iterdir()] == ["p.onnx"]


def test_mismatched_observation_is_refused(tmp_path):
    small = gym.make("schedgym/VMReschedule-v1", size="small")
    _export(small, "schedgym/VMReschedule-v1", tmp_path / "p.onnx", kwargs={"size": "small"})
    policy = runtime.load(tmp_path / "p.onnx")
    medium = gym.make("schedgym/VMReschedule-v1", size="medium")
    obs, _ = medium.reset(seed=0)
    with pytest.raises(ValueError, match=r"exported for schedgym/VMReschedule-v1.*N_MAX=127"):
        policy.act(obs)
    with pytest.raises(ValueError, match="differs"):
        policy.check_env(medium)
    bad = dict(small.reset(seed=0)[0])
    bad["nodes"] = bad["nodes"][:, :-1]
    with pytest.raises(ValueError, match="nodes has shape"):
        policy.act(bad)
    del bad["globals"]
    with pytest.raises(ValueError, match="lacks"):
        policy.act(bad)
    if ("schedgym/SoCDAG-v0", {}) in _envs():
        soc = gym.make("schedgym/SoCDAG-v0")
        with pytest.raises(ValueError, match="exported for schedgym/VMReschedule-v1"):
            policy.check_env(soc)
        with pytest.raises(ValueError, match="does not match this policy"):
            policy.act(soc.reset(seed=0)[0])


def test_runtime_does_not_import_torch(tmp_path):
    env = gym.make("schedgym/VMReschedule-v1", size="small")
    _export(env, "schedgym/VMReschedule-v1", tmp_path / "p.onnx")
    obs, _ = env.reset(seed=0)
    np.savez(tmp_path / "obs.npz", **obs)
    code = (
        "import sys, numpy as np\n"
        "from schedgym.policies import runtime\n"
        f"p = runtime.load({str(tmp_path / 'p.onnx')!r})\n"
        f"obs = dict(np.load({str(tmp_path / 'obs.npz')!r}))\n"
        "a = p.act(obs)\n"
        "assert obs['action_mask'][a]\n"
        "assert 'torch' not in sys.modules, 'runtime imported torch'\n"
        "print(a)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        runtime.load(tmp_path / "nope.onnx")


def test_validation_curve_picture(tmp_path) -> None:
    from schedgym.policies.curves import load_curve, plot_validation_curve

    sidecar = tmp_path / "p.json"
    sidecar.write_text('{"env_id": "x", "validation_curve": [{"timesteps": 0, "wall_s": 1, "m": 0.5},'
                       ' {"timesteps": 10, "wall_s": 61, "m": 0.3}]}')
    curve, env_id = load_curve(sidecar)
    assert env_id == "x" and [row["m"] for row in curve] == [0.5, 0.3]
    out = tmp_path / "p.png"
    plot_validation_curve(curve, "m", out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["p.json", "p.png"]  # no temporary left
    with pytest.raises(ValueError, match="no 'missing' values"):
        plot_validation_curve(curve, "missing", out)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json is not a readable JSON curve"):
        load_curve(tmp_path / "bad.json")
