"""Sampled workloads: their distributions follow the documented figures."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym.envs.iot import generator
from schedgym.envs.iot.generator import TaskDistribution, arrival_times, sample_instance
from schedgym.envs.iot.types import IoTInstance


def test_poisson_streams_have_the_rate_per_device_and_cv_one() -> None:
    times, owner = arrival_times(np.random.default_rng(0), devices=4, rate=20.0, count=40_000)
    assert np.all(np.diff(times) >= 0) and times[0] == 0.0
    for device in range(4):
        gaps = np.diff(times[owner == device])
        assert gaps.mean() == pytest.approx(1 / 20.0, rel=0.03)
        assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)


def test_bursty_streams_keep_the_rate_with_the_asked_cv() -> None:
    times, owner = arrival_times(np.random.default_rng(1), devices=2, rate=10.0, count=60_000,
                                 arrival="bursty", cv=3.0)
    gaps = np.diff(times[owner == 0])
    assert gaps.mean() == pytest.approx(0.1, rel=0.08)
    assert gaps.std() / gaps.mean() == pytest.approx(3.0, rel=0.1)


def test_task_figures_follow_the_distribution_and_the_deadline_rule() -> None:
    instance = sample_instance(np.random.default_rng(2), num_tasks=5000)
    instance.validate()
    d = TaskDistribution()
    assert d.cycles[0] <= instance.cycles.min() and instance.cycles.max() <= d.cycles[1]
    assert d.memory_mb[0] <= instance.memory_mb.min() and instance.memory_mb.max() <= d.memory_mb[1]
    ratio = instance.output_bits / instance.input_bits
    assert d.output_ratio[0] <= ratio.min() and ratio.max() <= d.output_ratio[1]
    shares = np.bincount(instance.qos, minlength=3) / instance.num_tasks
    np.testing.assert_allclose(shares, d.qos_probabilities, atol=0.03)
    local = instance.cycles / instance.topology.freq_hz[instance.device]
    np.testing.assert_allclose(instance.deadline_s, np.asarray(d.deadline_factors)[instance.qos] * local)
    # Log-uniform cycles: the median is the geometric mean of the bounds.
    assert np.median(instance.cycles) == pytest.approx(np.sqrt(1e7 * 3e8), rel=0.1)


def test_sampling_is_a_function_of_the_seed_and_instances_round_trip() -> None:
    a = sample_instance(np.random.default_rng(7), scale="medium", topology="mesh", arrival="bursty")
    b = sample_instance(np.random.default_rng(7), scale="medium", topology="mesh", arrival="bursty")
    assert all(np.array_equal(a.arrays()[k], b.arrays()[k]) for k in a.arrays())
    back = IoTInstance.from_arrays(a.arrays(), name="x")
    assert all(np.array_equal(back.arrays()[k], a.arrays()[k]) for k in a.arrays())
    with pytest.raises(ValueError, match=r"lacks the arrays \['node_tier'\]"):
        IoTInstance.from_arrays({k: v for k, v in a.arrays().items() if k != "node_tier"})


def test_instance_validation_names_the_task() -> None:
    arrays = sample_instance(np.random.default_rng(3), num_tasks=20).arrays()
    for field, index, value, message in (
            ("deadline_s", 4, 0.0, r"deadline_s\[4\] = 0.0, must be finite and > 0"),
            ("device", 2, 9, r"device\[2\] = 9, must be the index of a device node"),
            ("cycles", 0, np.nan, r"cycles\[0\] = nan"),
            ("arrival", 5, -1.0, r"arrival\[5\] = -1.0")):
        bad = {k: v.copy() for k, v in arrays.items()}
        bad[field][index] = value
        with pytest.raises(ValueError, match=message):
            IoTInstance.from_arrays(bad, name="bad")


def test_every_fixed_set_has_a_validation_twin() -> None:
    names = {recipe.name for recipe in generator.INSTANCE_SETS}
    tests = {recipe.name for recipe in generator.INSTANCE_SETS if recipe.purpose == "test"}
    assert {f"{name}-val" for name in tests} == names - tests
