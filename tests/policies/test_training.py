"""train.py smoke run, resume, and learned policies on the leaderboard."""

import json

import numpy as np
import pytest
import yaml

import train
from schedgym.policies.evaluation import evaluate
from schedgym.envs.vm.env import VMRescheduleEnv
from schedgym.policies import runtime
from schedgym.policies.scheduler import is_learned, load_policy, resolve
from schedgym.policies.training import load_config, set_override


def test_run_folder(tiny_run):
    for name in ("config.yaml", "best_model.zip", "last_model.zip", "model.onnx", "eval_curve.json", "summary.json",
                 "eval_curve.png"):
        assert (tiny_run / name).exists(), name
    assert any((tiny_run / "tb").rglob("events.out.tfevents.*"))
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    assert config["policy"]["width"] == 8 and config["seed"] == 3
    assert config["commands"][0].startswith("python train.py --env schedgym/VMReschedule-v1")
    curve = json.loads((tiny_run / "eval_curve.json").read_text())
    assert len(curve) >= 2 and {"timesteps", "wall_s", "fragment_rate"} <= set(curve[0])
    meta = runtime.load(tiny_run / "model.onnx").metadata
    assert meta["env_kwargs"] == {"size": "small"} and meta["seed"] == 3
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert summary["imitation"]["expert"] == "greedy" and summary["imitation"]["samples"] > 0


def test_tensorboard_has_env_metrics(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for events in (tiny_run / "tb").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    assert "env/fragment_rate" in tags and "val/fragment_rate" in tags


def test_resume_continues_the_run(tiny_run, tmp_path):
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(tiny_run, out)
    first = json.loads((out / "summary.json").read_text())
    first_curve = json.loads((out / "eval_curve.json").read_text())
    assert train.main(["--env", "schedgym/VMReschedule-v1", "--timesteps", "384", "--out", str(out),
                       "--resume", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timesteps"] == 384
    assert len(summary["commands"]) == 2
    assert summary["wall_s"] > first["wall_s"] and summary["imitation"] == first["imitation"]
    curve = json.loads((out / "eval_curve.json").read_text())
    assert curve[:len(first_curve)] == first_curve  # continued, the resume step not validated again
    assert [row["timesteps"] for row in curve] == [0, 128, 256, 384]


@pytest.mark.parametrize("extra", [["--set", "ppo.n_steps=16"], ["--config", "other.yaml"],
                                   ["--set", "n_envs=1", "--config", "other.yaml"]])
def test_resume_refuses_set_and_config(tmp_path, capsys, extra):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--env", "schedgym/VMReschedule-v1", "--out", str(out), "--resume", *extra])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.split("error:", 1)[1]  # the message, not the usage line
    assert "--resume" in error and "cannot be combined with" in error
    for option in ("--set", "--config"):
        assert (option in error) == (option in extra)
    assert not out.exists()


@pytest.mark.parametrize("artifact", ["model.onnx", "best_model.zip"])
def test_policy_check_before_any_episode(tiny_run, artifact):
    import gymnasium as gym

    policy = load_policy(str(tiny_run / artifact))
    small = gym.make("schedgym/VMReschedule-v1", size="small")
    policy.check(small)  # fits: no exception, and no episode needed (the env is not even reset)
    medium = gym.make("schedgym/VMReschedule-v1", size="medium")
    with pytest.raises(ValueError, match=artifact):
        policy.check(medium)


@pytest.mark.parametrize("artifact", ["model.onnx", "best_model.zip"])
def test_learned_policy_on_the_leaderboard(tiny_run, artifact):
    source = str(tiny_run / artifact)
    assert is_learned(source) and not is_learned("greedy")
    policy = load_policy(source)
    assert policy.supports("schedgym/VMReschedule-v1") and not policy.supports("schedgym/SoCDAG-v0")
    instance_set = VMRescheduleEnv.load_instance_set("small-val")
    small = type(instance_set)(instance_set.name, instance_set.env_kwargs, instance_set.instances[:2])
    results = evaluate("schedgym/VMReschedule-v1", small, {source: policy.scheduler}, progress=False)
    assert len(results) == 2 and np.all(results["fragment_rate"] <= 1.0)


def test_onnx_and_zip_choose_the_same_actions(tiny_run):
    instance_set = VMRescheduleEnv.load_instance_set("small-val")
    small = type(instance_set)(instance_set.name, instance_set.env_kwargs, instance_set.instances[:2])
    sources = {str(tiny_run / s): load_policy(str(tiny_run / s)).scheduler for s in ("model.onnx", "best_model.zip")}
    results = evaluate("schedgym/VMReschedule-v1", small, sources, progress=False)
    by_policy = results.groupby("policy")["actions"].apply(list)
    assert by_policy[str(tiny_run / "model.onnx")] == by_policy[str(tiny_run / "best_model.zip")]


def test_policy_refuses_other_envs(tiny_run):
    import gymnasium as gym

    scheduler = load_policy(str(tiny_run / "model.onnx")).scheduler()
    env = gym.make("schedgym/VMReschedule-v1", size="medium")
    env.reset(seed=0)
    with pytest.raises(ValueError):
        scheduler.reset(env)


def test_unknown_pretrained_name():
    with pytest.raises(FileNotFoundError, match="no pretrained policy"):
        resolve("pretrained:nope")


def test_config_overrides():
    config = load_config("schedgym/VMReschedule-v1", ["ppo.n_steps=16", "policy.conv=gatv2", "n_envs=3"])
    assert config["ppo"]["n_steps"] == 16 and config["policy"]["conv"] == "gatv2" and config["n_envs"] == 3
    with pytest.raises(KeyError):
        set_override(config, "nosuch.section.key=1")
    with pytest.raises(ValueError):
        set_override(config, "ppo.n_steps")


def test_smoke_every_other_registered_env(tmp_path):
    """A few hundred steps on each registered env other than VM (the tiny_run fixture), when it
    is importable; small workloads keep it quick."""
    import gymnasium as gym

    from schedgym import envs

    tiny = {"schedgym/SoCDAG-v0": ["--set", "env_kwargs.n_jobs=2", "--set", "eval.seeds=[1000000]"],
            "schedgym/LLMServe-v0": ["--set", "env_kwargs.num_requests=8", "--set", "eval.seeds=[1000000]"],
            "schedgym/IoTPlacement-v0": ["--set", "env_kwargs.num_tasks=20", "--set", "eval.seeds=[1000000]"],
            "schedgym/LLMCluster-v0": ["--set", "env_kwargs.num_requests=40",
                                       "--set", "eval.seeds=[1000000]"]}
    for env_id in envs.ENV_IDS:
        if env_id in ("schedgym/VMReschedule-v1", "schedgym/VMReschedule-v2"):
            continue
        try:
            gym.make(env_id).reset(seed=0)
        except Exception:  # noqa: BLE001  (an env still being written is skipped)
            continue
        out = tmp_path / env_id.split("/")[-1]
        extra = []
        if load_config(env_id).get("imitation"):  # a one-episode, one-epoch warm start
            extra = ["--set", "imitation.episodes=1", "--set", "imitation.epochs=1"]
        argv = ["--env", env_id, "--timesteps", "128", "--out", str(out), "--no-progress",
                "--set", "n_envs=2", "--set", "ppo.n_steps=64", "--set", "ppo.batch_size=64",
                "--set", "ppo.n_epochs=1", "--set", "policy.width=8", "--set", "policy.depth=1",
                "--set", "eval.freq=1000000", *tiny.get(env_id, []), *extra]
        assert train.main(argv) == 0
        assert runtime.load(out / "model.onnx").env_id == env_id


def test_init_from_another_run(tiny_run, tmp_path):
    out = tmp_path / "warm"
    argv = ["--env", "schedgym/VMReschedule-v1", "--timesteps", "64", "--out", str(out), "--no-progress",
            "--set", "n_envs=1", "--set", "ppo.n_steps=64", "--set", "ppo.batch_size=64", "--set", "ppo.n_epochs=1",
            "--set", "policy.width=8", "--set", "policy.depth=1", "--set", "ppo.learning_rate=0.0",
            "--set", f"init_from={tiny_run / 'best_model.zip'}", "--set", "imitation=null"]
    assert train.main(argv) == 0
    from sb3_contrib import MaskablePPO

    source = MaskablePPO.load(tiny_run / "best_model.zip", device="cpu").policy.pointer_net.state_dict()
    warm = MaskablePPO.load(out / "last_model.zip", device="cpu").policy.pointer_net.state_dict()
    for key, value in source.items():
        assert (warm[key] == value).all(), key  # learning rate 0: the copied weights are unchanged


def test_shipped_pretrained_policies_run():
    """Every policies/pretrained/*.onnx has its sidecar and plays an episode of a held-out
    generated instance of the configuration it was exported for, legally to the end."""
    import gymnasium as gym

    from schedgym.policies.scheduler import pretrained

    for name, record in pretrained().items():
        assert record.get("commands") and "validation_curve" in record, name
        policy = load_policy(f"pretrained:{name}")
        env = gym.make(policy.env_id, **record["env_kwargs"])
        env.reset(seed=10**6)
        scheduler, done, steps = policy.scheduler(), False, 0
        scheduler.reset(env)
        while not done:
            _, _, terminated, truncated, _ = env.step(scheduler.act(env))  # illegal would raise
            done, steps = terminated or truncated, steps + 1
        assert not truncated and steps > 0


def test_env_mix_gives_each_training_env_its_entry():
    from schedgym.policies.training import env_kwargs_of, make_vec_env

    config = load_config("schedgym/IoTPlacement-v0", ["n_envs=3", "env_kwargs.num_tasks=20"])
    config["env_mix"] = [{"rate": 10.0}, {"rate": 60.0, "arrival": "bursty"}]
    assert env_kwargs_of(config, 2) == {**config["env_kwargs"], "rate": 10.0}
    vec = make_vec_env(config, seed=0)
    assert [env.unwrapped.source.rate if hasattr(env.unwrapped, "source") else env.unwrapped.rate
            for env in vec.envs] == [10.0, 60.0, 10.0]
    vec.close()
    config["env_mix"] = [{}, {"max_nodes": 40}]  # another slot count: another observation space
    with pytest.raises(ValueError, match="env_mix"):
        make_vec_env(config, seed=0)
    config["env_mix"] = []
    with pytest.raises(ValueError, match="env_mix"):
        env_kwargs_of(config, 0)


def test_validation_on_several_sets_and_never_on_a_test_set():
    from schedgym.policies.training import validation_instances

    config = load_config("schedgym/IoTPlacement-v0")
    config["eval"] = {"instances": ["small-tree-heavy-val", "small-mesh-bursty-val"]}
    kwargs, items = validation_instances(config)
    names = [instance.name for instance, _ in items]
    assert kwargs["scale"] == "small" and len(names) == 6 and names[0].startswith("small-tree-heavy-val")
    config["eval"] = {"instances": ["small-tree-heavy-val", "medium-mesh-medium-val"]}
    with pytest.raises(ValueError, match="share"):
        validation_instances(config)
    config["eval"] = {"instances": ["small-tree-heavy-val", "small-tree-heavy"]}  # a test set
    with pytest.raises(ValueError, match="not a validation set"):
        validation_instances(config)
