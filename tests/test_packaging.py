"""SchedGym installs under one name and lives beside a user's own packages."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_PACKAGES = ("envs", "baselines", "policies", "data")


def test_pyproject_lists_every_package_folder() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"schedgym"} | {
        "schedgym." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP_PACKAGES for init in (ROOT / top).rglob("__init__.py")
    }
    assert listed == folders


def test_every_env_works_from_a_project_with_its_own_envs_and_data_packages(tmp_path) -> None:
    for name in ("envs", "data"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("USER_PACKAGE = True\n")
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import envs, data  # the user's own packages come first
        assert envs.USER_PACKAGE and data.USER_PACKAGE
        import gymnasium as gym
        # The first make imports schedgym itself (the "module:" prefix), which registers every id.
        gym.make("schedgym:schedgym/VMReschedule-v1", size="small")
        ids = []
        for env_id in [i for i in gym.registry if i.startswith("schedgym/")]:
            env = gym.make("schedgym:" + env_id)
            obs, info = env.reset(seed=0)
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            ids.append(env_id)
        import schedgym.envs
        assert sorted(ids) == sorted(schedgym.envs.ENV_IDS), ids
        print(len(ids))
    """)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 2


def _module_imports(path: Path, module: str) -> set[str]:
    """The schedgym modules ``module`` imports at module level (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports never run
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("schedgym.")} - {module}


def test_no_import_cycle() -> None:
    modules = {"schedgym": ROOT / "__init__.py"}
    for top in TOP_PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            modules["schedgym." + ".".join(parts)] = path
    # The root package only registers the envs; `from schedgym import X` goes to X, not through it.
    graph = {name: {m for m in _module_imports(path, name) if m in modules and m != "schedgym"}
             for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(other):], other]))
            if other not in state:
                visit(other, [*stack, other])
        state[name] = 2

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
