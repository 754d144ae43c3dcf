"""Seeded workloads for the SoC DAG environment: Topcuoglu-style random DAGs, Poisson job
streams over the DS3 applications, and the recipes of the fixed instance sets the leaderboard
reports on (written and checked by :mod:`schedgym.data.instance_sets`). A set's seed key is the
characters of its name without the ``-noise<σ>`` suffix, so both noise levels of a load share
their workloads; training draws from the env's ``np_random`` (seeded by ``reset(seed=...)``), a
different stream, so it never samples them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from schedgym.data.instance_sets import Recipe
from schedgym.envs.soc.dag import mean_inverse_bandwidth
from schedgym.envs.soc.platform import NAMED_INSTANCES, ds3_app, ds3_app_names, ds3_task_types
from schedgym.envs.soc.platform import ds3_type_costs, get_platform
from schedgym.envs.soc.types import Job, SoCInstance
from schedgym.envs.validation import ArgumentError, check_fields, check_float, check_int, item_name

#: Most jobs of a sampled episode: every job is drawn at reset.
MAX_JOBS = 100_000
#: Upper bounds of :class:`RandomDagParams` fields without a natural one (Topcuoglu et al.
#: evaluate CCR 0.1-10 and mean costs of tens of time units).
MAX_CCR = 1000.0
MAX_MEAN_COST = 1e6


@dataclass(frozen=True)
class RandomDagParams:
    """Topcuoglu et al. (TPDS 2002, section 5.1) random graph parameters.

    Attributes:
        n_tasks: v, number of tasks.
        shape: α; the height is about sqrt(v)/α and level widths have mean α·sqrt(v).
        out_degree: Maximum out-degree of a task.
        ccr: Communication to computation ratio (mean edge cost / mean task cost).
        beta: Heterogeneity β: w_ij ~ U[w̄_i(1-β/2), w̄_i(1+β/2)].
        mean_cost: w_DAG, the mean task cost (w̄_i ~ U[0, 2 w_DAG]).
    """

    n_tasks: int = 30
    shape: float = 1.0
    out_degree: int = 3
    ccr: float = 1.0
    beta: float = 1.0
    mean_cost: float = 50.0


def make_dag_params(
    value: Any, *, window: int, edge_slots: int, name: str = "dag_params"
) -> RandomDagParams:
    """Validated random-DAG parameters whose every DAG fits ``window`` task slots and
    ``edge_slots`` DAG-edge slots (:func:`max_random_dag_edges`), so sampling never fails.

    Args:
        value: A :class:`RandomDagParams` or a mapping of some of its fields (the others keep
            their defaults).
        window: Task slots of the env.
        edge_slots: DAG-edge slots of the env.
        name: The argument's name in error messages.

    Raises:
        schedgym.envs.validation.ArgumentError: An unknown field, a value of the wrong type or
            out of range, or DAGs that may not fit; the message names ``name["field"]``.
    """
    # Every field counts, given or default: the sampler uses them all.
    fields = {**dataclasses.asdict(RandomDagParams()), **check_fields(name, value, RandomDagParams)}
    fit = f"a job must fit the window of {window} task slots"
    checks = {
        "n_tasks": partial(check_int, low=1, high=window, why=fit),
        "shape": partial(check_float, low=0.0, low_open=True),
        "out_degree": partial(check_int, low=1, high=window, why=fit),
        "ccr": partial(check_float, low=0.0, high=MAX_CCR),
        "beta": partial(check_float, low=0.0, high=2.0, why="costs w̄(1 ± β/2) stay >= 0"),
        "mean_cost": partial(check_float, low=0.0, high=MAX_MEAN_COST, low_open=True),
    }
    values = {key: check(item_name(name, key), fields[key]) for key, check in checks.items()}
    params = RandomDagParams(**values)
    edges = max_random_dag_edges(params)
    if edges > edge_slots:
        raise ArgumentError(
            f"{name} with n_tasks={params.n_tasks} and out_degree={params.out_degree} can make DAGs "
            f"of {edges} edges, more than the {edge_slots} edge slots (edges_per_task × window): "
            f"raise edges_per_task or lower {item_name(name, 'out_degree')}")
    return params


def max_random_dag_edges(params: RandomDagParams) -> int:
    """Most edges :func:`random_dag_structure` can make: one parent edge per non-entry task and
    at most ``out_degree`` children (and at most n - 1) per task."""
    n = params.n_tasks
    return (n - 1) + n * min(params.out_degree, n - 1)


def uses_random_dags(platform: str, apps: tuple[str, ...]) -> bool:
    """Whether sampled workloads are random DAGs (``apps == ("random",)`` or a platform other
    than ``ds3``) rather than DS3 applications."""
    return platform != "ds3" or apps == ("random",)


def _levels(rng: np.random.Generator, v: int, shape: float) -> list[np.ndarray]:
    """Splits tasks 0..v-1 into consecutive levels: height ≈ sqrt(v)/α, random widths."""
    height = int(np.clip(round(np.sqrt(v) / shape), 1, v))
    # Random positive widths summing to v (every level non-empty).
    cuts = np.sort(rng.choice(np.arange(1, v), size=height - 1, replace=False)) if height > 1 else []
    bounds = np.concatenate([[0], cuts, [v]]).astype(np.int64)
    return [np.arange(bounds[i], bounds[i + 1]) for i in range(height)]


def random_dag_structure(rng: np.random.Generator, params: RandomDagParams) -> np.ndarray:
    """Layered random DAG edges (m, 2): every non-entry task has a parent in the level above;
    each task gets up to ``out_degree`` children in lower levels (mostly the next one)."""
    levels = _levels(rng, params.n_tasks, params.shape)
    edges: set[tuple[int, int]] = set()
    for li in range(1, len(levels)):
        above = levels[li - 1]
        for t in levels[li]:
            edges.add((int(rng.choice(above)), int(t)))
    for li in range(len(levels) - 1):
        below = np.concatenate(levels[li + 1 : li + 3])  # children within two levels
        for t in levels[li]:
            k = int(rng.integers(1, params.out_degree + 1))
            for c in rng.choice(below, size=min(k, len(below)), replace=False):
                edges.add((int(t), int(c)))
    # The parent pass can add edges beyond out_degree; that keeps every level connected.
    return np.array(sorted(edges), np.int64).reshape(-1, 2)


def random_dag(rng: np.random.Generator, params: RandomDagParams, platform: str) -> Job:
    """A random DAG job for ``platform``.

    On ``unrelated-<P>`` costs follow Topcuoglu's β model per processor and edge volumes are
    communication times with mean ``ccr * mean_cost``. On ``ds3`` each task gets a uniformly
    random DS3 task type (its measured latencies) and volumes give the same CCR against the
    platform's mean transfer cost.
    """
    edges = random_dag_structure(rng, params)
    v, m = params.n_tasks, len(edges)
    plat = get_platform(platform)
    if platform == "ds3":
        task_type = rng.integers(0, len(ds3_task_types()), size=v)
        cost = ds3_type_costs()[task_type]
        finite = np.isfinite(cost)
        mean_w = float((np.where(finite, cost, 0).sum(1) / finite.sum(1)).mean())
        mean_inv = mean_inverse_bandwidth(plat.bandwidth)
        volume = rng.uniform(0, 2 * params.ccr * mean_w, size=m) / mean_inv
    else:
        w_bar = rng.uniform(0, 2 * params.mean_cost, size=v)
        spread = rng.uniform(1 - params.beta / 2, 1 + params.beta / 2, size=(v, plat.n_pe))
        cost = np.maximum(np.round(w_bar[:, None] * spread, 1), 0.1)  # strictly positive
        volume = np.round(rng.uniform(0, 2 * params.ccr * params.mean_cost, size=m), 1)
        task_type = np.full(v, -1, np.int64)
    return Job("random", cost, edges, volume, np.asarray(task_type, np.int64))


def sample_app_job(rng: np.random.Generator, apps: tuple[str, ...]) -> Job:
    """One DS3 application, uniformly among ``apps``."""
    return ds3_app(apps[int(rng.integers(len(apps)))])


def poisson_arrivals(rng: np.random.Generator, n_jobs: int, rate_per_ms: float) -> np.ndarray:
    """Arrival times (µs) of a Poisson process with ``rate_per_ms`` jobs/ms; the first at 0."""
    gaps = rng.exponential(1000.0 / rate_per_ms, size=n_jobs)
    gaps[0] = 0.0
    return np.cumsum(gaps)


def sample_instance(rng: np.random.Generator, *, platform: str, mode: str, n_jobs: int,
                    injection_rate: float, apps: tuple[str, ...],
                    dag_params: RandomDagParams) -> SoCInstance:
    """A training workload: DS3 applications (or random DAGs when ``apps == ("random",)`` or the
    platform is not ``ds3``), all at time 0 in static mode, Poisson arrivals in streaming."""
    use_random = uses_random_dags(platform, apps)
    jobs = tuple(
        random_dag(rng, dag_params, platform) if use_random else sample_app_job(rng, apps)
        for _ in range(n_jobs)
    )
    arrival = np.zeros(n_jobs) if mode == "static" else poisson_arrivals(rng, n_jobs, injection_rate)
    return SoCInstance(f"sampled-{mode}", platform, jobs, arrival)


# --------------------------------------------------------------------------- fixed test sets

# Injection rates (jobs/ms) of the load levels, measured on the uniform mix of the six DS3
# applications with this platform file: mean job time under ETF/HEFT_RT is about 1.05× a lone
# job's at 5 jobs/ms, 1.3× at 20 and 2.6× at 40, where MET's is twice ETF's. DS3 sweeps 0-24
# jobs/ms; our reconstructed applications are lighter than the paper's, so queueing needs more.
LOADS = {"light": 5.0, "medium": 20.0, "heavy": 40.0}
NOISES = (0.0, 0.2)
STREAM_JOBS = 50
STREAM_INSTANCES = 3


def _set_names() -> tuple[str, ...]:
    names = ["static-random", "static-apps"]
    for load in LOADS:
        for noise in NOISES:
            names.append(f"stream-{load}-noise{noise:g}")
    return tuple(names)


def _set_env_kwargs(name: str) -> dict[str, Any]:
    if name == "static-random":
        return {"platform": "unrelated-4", "mode": "static", "window": 64}
    if name == "static-apps":
        return {"platform": "ds3", "mode": "static", "window": 160}
    _, load, noise = name.split("-")
    return {"platform": "ds3", "mode": "streaming", "injection_rate": LOADS[load],
            "noise": float(noise.removeprefix("noise")), "window": 128}


def _draw_set(recipe: Recipe) -> list[SoCInstance]:
    """Every instance of a set comes from one generator, ``recipe.rng()``, in order."""
    name, rng = recipe.name, recipe.rng()
    instances: list[SoCInstance] = []
    if name == "static-random":
        for k in range(12):
            params = RandomDagParams(
                n_tasks=int(rng.choice([20, 40, 60])), shape=float(rng.choice([0.5, 1.0, 2.0])),
                out_degree=int(rng.choice([2, 3, 4])), ccr=float(rng.choice([0.5, 1.0, 2.0])),
                beta=float(rng.choice([0.5, 1.0, 1.5])),
            )
            job = random_dag(rng, params, "unrelated-4")
            instances.append(SoCInstance(f"{name}-{k:02d}", "unrelated-4", (job,), np.zeros(1)))
    elif name == "static-apps":
        for app in ds3_app_names():
            instances.append(SoCInstance(f"{name}-{app}", "ds3", (ds3_app(app),), np.zeros(1)))
        for k in range(4):
            jobs = tuple(sample_app_job(rng, ds3_app_names()) for _ in range(4))
            instances.append(SoCInstance(f"{name}-batch{k}", "ds3", jobs, np.zeros(4)))
    else:
        for k in range(STREAM_INSTANCES):
            jobs = tuple(sample_app_job(rng, ds3_app_names()) for _ in range(STREAM_JOBS))
            arrival = poisson_arrivals(rng, STREAM_JOBS, recipe.env_kwargs["injection_rate"])
            instances.append(SoCInstance(f"{name}-{k:02d}", "ds3", jobs, arrival))
    return instances


def _recipe(name: str) -> Recipe:
    # Both noise levels of one load share the seed, hence the workloads: they differ only in noise.
    key = name.rsplit("-noise", 1)[0]
    return Recipe("soc", name, "test", _set_env_kwargs(name), (sum(map(ord, key)), len(key)), _draw_set)


INSTANCE_SETS: tuple[Recipe, ...] = tuple(_recipe(name) for name in _set_names())


def named_instance(name: str) -> SoCInstance:
    """A named hand-made instance from :data:`envs.soc.platform.NAMED_INSTANCES`
    (``"topcuoglu-fig2"``)."""
    if name not in NAMED_INSTANCES:
        raise KeyError(f"unknown named instance {name!r}; known: {', '.join(NAMED_INSTANCES)}")
    return NAMED_INSTANCES[name]()
