"""Train a GNN pointer policy with MaskablePPO on a SchedGym env.

Example:
    python train.py --env schedgym/VMReschedule-v1 --timesteps 300000 --seed 0 --out runs/vm-small

Hyperparameters come from ``policies/hyperparams/<Name>-vN.yaml``; override any of them with
``--set ppo.learning_rate=1e-4 --set policy.conv=gatv2``. The run folder receives
``config.yaml`` (the exact config), TensorBoard logs (``tb/``, with the env's own metrics under
``env/`` and the validation metrics under ``val/``), ``eval_curve.json``, ``best_model.zip``,
``last_model.zip`` (the checkpoint, every ``checkpoint_freq`` timesteps), ``model.onnx`` (the best
model, exported), ``summary.json`` and ``eval_curve.png``, each written atomically. ``--resume``
continues a run, killed or finished, from its ``last_model.zip`` and ``config.yaml`` up to
``--timesteps`` in total (with ``--set`` or ``--config`` it is an error: the saved config is kept as
it is); a run already trained that far is left untouched. Two optional
warm starts: ``init_from: runs/x/best_model.zip`` (weights of another run, any size of the same
env) and an ``imitation`` section (clone a baseline first, see ``policies/imitation.py``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from schedgym.envs import ENV_IDS
from schedgym.policies.extras import MissingExtraError, require_train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env", required=True, choices=ENV_IDS, help="registered env id")
    parser.add_argument("--timesteps", type=int, help="total env steps (default: the YAML's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--config", type=Path, help="YAML to use instead of policies/hyperparams/<env>.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hyperparameter, e.g. ppo.n_steps=128 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last_model.zip with OUT/config.yaml (no --set/--config)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    if args.resume and (args.set or args.config):
        # A resumed run continues with its own OUT/config.yaml; overrides would be silently ignored.
        given = " and ".join(option for option, value in (("--set", args.set), ("--config", args.config)) if value)
        parser.error(f"--resume continues with OUT/config.yaml and cannot be combined with {given}; "
                     "start a new run (another --out) to change the configuration")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_train("training")
    except MissingExtraError as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        return 2
    # torch: only once the arguments are valid and the extra is known to be there
    from schedgym.policies.checkpoint import RunFolderError, has_checkpoint, read_config
    from schedgym.policies.training import load_config, train

    out: Path = args.out
    try:
        resume = args.resume and has_checkpoint(out)
        if args.resume and not resume:
            print(f"note: {out}/last_model.zip not found, starting a new run")
        if resume:
            config = read_config(out, args.env)
        else:
            config = load_config(args.env, args.set, args.config)
            config["seed"] = args.seed
        if args.timesteps is not None:
            config["timesteps"] = args.timesteps
        config.setdefault("commands", []).append("python " + shlex.join(sys.argv if argv is None else ["train.py", *argv]))
        train(config, out, resume=resume, progress=not args.no_progress)
    except RunFolderError as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
