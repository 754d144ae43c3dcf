"""Import shims that let ``vidur==0.0.26`` import when it was installed without its dependencies.

Vidur's wheel declares wandb, plotly_express, scikit-learn, huggingface_hub, fasteners,
streamlit, ... (about 60 packages in all, some pinning shared ones), but the path this adapter
uses (the simulator, the vLLM and Sarathi replica schedulers, our own execution-time predictor)
only *imports* some of them at module level and never calls them. The extra installs Vidur with
``--no-deps`` plus the one package the path does call (ddsketch, whose sketches the metrics store
builds), and :func:`install` stands in for the rest:

- ``wandb``, ``plotly_express``: imported by ``vidur.metrics``; called only to log to Weights &
  Biases and to plot, which the adapter turns off (``write_metrics=False``).
- ``sklearn``, ``huggingface_hub``, ``fasteners``: imported by Vidur's execution-time predictor
  registry for its profiling-based predictors (training scikit-learn models on CSVs downloaded from
  a model hub, under a file lock); the adapter registers SchedGym's cost model instead.

A stand-in is used only where the real package is not installed, and any use of one raises an
``ImportError`` that names the package, so a path we did not foresee fails loudly, never silently.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

#: Top-level packages Vidur imports but the adapter's path never calls (see the module docstring).
STAND_INS = ("wandb", "plotly_express", "sklearn", "huggingface_hub", "fasteners")


class _Missing:
    """What a stand-in module hands out for any name: unusable, and it says why."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ImportError(f"{self._name} is not installed: SchedGym's Vidur adapter imports Vidur "
                          f"without it (schedgym.envs.llm.vidur._shims); install it to use this")

    def __getattr__(self, attribute: str) -> "_Missing":
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Missing(f"{self._name}.{attribute}")

    def __bool__(self) -> bool:  # ``if wandb.run:`` reads as "no run"
        return False


class _StandInModule(types.ModuleType):
    def __getattr__(self, attribute: str) -> _Missing:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Missing(f"{self.__name__}.{attribute}")


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a stand-in module for the packages in ``names`` and their submodules."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".")[0] not in self.names:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []  # a package, so that ``import sklearn.ensemble`` resolves here too
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: every attribute is a :class:`_Missing`."""


_installed: _StandInFinder | None = None


def install() -> tuple[str, ...]:
    """Adds the stand-ins for the packages of :data:`STAND_INS` that are not installed (once);
    returns their names."""
    global _installed
    if _installed is None:
        missing = tuple(name for name in STAND_INS
                        if name not in sys.modules and importlib.util.find_spec(name) is None)
        _installed = _StandInFinder(missing)
        sys.meta_path.append(_installed)  # last: a real package always wins
    return _installed.names
