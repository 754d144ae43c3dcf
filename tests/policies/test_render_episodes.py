"""``evaluate.py --render DIR``: one picture per (policy, instance) at the first seed, written
atomically, headless baselines included."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from matplotlib.image import imread

from schedgym import evaluate
from schedgym.data.instance_sets import InstanceSet
from schedgym.envs.iot.env import IoTPlacementEnv
from schedgym.policies.evaluation import build_schedulers, render_episodes, run_episode

PNG = b"\x89PNG\r\n\x1a\n"


def test_cli_saves_one_png_per_policy_and_instance(tmp_path, capsys):
    out = tmp_path / "pictures"
    assert evaluate.main(["--env", "schedgym/IoTPlacement-v0", "--instances", "small-tree-medium",
                          "--policies", "round_robin,greedy", "--seeds", "3,4",
                          "--render", str(out), "--no-progress"]) == 0
    files = sorted(path.relative_to(out).as_posix() for path in out.rglob("*"))
    expected = sorted([f"small-tree-medium/small-tree-medium-{i}__{policy}.png" for i in range(5)
                       for policy in ("round_robin", "greedy")] + ["small-tree-medium"])
    assert files == expected  # one per (policy, instance), no temporary file left
    assert all(path.read_bytes()[:8] == PNG for path in out.rglob("*.png"))
    assert "saved 10 pictures under" in capsys.readouterr().out


def test_a_headless_baseline_is_drawn_from_its_final_state(tmp_path):
    # IoT rule baselines finish on the headless path; the picture is the env's final render.
    full = IoTPlacementEnv.load_instance_set("small-tree-medium")
    one = InstanceSet(full.name, full.env_kwargs, full.instances[:1])
    schedulers, _ = build_schedulers("schedgym/IoTPlacement-v0", ["greedy"])
    (path,) = render_episodes("schedgym/IoTPlacement-v0", one, schedulers, 0, tmp_path,
                              progress=False)
    assert path == tmp_path / "small-tree-medium" / "small-tree-medium-0__greedy.png"
    image = imread(path)
    assert image.ndim == 3 and len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 10
    # The same picture as stepping the env with the scheduler (the headless path's final
    # state is the stepped one).
    env = gym.make("schedgym/IoTPlacement-v0", render_mode="rgb_array", **one.env_kwargs)
    run_episode(env, schedulers["greedy"](), one.instances[0], 0, headless=False)
    np.testing.assert_array_equal((image[..., :3] * 255).round().astype(np.uint8), env.render())


def test_labels_become_safe_file_names(tmp_path):
    full = IoTPlacementEnv.load_instance_set("small-tree-medium")
    one = InstanceSet(full.name, full.env_kwargs, full.instances[:1])
    schedulers, _ = build_schedulers("schedgym/IoTPlacement-v0", ["greedy"])
    (path,) = render_episodes("schedgym/IoTPlacement-v0", one,
                              {"runs/my policy:v2": schedulers["greedy"]}, 0, tmp_path,
                              progress=False)
    assert path.name == "small-tree-medium-0__runs_my_policy_v2.png" and path.exists()
