"""The optional ``train`` extra, and the error raised when something needs it but it is absent.

``pip install schedgym`` runs the envs, the baselines and exported ONNX policies
(:mod:`policies.runtime`) without PyTorch; ``pip install "schedgym[train]"`` adds what training,
loading a ``.zip`` checkpoint and ONNX export need. The torch modules of this package
(``gnn``, ``pointer``, ``training``, ``imitation``, ``export``, ``ray_vec_env``) raise
:class:`MissingExtraError` when imported without it, and the entry points check before they
start (:func:`require_train`).
Importing this module imports nothing heavy.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

#: Import name -> distribution name of every package of the ``train`` extra (pyproject.toml).
TRAIN_MODULES = {
    "torch": "torch",
    "torch_geometric": "torch-geometric",
    "stable_baselines3": "stable-baselines3",
    "sb3_contrib": "sb3-contrib",
    "tensorboard": "tensorboard",
    "onnx": "onnx",
}
INSTALL_HINT = "pip install 'schedgym[train]' (for the CPU build, pip install torch==2.13.0 first)"


class MissingExtraError(ImportError, ValueError):
    """Something needs the ``train`` extra, which is not installed; the message says what and how
    to install it. Also a ``ValueError``, so the callers that report a bad policy argument (e.g.
    ``evaluate.py --policies model.zip``) report this one the same way."""


def missing(modules: Iterable[str] = TRAIN_MODULES) -> list[str]:
    """The distribution names of ``modules`` (import names of :data:`TRAIN_MODULES`) that cannot
    be imported. Looks them up without importing them, so the check is fast."""
    absent = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a blocked or half-installed package
            found = False
        if not found:
            absent.append(TRAIN_MODULES[module])
    return absent


def _missing_extra_error(what: str, packages: Iterable[str]) -> MissingExtraError:
    """The error for ``what`` (e.g. ``"train.py"``) lacking the distributions ``packages``."""
    return MissingExtraError(f"{what} needs PyTorch and the training packages "
                             f"({', '.join(packages)} not installed): {INSTALL_HINT}")


def require_train(what: str, modules: Iterable[str] = TRAIN_MODULES) -> None:
    """Raises :class:`MissingExtraError` naming ``what`` unless every one of ``modules`` (import
    names of :data:`TRAIN_MODULES`, all of them by default) is installed."""
    absent = missing(modules)
    if absent:
        raise _missing_extra_error(what, absent)


def raise_if_extra_missing(module: str, error: ModuleNotFoundError) -> None:
    """For a torch module of this package whose imports failed with ``error``: raises
    :class:`MissingExtraError` naming ``module`` if the missing module belongs to the extra, and
    returns otherwise (a bug or a broken install, which the caller re-raises as it is)."""
    root = (error.name or "").partition(".")[0]
    if root in TRAIN_MODULES:
        raise _missing_extra_error(module, [TRAIN_MODULES[root]]) from error


__all__ = ["TRAIN_MODULES", "INSTALL_HINT", "MissingExtraError", "missing", "require_train",
           "raise_if_extra_missing"]
