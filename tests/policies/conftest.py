"""A tiny training run shared by the policy tests (session-scoped: trained once).

Every test here trains, exports or loads a torch model, so without the ``train`` extra (a lean
``pip install -e ".[dev]"``) the folder is skipped; ``tests/test_torch_free.py`` covers the lean
paths.
"""

import pytest

import train
from schedgym.policies.extras import missing

collect_ignore_glob = ["test_*.py"] if missing() else []


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``train.py`` on VM small for a few hundred steps with a tiny network."""
    out = tmp_path_factory.mktemp("runs") / "vm-tiny"
    argv = [
        "--env", "schedgym/VMReschedule-v1", "--timesteps", "256", "--seed", "3", "--out", str(out),
        "--set", "n_envs=2", "--set", "ppo.n_steps=64", "--set", "ppo.batch_size=64", "--set", "ppo.n_epochs=1",
        "--set", "policy.width=8", "--set", "policy.depth=1", "--set", "eval.freq=128",
        "--set", "instance_pool.size=4", "--no-progress",
        # A one-episode warm start from the (fast) greedy expert exercises the imitation path.
        "--set", "imitation.expert=greedy", "--set", "imitation.expert_kwargs={}",
        "--set", "imitation.episodes=1", "--set", "imitation.epochs=1",
    ]
    assert train.main(argv) == 0
    return out
