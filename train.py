"""Train a GNN pointer policy with MaskablePPO on a SchedGym env.

Example:
    python train.py --env schedgym/VMReschedule-v1 --timesteps 300000 --seed 0 --out runs/vm-small

Hyperparameters come from ``policies/hyperparams/<Name>-vN.yaml``; override any of them with
``--set ppo.learning_rate=1e-4 --set policy.conv=gatv2``. The run folder receives
``config.yaml`` (the exact config), TensorBoard logs (``tb/``, with the env's own metrics under
``env/`` and the validation metrics under ``val/``), ``eval_curve.json``, ``best_model.zip``,
``last_model.zip``, ``model.onnx`` (the best model, exported), ``summary.json`` and ``eval_curve.png``.
``--resume`` continues a run from its ``last_model.zip`` and ``config.yaml`` up to ``--timesteps`` in
total (with ``--set`` or ``--config`` it is an error: the saved config is kept as it is). Two optional
warm starts: ``init_from: runs/x/best_model.zip`` (weights of another run, any size of the same
env) and an ``imitation`` section (clone a baseline first, see ``policies/imitation.py``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import yaml


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="registered env id, e.g. schedgym/VMReschedule-v1")
    parser.add_argument("--timesteps", type=int, help="total env steps (default: the YAML's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--config", type=Path, help="YAML to use instead of policies/hyperparams/<env>.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hyperparameter, e.g. ppo.n_steps=128 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last_model.zip with OUT/config.yaml (no --set/--config)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.resume and (args.set or args.config):
        # A resumed run continues with its own OUT/config.yaml; overrides would be silently ignored.
        given = " and ".join(option for option, value in (("--set", args.set), ("--config", args.config)) if value)
        parser.error(f"--resume continues with OUT/config.yaml and cannot be combined with {given}; "
                     "start a new run (another --out) to change the configuration")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import gymnasium as gym
    import torch
    from sb3_contrib import MaskablePPO

    from schedgym import envs
    from schedgym.policies.curves import plot_validation_curve
    from schedgym.policies.export import export_net
    from schedgym.policies.pointer import PointerPolicy, net_kwargs_for
    from schedgym.policies.training import (EnvMetricsCallback, ProgressCallback, ValidationCallback, dump_config,
                                   load_config, make_vec_env)

    if args.env not in envs.ENV_IDS:
        sys.exit(f"error: unknown env {args.env!r}; registered: {', '.join(envs.ENV_IDS)}")
    out: Path = args.out
    resume = args.resume and (out / "last_model.zip").exists()
    if args.resume and not resume:
        print(f"note: {out}/last_model.zip not found, starting a new run")
    if resume:
        config = yaml.safe_load((out / "config.yaml").read_text())
        if config["env_id"] != args.env:
            sys.exit(f"error: {out} trains {config['env_id']}, not {args.env}")
    else:
        config = load_config(args.env, args.set, args.config)
        config["seed"] = args.seed
    if args.timesteps is not None:
        config["timesteps"] = args.timesteps
    config.setdefault("commands", []).append("python " + shlex.join(sys.argv if argv is None else ["train.py", *argv]))
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")

    torch.set_num_threads(int(config.get("torch_threads", 1)))
    seed = int(config["seed"])
    probe = gym.make(args.env, **config.get("env_kwargs", {}))
    graph = probe.unwrapped.spec_graph
    metrics = probe.unwrapped.leaderboard_metrics
    probe.close()
    vec_env = make_vec_env(config, seed)
    start = time.perf_counter()
    if resume:
        model = MaskablePPO.load(out / "last_model.zip", env=vec_env, device="cpu", tensorboard_log=str(out / "tb"))
    else:
        net = dict(config.get("policy", {}))
        selected = net.pop("selected_feature", "selected")
        net.update({k: v for k, v in net_kwargs_for(vec_env.observation_space, graph.node_features, selected).items()
                    if k == "selected_index"})
        model = MaskablePPO(
            PointerPolicy, vec_env, seed=seed, device="cpu", tensorboard_log=str(out / "tb"), verbose=0,
            policy_kwargs={"features_extractor_kwargs": net}, **config.get("ppo", {}),
        )
    if config.get("init_from") and not resume:
        # Warm start from another run's weights: the pointer net does not depend on N_MAX/E_MAX,
        # so e.g. a VM small policy initialises a VM medium run. (Unpickles: trusted files only.)
        source = MaskablePPO.load(config["init_from"], device="cpu")
        model.policy.pointer_net.load_state_dict(source.policy.pointer_net.state_dict())
        print(f"initialised from {config['init_from']}")
    imitation = None
    if config.get("imitation") and not resume:
        from schedgym.policies.imitation import warm_start

        print(f"warm start: imitating {config['imitation']['expert']} ...", flush=True)
        imitation = warm_start(model.policy.pointer_net, config, seed)
        print(f"  {imitation['samples']} samples in {imitation['collect_s']:.0f} s, cloned in "
              f"{imitation['clone_s']:.0f} s, loss {imitation['losses'][0]:.3f} -> {imitation['losses'][-1]:.3f}")
    total = int(config["timesteps"])
    eval_cfg = config.get("eval", {})
    validation = ValidationCallback(config, out, int(eval_cfg.get("freq", 10_000)))
    validation.verbose = 1
    callbacks = [EnvMetricsCallback(metrics), validation]
    if not args.no_progress:
        callbacks.insert(0, ProgressCallback(total))
    remaining = max(0, total - model.num_timesteps)
    model.learn(total_timesteps=remaining, callback=callbacks, reset_num_timesteps=not resume, tb_log_name="ppo")
    wall = time.perf_counter() - start
    vec_env.close()
    model.save(out / "last_model.zip")

    best_path = out / "best_model.zip" if (out / "best_model.zip").exists() else out / "last_model.zip"
    best = MaskablePPO.load(best_path, device="cpu")
    curve = json.loads((out / "eval_curve.json").read_text()) if (out / "eval_curve.json").exists() else []
    previous = json.loads((out / "summary.json").read_text()) if resume and (out / "summary.json").exists() else {}
    summary = {
        "env_id": args.env, "env_kwargs": config.get("env_kwargs", {}), "seed": seed,
        "timesteps": int(model.num_timesteps), "wall_s": previous.get("wall_s", 0.0) + wall,
        "commands": config["commands"], "best_checkpoint": best_path.name,
        "imitation": imitation or previous.get("imitation"),
        "best_val": min(curve, key=validation.score) if curve else None,
    }
    export_net(best.policy.pointer_net, out / "model.onnx", graph.metadata(), args.env, config.get("env_kwargs", {}),
               extra={"commands": config["commands"], "seed": seed, "timesteps": summary["timesteps"],
                      "checkpoint": best_path.name, "policy": config.get("policy", {})})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if curve:
        plot_validation_curve(curve, validation.metric, out / "eval_curve.png", f"{args.env}: {out.name}")
    print(f"trained {summary['timesteps']} steps in {summary['wall_s']:.0f} s; best validation "
          f"{validation.metric}: {summary['best_val'][validation.metric] if curve else 'n/a'}; wrote {out}/model.onnx")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
