"""The envs, the baselines, evaluate.py and ONNX policies run without the ``train`` extra.

``tests/lean_smoke.py --block`` runs in a subprocess (this process may have imported torch
already) with a finder that refuses torch, torch-geometric, stable-baselines3, sb3-contrib,
tensorboard and onnx, and fails if anything but the torch modules even tries to import them.
``tests/test_lean_install.py`` runs the same script in a fresh venv without the extra.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def test_lean_paths_never_import_torch_and_torch_paths_name_the_extra(tmp_path) -> None:
    result = subprocess.run([sys.executable, str(TESTS / "lean_smoke.py"), "--block"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.strip().splitlines()[-1].startswith("lean smoke: OK"), result.stdout


def test_require_train_names_what_needs_the_missing_packages(monkeypatch) -> None:
    from schedgym.policies import extras

    monkeypatch.setitem(sys.modules, "onnx", None)  # find_spec reports a None entry as absent
    extras.require_train("anything", ())  # nothing asked, nothing missing
    assert extras.missing(("onnx",)) == ["onnx"]
    hint = r"^loading x\.zip needs PyTorch .*\(onnx not installed\): pip install 'schedgym\[train"
    with pytest.raises(extras.MissingExtraError, match=hint):
        extras.require_train("loading x.zip", ("onnx",))


def test_a_missing_extra_package_is_reported_as_such_and_any_other_as_it_is() -> None:
    from schedgym.policies import extras

    module = "schedgym.policies.gnn"
    with pytest.raises(extras.MissingExtraError, match=r"^schedgym\.policies\.gnn needs .*\(torch"):
        extras.raise_if_extra_missing(module, ModuleNotFoundError(name="torch.nn"))
    # Not a package of the extra (e.g. a dependency of torch itself): the caller re-raises it.
    assert extras.raise_if_extra_missing(module, ModuleNotFoundError(name="sympy")) is None
    # A ValueError too, so evaluate.py reports it as a bad --policies value.
    assert issubclass(extras.MissingExtraError, ValueError)


def test_the_extra_checked_at_run_time_is_the_extra_in_pyproject() -> None:
    from schedgym.policies.extras import TRAIN_MODULES

    project = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["project"]
    train = project["optional-dependencies"]["train"]
    names = {re.match(r"[A-Za-z0-9._-]+", requirement).group().lower() for requirement in train}
    assert set(TRAIN_MODULES.values()) == names
