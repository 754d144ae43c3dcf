"""SchedGym schedulers inside Vidur (microsoft/vidur, PyPI ``vidur==0.0.26``), an LLM inference
simulator: the ``vidur`` extra.

- :mod:`.predictor`: SchedGym's cost model (``envs.llm.cost``) registered as Vidur's
  execution-time predictor, so both simulators model the same hardware offline.
- :mod:`.scheduler`: a Vidur replica scheduler (``_get_next_batch``) driven by a SchedGym batching
  baseline or, through :mod:`.policy`, an exported ONNX policy (``policies.runtime``).
- :mod:`.run`: :func:`run_schedgym` and :func:`run_native` (Vidur's own vLLM and Sarathi
  schedulers) on an ``LLMInstance``, results per request.

Vidur's wheel declares far more dependencies than this path calls: install it with
``pip install --no-deps vidur==0.0.26 && pip install ddsketch``; :mod:`._shims` stands in for
the rest.
"""

from schedgym.envs.llm.vidur import _shims

_shims.install()  # before any vidur module is imported

from schedgym.envs.llm.vidur.policy import PolicyDriver  # noqa: E402
from schedgym.envs.llm.vidur.run import VidurResult, run_native, run_schedgym  # noqa: E402

__all__ = ["PolicyDriver", "VidurResult", "run_native", "run_schedgym"]
