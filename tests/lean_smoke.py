"""What the lean install (``pip install schedgym``, no PyTorch) must run, as one standalone script.

Run by ``tests/test_lean_install.py`` inside a fresh venv, and by ``tests/test_torch_free.py``
with ``--block`` (a ``sys.meta_path`` finder that refuses the packages of the ``train`` extra and
records every attempt to import one) in the test environment. Each check raises
``AssertionError`` with what went wrong; the last line printed is ``lean smoke: OK ...``.

    python tests/lean_smoke.py [--block]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.util
import io
import math
import pkgutil
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

#: The import names of the ``train`` extra (``schedgym.policies.extras.TRAIN_MODULES``).
TRAIN_PACKAGES = (
    "torch", "torch_geometric", "stable_baselines3", "sb3_contrib", "tensorboard", "onnx",
)
#: What every error about the missing extra tells the user to run.
HINT = "pip install 'schedgym[train]'"
#: The modules of schedgym that need the extra; every other module must import without it.
TORCH_MODULES = {f"schedgym.policies.{name}"
                 for name in ("gnn", "pointer", "training", "imitation", "export", "ray_vec_env")}
#: Adapter packages for external simulators (their own extras): imported only where installed.
SIMULATOR_ADAPTERS = {"schedgym.envs.iot.leaf": "leaf", "schedgym.envs.llm.vidur": "vidur"}
#: The fixed instance set each env's baselines play on (small ones); other envs use their first.
SMALL_SETS = {
    "schedgym/VMReschedule-v2": "small-test",
    "schedgym/VMReschedule-v1": "v1-small-test",
    "schedgym/SoCDAG-v0": "static-apps",
    "schedgym/LLMServe-v0": "code-bursty-val",
    "schedgym/IoTPlacement-v0": "small-tree-light-val",
    "schedgym/LLMCluster-v0": "code-bursty-val",
}
#: Steps of each baseline episode (a short one runs the code paths of reset and act).
MAX_STEPS = 40
#: The shipped ONNX policies to run through evaluate.py, with an instance set each fits.
PRETRAINED = {
    "vm": ("schedgym/VMReschedule-v1", "v1-small-test"),  # trained on v1 (pretrained/README.md)
    "soc": ("schedgym/SoCDAG-v0", "stream-light-noise0.2"),
    "iot": ("schedgym/IoTPlacement-v0", "small-tree-light-val"),
}


class BlockTrainExtra(importlib.abc.MetaPathFinder):
    """Refuses the packages of the ``train`` extra as if they were not installed, and records
    every attempt (even one that a caller catches)."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 (the finder protocol)
        if name.partition(".")[0] in TRAIN_PACKAGES:
            self.attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


def check_no_torch() -> None:
    for name in TRAIN_PACKAGES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        raise AssertionError(f"{name} is importable: the lean install must not pull it")


def check_imports(blocker: BlockTrainExtra) -> int:
    """Imports every torch-free module, none of which may even try the extra; then each torch
    module, which must fail with the install hint."""
    import schedgym
    from schedgym.policies.extras import TRAIN_MODULES, MissingExtraError

    assert set(TRAIN_MODULES) == set(TRAIN_PACKAGES), "lean_smoke.TRAIN_PACKAGES is out of date"
    names = {info.name for info in pkgutil.walk_packages(schedgym.__path__, "schedgym.")}
    names |= {"schedgym.evaluate", "schedgym.train"}
    for package, simulator in SIMULATOR_ADAPTERS.items():
        if importlib.util.find_spec(simulator) is None:
            names = {name for name in names if not name.startswith(package)}
    assert TORCH_MODULES <= names, TORCH_MODULES - names
    for name in sorted(names - TORCH_MODULES):  # first, so that no torch module imports them
        importlib.import_module(name)
        assert not blocker.attempts, f"{name} tried to import {blocker.attempts}"
    for name in sorted(TORCH_MODULES):
        try:
            importlib.import_module(name)
        except MissingExtraError as error:
            assert HINT in str(error) and name in str(error), error
        else:
            raise AssertionError(f"{name} imported without torch; drop it from TORCH_MODULES")
    return len(names)


def check_every_env_id() -> list[str]:
    """Every registered id makes, resets and steps with its default arguments."""
    import gymnasium as gym

    from schedgym import envs

    registered = sorted(env_id for env_id in gym.registry if env_id.startswith("schedgym/"))
    assert registered == sorted(envs.ENV_IDS), (registered, envs.ENV_IDS)
    for env_id in registered:
        env = gym.make(env_id)
        obs, _ = env.reset(seed=0)
        assert obs["action_mask"][0], f"{env_id}: node 0 must be legal after reset"
        env.step(0)
        env.close()
    return registered


def check_every_baseline(env_id: str) -> list[str]:
    """Each baseline of ``env_id`` plays up to :data:`MAX_STEPS` legal actions on the first
    instance of a small set; an episode that ends has every leaderboard metric in ``info``."""
    import gymnasium as gym

    from schedgym import baselines, envs

    env_class = envs.env_class(env_id)
    sets = env_class.instance_sets()
    assert sets, f"{env_id} ships no instance set"
    instance_set = env_class.load_instance_set(SMALL_SETS.get(env_id, sets[0]))
    env = gym.make(env_id, **instance_set.env_kwargs)
    names = baselines.names(env_id)
    for name in names:
        scheduler = baselines.make(env_id, name)
        env.reset(seed=0, options={"instance": instance_set.instances[0]})
        scheduler.reset(env, seed=0)
        ended = False
        for _ in range(MAX_STEPS):
            action = int(scheduler.act(env))
            assert env.unwrapped.action_masks()[action], f"{env_id} {name}: illegal action {action}"
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                ended = True
                break
        for metric in env_class.leaderboard_metrics if ended else ():  # some are final-only
            assert not math.isnan(float(info[metric])), f"{env_id} {name}: {metric} is NaN"
    env.close()
    return [f"{env_id}:{name}" for name in names]


def check_pretrained() -> None:
    """``evaluate.py`` runs each shipped ONNX policy beside a baseline, and the same policy
    through ``policies.runtime`` picks a legal action."""
    import gymnasium as gym

    from schedgym import envs, evaluate
    from schedgym.policies import runtime
    from schedgym.policies.scheduler import resolve

    for name, (env_id, set_name) in PRETRAINED.items():
        table = io.StringIO()
        with redirect_stdout(table):
            status = evaluate.main(["--env", env_id, "--instances", set_name, "--policies",
                                    f"random,pretrained:{name}", "--no-progress"])
        assert status == 0, f"evaluate.py exited with {status} for pretrained:{name}"
        assert f"| pretrained:{name} |" in table.getvalue(), table.getvalue()
        policy = runtime.load(resolve(f"pretrained:{name}"), env_id=env_id)
        instance_set = envs.env_class(env_id).load_instance_set(set_name)
        env = gym.make(env_id, **instance_set.env_kwargs)
        obs, _ = env.reset(seed=0, options={"instance": instance_set.instances[0]})
        policy.check_env(env)
        action = policy.act(obs)
        legal = obs["action_mask"][action] and obs["node_mask"][action]
        assert legal, f"{name}: illegal action {action}"
        env.close()


def check_train_extra_errors() -> None:
    """``train.py`` and a ``.zip`` checkpoint in ``evaluate.py`` fail with status 2 and the
    install hint, not a traceback; so does importing a torch module."""
    from schedgym import evaluate, train

    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "best_model.zip"
        checkpoint.write_bytes(b"")  # never opened: the missing extra is reported first
        runs = {
            "train.py": lambda: train.main(["--env", "schedgym/VMReschedule-v1", "--out", folder]),
            "evaluate.py": lambda: evaluate.main(["--env", "schedgym/VMReschedule-v1",
                                                  "--instances", "small-test",
                                                  "--policies", str(checkpoint)]),
        }
        for script, run in runs.items():
            stderr = io.StringIO()
            with redirect_stderr(stderr):
                try:
                    status = run()
                except SystemExit as exit_:  # argparse's way out
                    status = exit_.code
            assert status == 2, f"{script} exited with {status} without torch"
            assert HINT in stderr.getvalue(), f"{script} without torch said {stderr.getvalue()!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", action="store_true", help="refuse the train extra's packages")
    args = parser.parse_args(argv)
    blocker = BlockTrainExtra()
    if args.block:
        sys.meta_path.insert(0, blocker)
    check_no_torch()
    blocker.attempts.clear()  # check_no_torch's own attempts
    env_ids = check_every_env_id()
    played = [run for env_id in env_ids for run in check_every_baseline(env_id)]
    check_pretrained()
    # Not even an attempt that someone caught: these paths must not touch the extra at all.
    assert not blocker.attempts, f"envs, baselines or ONNX tried to import {blocker.attempts}"
    modules = check_imports(blocker)  # tries the torch modules last, on purpose
    check_train_extra_errors()
    print(f"lean smoke: OK {modules} modules, {len(env_ids)} env ids, {len(played)} baseline runs, "
          f"{len(PRETRAINED)} pretrained policies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
