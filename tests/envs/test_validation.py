"""Argument validation: the shared checks, and a table of bad arguments over every registered env,
each of which must fail at ``gym.make`` with a message naming the argument and the value."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from schedgym import envs
from schedgym.envs import validation
from schedgym.envs.soc.generator import RandomDagParams, max_random_dag_edges, random_dag_structure
from schedgym.envs.llm.env import WorkloadOptions
from schedgym.envs.validation import ArgumentError, ArgumentTypeError
from schedgym.envs.vm.generator import GeneratorConfig

VM, SOC, LLM = "schedgym/VMReschedule-v2", "schedgym/SoCDAG-v0", "schedgym/LLMServe-v0"
VM1 = "schedgym/VMReschedule-v1"  # the same arguments (generator version 1)
IOT = "schedgym/IoTPlacement-v0"
CLUSTER = "schedgym/LLMCluster-v0"
IOT_EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "iot" / "example_topology.yaml"

# --------------------------------------------------------------------------- the shared checks


def test_int_check_refuses_bools_and_floats_and_names_the_range() -> None:
    assert validation.check_int("n", np.int64(3), low=1) == 3
    assert type(validation.check_int("n", np.int64(3))) is int
    for bad in (True, np.bool_(False), 2.0, 1.5, "2", None):
        with pytest.raises(ArgumentTypeError, match=r"n must be an integer in \[1, 5\]"):
            validation.check_int("n", bad, low=1, high=5)
    with pytest.raises(ArgumentError, match=r"in \[1, 5\] \(why\), got 6 \(int\)"):
        validation.check_int("n", 6, low=1, high=5, why="why")


def test_float_check_refuses_nan_inf_and_open_bounds() -> None:
    assert validation.check_float("x", 1) == 1.0 and type(validation.check_float("x", np.float32(1))) is float
    for bad in (math.nan, np.float64("nan"), math.inf, -math.inf):
        with pytest.raises(ArgumentError, match="x must be a finite number"):
            validation.check_float("x", bad)
    assert validation.check_float("x", math.inf, finite=False) == math.inf
    with pytest.raises(ArgumentError, match="NaN|nan"):
        validation.check_float("x", math.nan, finite=False)
    with pytest.raises(ArgumentError, match=r"in \(0.0, 1.0\]"):
        validation.check_float("x", 0.0, low=0.0, high=1.0, low_open=True)
    assert validation.check_float("x", 1.0, low=0.0, high=1.0, low_open=True) == 1.0
    with pytest.raises(ArgumentError, match=r"< 1.0"):
        validation.check_float("x", 1.0, high=1.0, high_open=True)
    with pytest.raises(ArgumentTypeError):
        validation.check_float("x", True)


def test_type_errors_are_value_errors_and_type_errors() -> None:
    with pytest.raises(ValueError):
        validation.check_int("n", 1.5)
    with pytest.raises(TypeError):
        validation.check_int("n", 1.5)


def test_choice_checks() -> None:
    assert validation.check_choice("c", np.str_("a"), ("a", "b")) == "a"
    for bad in ("z", 1, None, True, np.array(["a", "b"])):
        with pytest.raises(ArgumentError, match="c must be one of 'a', 'b'"):
            validation.check_choice("c", bad, ("a", "b"))
    assert validation.check_choices("c", ["a", "a", "b"], "ab") == ("a", "a", "b")
    with pytest.raises(ArgumentTypeError):
        validation.check_choices("c", "ab", "ab")  # a string is not a list of names
    with pytest.raises(ArgumentError, match="non-empty"):
        validation.check_choices("c", (), "ab")
    with pytest.raises(ArgumentError, match=r"c\[1\] must be one of"):
        validation.check_choices("c", ("a", "z"), "ab")


def test_mapping_and_field_checks() -> None:
    assert validation.check_mapping("m", {"a": 1}, ("a", "b")) == {"a": 1}
    with pytest.raises(ArgumentError, match="m has the unknown key 'c'; allowed keys: a, b"):
        validation.check_mapping("m", {"c": 1}, ("a", "b"))
    with pytest.raises(ArgumentTypeError, match="m must be a mapping"):
        validation.check_mapping("m", [("a", 1)], ("a", "b"))
    params = RandomDagParams(n_tasks=7)
    assert validation.check_fields("d", params, RandomDagParams) == dataclasses.asdict(params)
    with pytest.raises(ArgumentTypeError, match="d must be a RandomDagParams or a mapping"):
        validation.check_fields("d", 3, RandomDagParams)
    assert validation.item_name("d", "n_tasks") == 'd["n_tasks"]'


def test_directory_check(tmp_path: Path) -> None:
    assert validation.check_directory("p", str(tmp_path)) == tmp_path
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(ArgumentError, match="p must be the path of an existing directory"):
            validation.check_directory("p", bad)
    with pytest.raises(ArgumentTypeError):
        validation.check_directory("p", 3)


def test_file_check(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert validation.check_file("p", str(tmp_path / "file")) == tmp_path / "file"
    for bad in (tmp_path, tmp_path / "missing"):
        with pytest.raises(ArgumentError, match="p must be the path of an existing file"):
            validation.check_file("p", bad)
    with pytest.raises(ArgumentTypeError):
        validation.check_file("p", 3)


def test_observation_size_check_names_the_sizing_arguments() -> None:
    validation.check_observation_size(100, {"w": 1}, limit=100)
    with pytest.raises(ArgumentError, match=r"w=10, k='x' give observation arrays of .* MiB, more than"):
        validation.check_observation_size(101, {"w": 10, "k": "x"}, limit=100)


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_observation_bytes_counts_the_buffers(env_id: str) -> None:
    spec = gym.make(env_id).unwrapped.spec_graph
    assert spec.observation_bytes() == sum(a.nbytes for a in spec.empty_observation().values())
    assert spec.observation_bytes() <= validation.MAX_OBSERVATION_BYTES


def test_window_is_bounded_exactly_by_the_observation_limit() -> None:
    def spec_bytes(window: int) -> int:
        return gym.make(SOC, window=window).unwrapped.spec_graph.observation_bytes()

    per_slot = spec_bytes(2) - spec_bytes(1)
    largest = 1 + (validation.MAX_OBSERVATION_BYTES - spec_bytes(1)) // per_slot
    assert spec_bytes(largest) <= validation.MAX_OBSERVATION_BYTES < spec_bytes(largest) + per_slot
    with pytest.raises(ArgumentError, match=f"window={largest + 1}, edges_per_task=3 give observation arrays"):
        gym.make(SOC, window=largest + 1)
    assert 270_000 < largest < 285_000  # as the SoC docstring says: about 277,000 slots


def test_largest_vm_size_fits_the_observation_limit() -> None:
    spec = gym.make(VM, size="large").unwrapped.spec_graph
    assert spec.observation_bytes() <= validation.MAX_OBSERVATION_BYTES


def test_random_dags_never_exceed_the_edge_bound() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        params = RandomDagParams(n_tasks=n, shape=float(rng.uniform(0.2, 3)), out_degree=int(rng.integers(1, 8)))
        assert len(random_dag_structure(rng, params)) <= max_random_dag_edges(params)
    assert max_random_dag_edges(RandomDagParams(n_tasks=1)) == 0


# ------------------------------------------------------------------ the table over every env


@dataclass(frozen=True)
class Num:
    """A numeric argument's rule as the env documents it: bad values are generated from it."""

    kind: str  # "int" or "float"
    low: float
    high: float | None = None  # None: unbounded, so a huge value must be accepted
    low_open: bool = False
    optional: bool = False  # None is allowed (the default)
    memory_bound: bool = False  # bounded above by the observation limit: huge is refused


@dataclass(frozen=True)
class Other:
    """A non-numeric argument: its bad values, and valid values besides the default."""

    bad: tuple[Any, ...]
    good: tuple[Any, ...] = ()


def _bad_numbers(rule: Num) -> list[Any]:
    """Wrong types, NaN, ±inf, just outside each bound, zero, negative and huge values."""
    bad: list[Any] = [True, "1", [1], math.nan, np.float64("nan"), math.inf, -math.inf]
    if not rule.optional:
        bad.append(None)
    if rule.kind == "int":
        bad += [1.5, float(max(rule.low, 1)), np.float32(max(rule.low, 1))]  # never truncated
        bad += [int(rule.low) - 1, int(rule.low) - 10**12]
        if rule.high is not None:
            bad += [int(rule.high) + 1, 10**18]
        if rule.memory_bound:
            bad += [10**7, 10**18]
    else:
        bad += [rule.low if rule.low_open else float(np.nextafter(rule.low, -math.inf)), rule.low - 1e300]
        if rule.high is not None:
            bad += [float(np.nextafter(rule.high, math.inf)), 1e300, 1e308]
    if rule.low >= 0:
        bad += [0, -1] if not (rule.low == 0 and not rule.low_open) else [-1, -1e-300]
    return bad


def _good_numbers(rule: Num) -> list[Any]:
    """The closed bounds, and a huge value where there is no upper bound."""
    good: list[Any] = [] if rule.low_open else [int(rule.low) if rule.kind == "int" else rule.low]
    if rule.high is not None:
        good.append(int(rule.high) if rule.kind == "int" else rule.high)
    elif not rule.memory_bound:
        good.append(10**9 if rule.kind == "int" else 1e12)
    if rule.kind == "int":
        good.append(np.int64(good[0]))
    return good


#: Every env's render_mode (GraphEnv._init_render). Gymnasium's make fails by itself on a
#: non-string mode and wraps "human" around rgb_array, so those are not the env's to refuse.
RENDER_MODE = Other(bad=("ansi", "RGB_ARRAY", ""), good=("rgb_array",))

# Every argument of every env, as documented in its docstring. A new argument fails
# test_table_covers_every_argument until it has a rule here.
ARGUMENTS: dict[str, dict[str, Num | Other]] = {
    VM: {
        "size": Other(bad=("huge", 3, None, True, ["small"]), good=("small", np.str_("large"))),
        "mnl": Num("int", 1, optional=True),
        "granularity": Num("int", 1, 64),
        "migration_cost": Num("float", 0.0, 1.0),
        "trace_dir": Other(bad=(3, "/no/such/trace/dir", ["a"])),
        "trace_time_s": Other(bad=(3.0, 0, math.nan)),  # without trace_dir; ranges: below
        "generator_config": Other(bad=(3, [("num_pms", 1)])),
        "request_tables": Other(bad=(3, "/no/such/tables.json", ["a"])),
        "render_mode": RENDER_MODE,
    },
    SOC: {
        "platform": Other(bad=("nope", 3, None, "unrelated-0", "unrelated-257", "unrelated-x", "DS3"),
                          good=("unrelated-1", "unrelated-256")),
        "mode": Other(bad=("batch", None, 0), good=("static",)),
        "injection_rate": Num("float", 0.0, 1e6, low_open=True),
        "noise": Num("float", 0.0, 10.0),
        "n_jobs": Num("int", 1, 100_000, optional=True),
        "apps": Other(bad=("wifi_tx", (), ("random", "wifi_tx"), 3, {"wifi_tx": 1}),
                      good=(["wifi_tx"], ("random",), ("wifi_tx", "wifi_tx", "sc_rx"))),
        "dag_params": Other(bad=({"n_tasks": 10},)),  # with DS3 applications, it has no effect
        "window": Num("int", 1, memory_bound=True),
        "edges_per_task": Num("int", 1, memory_bound=True),
        "pe_selection": Other(bad=("greedy", None, 1), good=("eft",)),
        "time_scale": Num("float", 1e-3, 1e9, optional=True),
        "reward_scale": Num("float", 0.0, 1e6, low_open=True),
        "idle_step": Num("float", 0.0, 1e6, low_open=True, optional=True),
        "max_steps": Num("int", 1, optional=True),
        "render_mode": RENDER_MODE,
    },
    LLM: {
        "preset": Other(bad=("gpt-9", None, 3), good=("llama2-7b-h100",)),
        "max_batch_size": Num("int", 1, 4096),
        "token_budget": Num("int", 1, 4096 * 64),
        "window": Num("int", 1, 4096),
        "workload": Other(bad=("chat", None, 1), good=("code",)),
        "rate": Num("float", 0.0, 1e4, low_open=True),
        "num_requests": Num("int", 1, 10**6),
        "generator_config": Other(bad=([1], "tenants")),
        "trace": Other(bad=(3,)),
        "rate_scale": Other(bad=(2.0, 0.0, math.nan)),  # without a trace, or out of range
        "trace_start": Other(bad=(5.0, -1.0)),
        "trace_duration": Other(bad=(10.0, 0.0)),
        "reward_scale": Num("float", 0.0, 1e6, low_open=True),
        "fairness_weight": Num("float", 0.0, 1e6),
        "idle_step": Num("float", 0.0, 3600.0, low_open=True),
        "max_steps": Num("int", 1, optional=True),
        "render_mode": RENDER_MODE,
    },
    IOT: {
        "scale": Other(bad=("huge", None, 3, ["small"]), good=("medium", "large")),
        "topology": Other(bad=("ring", None, 1), good=("mesh",)),
        "rate": Num("float", 0.0, 1e4, low_open=True),
        "num_tasks": Num("int", 1, 10**6, optional=True),
        "arrival": Other(bad=("uniform", None, 0), good=("bursty",)),
        "cv": Num("float", 0.0, 100.0, low_open=True),
        "decision_interval": Num("float", 0.0, 3600.0),
        "window": Num("int", 1, 4096),
        "max_nodes": Num("int", 12, 100_000, optional=True),  # at least the small scale's 12 nodes
        "max_links": Num("int", 16, 100_000, optional=True),  # at least a small mesh's 16 links
        "response_weight": Num("float", 0.0, 1e6),
        "miss_weight": Num("float", 0.0, 1e6),
        "drop_weight": Num("float", 0.0, 1e6),
        "energy_weight": Num("float", 0.0, 1e6),
        "reward_scale": Num("float", 0.0, 1e6, low_open=True),
        "time_scale": Num("float", 1e-6, 1e6),
        "idle_step": Num("float", 0.0, 3600.0, low_open=True),
        "max_steps": Num("int", 1, optional=True),
        "topology_file": Other(bad=(3, "/no/such/topology.yaml", ["a"])),
        "tasks_csv": Other(bad=(3, "/no/such/tasks.csv")),
        "google_trace_dir": Other(bad=(3, "/no/such/trace/dir")),
        "trace_start": Other(bad=(5.0, -1.0, math.nan)),  # without a task file, or out of range
        "trace_duration": Other(bad=(10.0, 0.0)),
        "rate_scale": Other(bad=(2.0, 0.0, math.nan, 1e5)),
        "render_mode": RENDER_MODE,
    },
    CLUSTER: {
        "replicas": Num("int", 1, 256),
        "local_scheduler": Other(bad=("random", "vllm", None, 1), good=("sarathi", "past_future")),
        "preset": Other(bad=("gpt-9", None, 3), good=("llama2-7b-h100",)),
        "max_batch_size": Num("int", 1, 4096),
        "token_budget": Num("int", 1, 4096 * 64),
        "window": Num("int", 1, 4096),
        "workload": Other(bad=("chat", None, 1), good=("code",)),
        "rate": Num("float", 0.0, 1e4, low_open=True, optional=True),
        "num_requests": Num("int", 1, 10**6, optional=True),
        "generator_config": Other(bad=([1], "tenants")),
        "trace": Other(bad=(3,)),
        "rate_scale": Other(bad=(2.0, 0.0, math.nan)),  # without a trace, or out of range
        "trace_start": Other(bad=(5.0, -1.0)),
        "trace_duration": Other(bad=(10.0, 0.0)),
        "reward_scale": Num("float", 0.0, 1e6, low_open=True),
        "idle_step": Num("float", 0.0, 3600.0, low_open=True),
        "render_mode": RENDER_MODE,
    },
}
# Nested arguments: (argument, the env arguments that make it apply, its fields' rules); None for
# an env without one.
NESTED: dict[str, tuple[str, dict[str, Any], type, dict[str, Num]] | None] = {
    VM: ("generator_config", {}, GeneratorConfig, {  # default size medium: 280 PMs, 2048 VMs
        "num_pms": Num("int", 1, 280),
        "max_vms": Num("int", 1, 2048),
        "target_cpu_allocation": Num("float", 0.0, 1.0, low_open=True),
        "churn_events_per_vm": Num("float", 0.0, 100.0),
        "join_job_probability": Num("float", 0.0, 1.0),
        "anti_affinity_probability": Num("float", 0.0, 1.0),
        "double_numa_min_cpu": Num("int", 2, 128),
    }),
    SOC: ("dag_params", {"apps": ("random",), "edges_per_task": 8}, RandomDagParams, {  # window 128
        "n_tasks": Num("int", 1, 128),
        "shape": Num("float", 0.0, low_open=True),
        "out_degree": Num("int", 1, 128),
        "ccr": Num("float", 0.0, 1000.0),
        "beta": Num("float", 0.0, 2.0),
        "mean_cost": Num("float", 0.0, 1e6, low_open=True),
    }),
    LLM: ("generator_config", {}, WorkloadOptions, {
        "cv": Num("float", 0.0, 100.0, low_open=True, optional=True),
        "tenants": Num("int", 1, 1024),
        "flood": Num("float", 1.0, 1e4, optional=True),
        "tenant_skew": Num("float", 0.0, 10.0),
        "slo_class": Num("int", 1, 4),
        "max_new_tokens": Num("int", 1, 10**6, optional=True),
    }),
    IOT: None,
}
NESTED[CLUSTER] = NESTED[LLM]  # the same workload options
ARGUMENTS[VM1], NESTED[VM1] = ARGUMENTS[VM], NESTED[VM]  # v1 and v2 take the same arguments
# Bad combinations and the cases found in the issue: (kwargs, argument named, value named).
COMBINATIONS: dict[str, list[tuple[dict[str, Any], str, Any]]] = {
    VM: [
        ({"mnl": 1.5}, "mnl", 1.5),
        ({"mnl": True}, "mnl", True),
        ({"granularity": 1.5}, "granularity", 1.5),
        ({"size": "small", "generator_config": {"num_pms": 11}}, 'generator_config["num_pms"]', 11),
        ({"size": "small", "generator_config": {"max_vms": 97}}, 'generator_config["max_vms"]', 97),
        ({"generator_config": {"target_cpu_allocation": -1}}, 'generator_config["target_cpu_allocation"]', -1),
        ({"generator_config": {"anti_affinity_probability": 5}},
         'generator_config["anti_affinity_probability"]', 5),
        ({"trace_time_s": 10.0}, "trace_time_s", 10.0),  # no trace_dir
        ({"generator_config": {"no_such_field": 1}}, "generator_config", "no_such_field"),
        ({"generator_config": {1: 2}}, "generator_config", 1),
        ({"request_tables": str(IOT_EXAMPLE)}, "request_tables", str(IOT_EXAMPLE)),  # not JSON
        ({"trace_dir": IOT_EXAMPLE.parent, "request_tables": IOT_EXAMPLE}, "request_tables",
         IOT_EXAMPLE),  # no effect with a trace
    ],
    SOC: [
        ({"time_scale": 0}, "time_scale", 0),
        ({"max_steps": 0}, "max_steps", 0),
        ({"window": 10**7}, "window", 10**7),
        ({"edges_per_task": 10**6}, "edges_per_task", 10**6),
        ({"platform": "unrelated-256", "window": 200_000}, "window", 200_000),
        ({"platform": "unrelated-3", "apps": ("wifi_tx",)}, "apps", ("wifi_tx",)),
        ({"apps": ("wifi_tx", "nope")}, "apps[1]", "nope"),
        ({"platform": "unrelated-3", "dag_params": {"n_tasks": 0}}, 'dag_params["n_tasks"]', 0),
        ({"apps": ("random",), "dag_params": {"shape": 0}}, 'dag_params["shape"]', 0),
        ({"apps": ("random",), "dag_params": {"ccr": math.nan}}, 'dag_params["ccr"]', math.nan),
        ({"apps": ("random",), "dag_params": {"no_such_field": 1}}, "dag_params", "no_such_field"),
        ({"apps": ("random",), "dag_params": [1]}, "dag_params", [1]),
        ({"apps": ("random",), "window": 20, "dag_params": {"shape": 2.0}}, 'dag_params["n_tasks"]', 30),
        ({"apps": ("random",), "dag_params": {"n_tasks": 100, "out_degree": 5}}, "out_degree", 5),
    ],
    LLM: [
        ({"generator_config": {"no_such_field": 1}}, "generator_config", "no_such_field"),
        ({"max_batch_size": True}, "max_batch_size", True),
    ],
    IOT: [
        ({"scale": "medium", "max_nodes": 12}, "max_nodes", 12),  # a medium topology has 47 nodes
        ({"topology_file": IOT_EXAMPLE, "max_nodes": 7}, "max_nodes", 7),  # the file has 8 nodes
        ({"topology_file": IOT_EXAMPLE, "topology": "mesh"}, "topology", "mesh"),  # no effect
    ],
    CLUSTER: [
        ({"generator_config": {"no_such_field": 1}}, "generator_config", "no_such_field"),
        ({"replicas": 2, "rate_scale": 4.0}, "rate_scale", 4.0),  # the default is K, 2 here
        ({"replicas": 4.0}, "replicas", 4.0),
    ],
}
COMBINATIONS[VM1] = COMBINATIONS[VM]


def _cases(env_id: str) -> list[tuple[dict[str, Any], str, Any]]:
    """Every bad case of ``env_id``: (kwargs, the argument the message names, the value)."""
    cases = []
    for name, rule in ARGUMENTS[env_id].items():
        bad = _bad_numbers(rule) if isinstance(rule, Num) else list(rule.bad)
        cases += [({name: value}, name, value) for value in bad]
    if NESTED[env_id] is not None:
        nested, context, _, fields = NESTED[env_id]
        for key, rule in fields.items():
            path = validation.item_name(nested, key)
            cases += [({**context, nested: {key: value}}, path, value) for value in _bad_numbers(rule)]
    return cases + COMBINATIONS[env_id]


ALL_CASES = [(env_id, *case) for env_id in envs.ENV_IDS for case in _cases(env_id)]


def _case_id(case: tuple) -> str:
    env_id, kwargs, *_ = case
    return f"{env_id.split('/')[1]}-{kwargs!r}"[:90]


def test_the_table_covers_every_argument() -> None:
    assert set(ARGUMENTS) == set(NESTED) == set(COMBINATIONS) == set(envs.ENV_IDS)
    for env_id in envs.ENV_IDS:
        parameters = inspect.signature(envs.env_class(env_id).__init__).parameters
        assert set(ARGUMENTS[env_id]) == set(parameters) - {"self"}, env_id
        if NESTED[env_id] is not None:
            nested, _, fields_of, fields = NESTED[env_id]
            assert set(fields) == {field.name for field in dataclasses.fields(fields_of)}, nested


@pytest.mark.parametrize(("env_id", "kwargs", "name", "value"), ALL_CASES, ids=map(_case_id, ALL_CASES))
def test_bad_argument_fails_at_make_naming_it_and_its_value(env_id: str, kwargs: dict, name: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as caught:
        gym.make(env_id, **kwargs)
    # gym.make re-raises a TypeError with the kwargs appended; the env's own message is the cause.
    error = caught.value.__cause__ or caught.value
    assert isinstance(error, ArgumentError), f"{type(error).__name__}: {error}"
    message = str(error)
    assert name in message, message
    assert repr(value) in message or f"{name}={value!r}" in message, message


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_valid_edge_values_are_accepted(env_id: str) -> None:
    for name, rule in ARGUMENTS[env_id].items():
        good = _good_numbers(rule) if isinstance(rule, Num) else list(rule.good)
        for value in good:
            gym.make(env_id, **{name: value})
    if NESTED[env_id] is None:
        return
    nested, context, _, fields = NESTED[env_id]
    for key, rule in fields.items():
        for value in _good_numbers(rule):
            gym.make(env_id, **context, **{nested: {key: value}})


def test_trace_arguments_are_checked_before_the_trace_is_read(tmp_path: Path) -> None:
    # tmp_path holds no trace: each error comes from the checks, not from the loader.
    for value in (math.nan, math.inf, -1.0, "10", 1e300):
        with pytest.raises(ArgumentError, match=f"trace_time_s must be .*got {re.escape(repr(value))}"):
            gym.make(VM, trace_dir=tmp_path, trace_time_s=value)
    with pytest.raises(ArgumentError, match=r'generator_config\["churn_events_per_vm"\] has no effect with trace_dir'):
        gym.make(VM, trace_dir=tmp_path, generator_config={"churn_events_per_vm": 1.0})


def test_generator_config_instances_and_mappings_both_work() -> None:
    env = gym.make(VM, size="small", generator_config=GeneratorConfig(num_pms=4, max_vms=30))
    _, info = env.reset(seed=0)
    assert env.unwrapped.state.instance.num_pms == 4 and env.unwrapped.state.instance.num_vms <= 30
    env = gym.make(VM, size="small", generator_config={"num_pms": 5, "double_numa_min_cpu": 2})
    env.reset(seed=0)
    instance = env.unwrapped.state.instance
    assert instance.num_pms == 5 and np.array_equal(instance.vm_double, instance.vm_cpu >= 2)


EXTREME_SOC = [
    {"injection_rate": 1e6, "noise": 10.0, "time_scale": 1e-3, "reward_scale": 1e6, "n_jobs": 5},
    {"injection_rate": 1e-9, "idle_step": 1e6, "time_scale": 1e9, "reward_scale": 1e-300, "n_jobs": 3},
    {"platform": "unrelated-2", "mode": "static", "window": 8, "edges_per_task": 8,
     "dag_params": {"n_tasks": 8, "out_degree": 8, "ccr": 1000.0, "beta": 2.0, "mean_cost": 1e6, "shape": 1e9}},
]


@pytest.mark.parametrize("kwargs", EXTREME_SOC)
def test_extreme_valid_arguments_keep_observations_and_rewards_finite(kwargs: dict) -> None:
    env = gym.make(SOC, **kwargs)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    for step in range(400):
        # WAIT every 5th step, so idling and waiting are exercised as well as placing.
        action = env.action_space.sample() if step % 5 == 4 else env.action_space.sample(mask=obs["action_mask"])
        obs, reward, terminated, truncated, _ = env.step(action)
        assert all(np.isfinite(array).all() for array in obs.values()) and np.isfinite(reward)
        if terminated or truncated:
            obs, _ = env.reset()


def test_extreme_valid_vm_arguments_keep_observations_finite() -> None:
    env = gym.make(VM, size="small", mnl=10**9, granularity=64, migration_cost=1.0,
                   generator_config={"target_cpu_allocation": 1.0, "churn_events_per_vm": 0.0,
                                     "join_job_probability": 1.0, "anti_affinity_probability": 1.0})
    obs, _ = env.reset(seed=0)
    for _ in range(40):
        obs, reward, terminated, _, _ = env.step(env.action_space.sample(mask=obs["action_mask"]))
        assert all(np.isfinite(array).all() for array in obs.values()) and np.isfinite(reward)
        if terminated:
            obs, _ = env.reset()
