"""``pip install schedgym`` in a fresh venv: no PyTorch, and everything but training works.

The repository is copied (so the build leaves nothing in it) and installed non-editable into a
new venv, with its dependencies from the package index; then ``tests/lean_smoke.py`` runs there:
``import torch`` must fail, every env id makes and steps, every baseline of every env plays a
short episode, and ``pretrained:vm`` and ``pretrained:soc`` run through ``evaluate.py``. About
two minutes on two cores, most of it pip; deselect it with ``-m "not slow"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What the copy leaves out: git metadata, caches and build output of earlier runs.
NOT_SOURCE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.egg-info", "build",
                                    "runs")


def _clean_env() -> dict[str, str]:
    """The environment without what would let the venv import the repository or user packages."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_USER")}
    return {**env, "PYTHONNOUSERSITE": "1"}


def _run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"{command} failed:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-5000:]}")
    return result


@pytest.mark.slow
def test_the_lean_install_runs_envs_baselines_and_onnx_policies_without_torch(tmp_path) -> None:
    source, env_dir = tmp_path / "schedgym", tmp_path / "venv"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    python = str(env_dir / "bin" / "python")
    try:
        venv.create(env_dir, with_pip=True)
        _run([python, "-m", "pip", "install", "--no-input", str(source)], tmp_path, 1500)
        freeze = _run([python, "-m", "pip", "list", "--format=freeze"], tmp_path, 120).stdout
        freeze = freeze.lower()
        installed = {line.partition("==")[0].replace("_", "-") for line in freeze.split()}
        assert "schedgym" in installed
        cuda = sorted(name for name in installed if name.startswith("nvidia"))
        assert not cuda, f"the lean install pulled CUDA packages {cuda}"  # lean_smoke checks torch
        result = _run([python, str(ROOT / "tests" / "lean_smoke.py")], tmp_path, 900)
        assert result.stdout.strip().splitlines()[-1].startswith("lean smoke: OK"), result.stdout
    finally:
        shutil.rmtree(env_dir, ignore_errors=True)  # about 0.7 GB
