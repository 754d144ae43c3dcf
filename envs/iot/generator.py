"""Seeded IoT workloads: a generated topology and a task stream, and the fixed instance sets.

Task figures (``../shared/reference/iot_edge.md``):

- ``cycles`` log-uniform in [10^7, 3·10^8] (offloading-gym's task range);
- ``memory_mb`` uniform in [25, 100] MB (offloading-gym);
- ``input_bits`` log-uniform in [10, 200] kbit (*assumption*, sized for RayCloudSim's
  1.7–2.5 Mbps device links: 4–120 ms on the uplink); ``output_bits`` 5–20% of the input
  (*assumption*: results are summaries);
- QoS classes 0 / 1 / 2 (critical, standard, best effort) with probabilities 0.2 / 0.5 / 0.3 and
  deadlines of 1.5 / 3 / 10 times the task's run time on its own device (*assumption*, in the
  spirit of the deadline-aware classes of arXiv 2508.04334; the Google-trace option of issue 11
  uses the same rule);
- arrivals per device: a Poisson process of ``rate`` tasks/s, or ``bursty`` — a gamma renewal
  process of the same rate with inter-arrival coefficient of variation ``cv`` (default 3).

Load levels of the sets, in tasks/s per device, against a Raspberry Pi 4's capacity of about 70
tasks/s (4 cores / 57 ms mean run) and its uplink's about 33 tasks/s (2.1 Mbps / 63 kbit mean
input): light 10, medium 30, heavy 60.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from schedgym.data.instance_sets import Recipe
from schedgym.envs.iot.topology import SCALES, make_topology
from schedgym.envs.iot.types import QOS_CLASSES, IoTInstance, Topology

ARRIVALS = ("poisson", "bursty")
LOADS = {"light": 10.0, "medium": 30.0, "heavy": 60.0}  # tasks/s per device
MAX_TASKS = 1_000_000


@dataclass(frozen=True)
class TaskDistribution:
    """The distributions of task figures (module docstring has their sources)."""

    cycles: tuple[float, float] = (1e7, 3e8)  # log-uniform
    memory_mb: tuple[float, float] = (25.0, 100.0)  # uniform
    input_bits: tuple[float, float] = (1e4, 2e5)  # log-uniform
    output_ratio: tuple[float, float] = (0.05, 0.2)  # uniform, of the input
    qos_probabilities: tuple[float, ...] = (0.2, 0.5, 0.3)
    deadline_factors: tuple[float, ...] = (1.5, 3.0, 10.0)  # × run time on the device, per class


def arrival_times(rng: np.random.Generator, devices: int, rate: float, count: int, arrival: str = "poisson",
                  cv: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` arrivals of ``devices`` independent streams of ``rate`` tasks/s each.

    Returns:
        Arrival times (count,) non-decreasing, and each arrival's device index in [0, devices).
    """
    shape = 1.0 if arrival == "poisson" else 1.0 / cv ** 2
    mean_gap = 1.0 / rate
    horizon = count / (rate * devices)
    times: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    chunk = max(8, int(2 * count / devices) + 8)
    for device in range(devices):
        stream = np.cumsum(rng.gamma(shape, mean_gap / shape, size=chunk))
        while stream[-1] < 2 * horizon:  # long enough that the merged first `count` are exact
            stream = np.concatenate([stream, stream[-1] + np.cumsum(rng.gamma(shape, mean_gap / shape, chunk))])
        times.append(stream)
        owners.append(np.full(len(stream), device, np.int64))
    all_times, all_owners = np.concatenate(times), np.concatenate(owners)
    order = np.lexsort((all_owners, all_times))[:count]
    return all_times[order] - all_times[order[0]] if count else all_times[:0], all_owners[order]


def sample_tasks(rng: np.random.Generator, topology: Topology, rate: float, count: int, arrival: str = "poisson",
                 cv: float = 3.0, distribution: TaskDistribution = TaskDistribution(),
                 name: str = "") -> IoTInstance:
    """A task stream on ``topology`` (module docstring); the first task arrives at 0."""
    devices = topology.devices
    times, owner = arrival_times(rng, len(devices), rate, count, arrival, cv)
    log_uniform = lambda bounds: np.exp(rng.uniform(*np.log(bounds), size=count))  # noqa: E731
    cycles = log_uniform(distribution.cycles)
    memory = rng.uniform(*distribution.memory_mb, size=count)
    input_bits = log_uniform(distribution.input_bits)
    output_bits = input_bits * rng.uniform(*distribution.output_ratio, size=count)
    qos = rng.choice(QOS_CLASSES, size=count, p=distribution.qos_probabilities).astype(np.int64)
    device = devices[owner]
    local_time = cycles / topology.freq_hz[device]
    deadline = np.asarray(distribution.deadline_factors)[qos] * local_time
    return IoTInstance(topology, times, device.astype(np.int64), input_bits, cycles, memory, output_bits,
                       deadline, qos, name=name)


def sample_instance(rng: np.random.Generator, scale: str = "small", topology: str = "tree", rate: float = 30.0,
                    num_tasks: int = 400, arrival: str = "poisson", cv: float = 3.0, name: str = "") -> IoTInstance:
    """A generated topology of ``scale`` and kind ``topology`` with a task stream on it."""
    graph = make_topology(rng, SCALES[scale], topology)
    return sample_tasks(rng, graph, rate, num_tasks, arrival, cv, name=name)


# ---------------------------------------------------------------------- fixed instance sets

TEST_INSTANCES, VAL_INSTANCES = 5, 3
# base name -> (env kwargs, sample_instance arguments)
_SETS: dict[str, tuple[dict, dict]] = {
    **{f"small-tree-{load}": ({"scale": "small"}, {"scale": "small", "topology": "tree", "rate": rate})
       for load, rate in LOADS.items()},
    "small-mesh-bursty": ({"scale": "small"}, {"scale": "small", "topology": "mesh", "rate": LOADS["medium"],
                                               "arrival": "bursty"}),
    "medium-mesh-medium": ({"scale": "medium"}, {"scale": "medium", "topology": "mesh", "rate": LOADS["medium"],
                                                 "num_tasks": 2000}),
}


def _draw_set(recipe: Recipe, arguments: dict, count: int) -> list[IoTInstance]:
    return [sample_instance(recipe.rng(index), name=f"{recipe.name}-{index}", **arguments) for index in range(count)]


def _recipes(base: str, seed: int) -> tuple[Recipe, Recipe]:
    env_kwargs, arguments = _SETS[base]
    return (Recipe("iot", base, "test", env_kwargs, (seed,), partial(_draw_set, arguments=arguments,
                                                                     count=TEST_INSTANCES)),
            Recipe("iot", f"{base}-val", "val", env_kwargs, (seed,),
                   partial(_draw_set, arguments=arguments, count=VAL_INSTANCES)))


INSTANCE_SETS: tuple[Recipe, ...] = tuple(recipe for seed, base in enumerate(_SETS) for recipe in _recipes(base, seed))
