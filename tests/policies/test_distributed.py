"""The Ray backend: leaderboard rows, capacity searches and training identical to local runs.

One local Ray (2 CPUs) is started for the whole module; every test skips without Ray.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from schedgym import evaluate  # noqa: E402
from schedgym.data.instance_sets import InstanceSet  # noqa: E402
from schedgym.envs import env_class  # noqa: E402
from schedgym.envs.llm import capacity  # noqa: E402
from schedgym.envs.llm.generator import sample_instance  # noqa: E402
from schedgym.policies import distributed, training  # noqa: E402
from schedgym.policies.evaluation import (KEY_COLUMNS, ResultsFile, build_schedulers,  # noqa: E402
                                         result_columns, run_episode, select)
from schedgym.policies.evaluation import evaluate as run_leaderboard  # noqa: E402

VM = "schedgym/VMReschedule-v1"
IOT = "schedgym/IoTPlacement-v0"
LLM = "schedgym/LLMServe-v0"


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    """One local Ray for the module (Ray start-ups take seconds)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _subset(env_id: str, name: str, count: int) -> InstanceSet:
    full = env_class(env_id).load_instance_set(name)
    return InstanceSet(full.name, full.env_kwargs, full.instances[:count])


def test_cli_results_file_is_the_local_one_but_for_wall_times(tmp_path):
    """Baselines and an ONNX policy on all of VM small-test: the same CSV, row for row."""
    files = {}
    for backend in ("local", "ray"):
        files[backend] = tmp_path / f"{backend}.csv"
        argv = ["--env", VM, "--instances", "small-test", "--policies",
                "random,greedy,pretrained:vm", "--seeds", "0,1", "--out", str(files[backend]),
                "--no-progress", "--backend", backend]
        assert evaluate.main(argv + (["--workers", "2"] if backend == "ray" else [])) == 0
    local, remote = (pd.read_csv(files[b]) for b in ("local", "ray"))
    assert len(local) == 20 * 3 * 2
    pd.testing.assert_frame_equal(local.drop(columns="wall_s"), remote.drop(columns="wall_s"))
    assert (remote["wall_s"] > 0).all()


@pytest.mark.parametrize(("env_id", "set_name", "names"), [
    (IOT, "small-tree-light", ["random", "greedy", "edf"]),
    (LLM, "tenants-flood", ["fcfs", "sarathi", "vtc"]),  # headless: fast
])
def test_rows_identical_to_the_local_run(env_id, set_name, names):
    instance_set = _subset(env_id, set_name, 2)
    schedulers, _ = build_schedulers(env_id, names)
    local = run_leaderboard(env_id, instance_set, schedulers, seeds=[0, 3], progress=False)
    with distributed.RayEpisodes(env_id, names, workers=2) as runner:
        assert runner.labels == list(schedulers)
        remote = run_leaderboard(env_id, instance_set, schedulers, seeds=[0, 3], progress=False,
                                 runner=runner)
        with pytest.raises(ValueError, match="no scheduler"):
            list(runner.run(instance_set, [(0, "nope", 0)]))
    assert len(local) == 2 * 3 * 2
    pd.testing.assert_frame_equal(local.drop(columns="wall_s"), remote.drop(columns="wall_s"))


def test_resume_on_ray_runs_only_the_missing_episodes(tmp_path):
    instance_set = _subset(IOT, "small-tree-light", 2)
    names = ["greedy", "edf"]
    schedulers, _ = build_schedulers(IOT, names)
    columns = result_columns(env_class(IOT).leaderboard_metrics)
    local = run_leaderboard(IOT, instance_set, schedulers, seeds=[0, 3], progress=False)
    with ResultsFile(tmp_path / "resumed.csv", columns) as out:  # seed 0 done before, here
        run_leaderboard(IOT, instance_set, schedulers, seeds=[0], progress=False, out=out)
    with (distributed.RayEpisodes(IOT, names, workers=2) as runner,
          ResultsFile(tmp_path / "resumed.csv", columns, resume=True) as out):
        resumed = run_leaderboard(IOT, instance_set, schedulers, seeds=[0, 3], progress=False,
                                  runner=runner, out=out)
        on_file = select(out.read(), IOT, instance_set, names, [0, 3])
    assert len(resumed) == 2 * 2 and (resumed["seed"] == 3).all()
    keys = list(KEY_COLUMNS)
    pd.testing.assert_frame_equal(
        local.drop(columns="wall_s").sort_values(keys, ignore_index=True),
        on_file.drop(columns="wall_s").sort_values(keys, ignore_index=True), check_dtype=False)


def test_results_come_back_in_job_order_whatever_finishes_first():
    """Two actors, jobs of very different lengths: the order is the jobs', not the ends'."""
    @ray.remote(num_cpus=0)
    class Sleeper:
        def run(self, seconds: float, tag: int) -> int:
            import time

            time.sleep(seconds)
            return tag

    actors = [Sleeper.remote(), Sleeper.remote()]
    jobs = [(0.6, 0), (0.0, 1), (0.0, 2), (0.3, 3), (0.0, 4)]
    submit = lambda actor, job: actor.run.remote(*job)  # noqa: E731
    results = list(distributed._dispatch(ray, actors, jobs, submit))
    assert results == [0, 1, 2, 3, 4]


def test_capacity_search_on_ray_finds_the_local_rates():
    """The schedulers built by name in the Ray workers find the local rates."""
    workloads = [sample_instance(np.random.default_rng([0x11A, seed]), workload="conversation",
                                 num_requests=40, rate=1.0) for seed in range(2)]
    names = ["fcfs", "sarathi"]
    local_factories, _ = build_schedulers(LLM, names)
    named = {label: distributed.NamedScheduler(LLM, label) for label in local_factories}
    arguments = (["goodput", "saturation"], 0.5, 8.0, 1.0)
    local = capacity.search_all(workloads, 1.0, local_factories, *arguments, progress=False)
    remote = capacity.search_all(workloads, 1.0, named, *arguments, mapper=distributed.map_ordered,
                                 concurrent=True, progress=False)
    assert remote == local
    assert len(local) == len(names) and all(len(per_scheduler) == 2 for per_scheduler in local)


def test_named_scheduler_of_an_onnx_policy_acts_in_a_ray_task_as_here():
    """A loaded ONNX policy does not pickle; its NamedScheduler does, and loads it over there."""
    instance_set = _subset(VM, "small-test", 1)

    def actions(make_scheduler) -> list[int]:
        env = gym.make(VM, **instance_set.env_kwargs)
        return run_episode(env, make_scheduler(), instance_set.instances[0], 0).actions

    named = distributed.NamedScheduler(VM, "pretrained:vm")
    local_factories, _ = build_schedulers(VM, ["pretrained:vm"])
    remote = distributed.map_ordered(actions, [(named,), (named,)])
    assert remote == [actions(local_factories["pretrained:vm"])] * 2 and remote[0]


def test_training_on_ray_actors_is_the_training_on_dummy(tmp_path):
    """Two rollouts of 2 × 64 steps of PPO and its updates: the same parameters, bit for bit."""
    import torch

    config = training.load_config(VM, ["n_envs=2", "ppo.n_steps=64", "ppo.batch_size=64",
                                       "ppo.n_epochs=2", "policy.width=8", "policy.depth=1",
                                       "instance_pool.size=4"])
    features = gym.make(VM, **config["env_kwargs"]).unwrapped.spec_graph.node_features
    parameters, observations = {}, {}
    for kind in ("dummy", "ray"):
        config["vec_env"] = kind
        vec_env = training.make_vec_env(config, seed=5)
        assert vec_env.env_method("action_masks")[0].dtype == bool
        model = training._build_model(config, vec_env, features, 5, tmp_path / kind)
        model.learn(total_timesteps=256)
        parameters[kind] = model.policy.state_dict()
        observations[kind] = model.rollout_buffer.observations
        vec_env.close()
    for name, tensor in parameters["dummy"].items():
        assert torch.equal(tensor, parameters["ray"][name]), name
    for key, array in observations["dummy"].items():
        np.testing.assert_array_equal(array, observations["ray"][key])


def test_unknown_vec_env_is_refused():
    config = training.load_config(VM, ["n_envs=1", "vec_env=threads"])
    with pytest.raises(ValueError, match="vec_env.*'dummy', 'subproc', 'ray'"):
        training.make_vec_env(config, seed=0)


@pytest.mark.parametrize(("address", "pattern"), [
    ("127.0.0.1:1", "nothing answers at 127.0.0.1:1"),
    ("ray://127.0.0.1:1", "nothing answers at 127.0.0.1:1"),
    ("nonsense", "auto, HOST:PORT or ray://HOST:PORT"),
    ("localhost:99999", "auto, HOST:PORT or ray://HOST:PORT"),
])
def test_bad_address_is_a_clear_error(address, pattern, capsys):
    with pytest.raises(ValueError, match=pattern):
        distributed.connect(address)
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--env", VM, "--instances", "small-test", "--policies", "greedy",
                       "--backend", "ray", "--address", address])
    assert exit_info.value.code == 2
    assert address in capsys.readouterr().err


def test_a_policy_the_workers_cannot_load_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "gone.onnx")  # e.g. a file not copied to the worker nodes
    with pytest.raises(ValueError, match=f"a Ray worker cannot load the policies: .*{missing}"):
        distributed.RayEpisodes(VM, [missing], workers=1)
    with pytest.raises(ValueError, match="--workers must be an integer >= 1, got 0"):
        distributed.RayEpisodes(VM, ["greedy"], workers=0)


def test_address_without_the_ray_backend_is_refused(capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--env", VM, "--instances", "small-test", "--address", "auto"])
    assert "--address and --workers need --backend ray" in capsys.readouterr().err
