"""The calibrated generator reproduces the Google 2011 figures it cites (version 2's request
tables and churn: test_generator_requests.py, test_generator_churn.py)."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym.envs.vm.generator import (
    SIZES,
    CORES_PER_UNIT,
    MACHINE_CONFIGS,
    V1_TABLES,
    GeneratorConfig,
    default_config,
    requests_to_vm_sizes,
    sample_instance,
    sample_machines,
    sample_requests,
)
from schedgym.envs.vm.sim import initial_state


def test_version_1_requests_match_the_published_quantiles() -> None:
    cpu, mem = sample_requests(np.random.default_rng(0), 200_000, V1_TABLES)
    published = {0.10: (0.0313, 0.0127), 0.25: (0.0625, 0.0256), 0.50: (0.0625, 0.0477),
                 0.75: (0.0938, 0.0857), 0.90: (0.128, 0.127), 0.99: (0.339, 0.233)}
    for q, (cpu_q, mem_q) in published.items():
        assert np.quantile(cpu, q) == pytest.approx(cpu_q, rel=0.03), q
        # Memory is continuous: compare its empirical CDF at the published value (robust in tails).
        assert np.mean(mem <= mem_q) == pytest.approx(q, abs=0.005), q
    assert np.mean(cpu == 0.0625) == pytest.approx(0.42, abs=0.01)
    assert np.mean(cpu == 0.125) == pytest.approx(0.09, abs=0.01)
    assert np.mean(cpu == 0.09375) == pytest.approx(0.06, abs=0.01)
    assert np.corrcoef(cpu, mem)[0, 1] == pytest.approx(0.49, abs=0.04)
    assert cpu.max() <= V1_TABLES.cpu_remainder[-1][1] and mem.max() <= V1_TABLES.mem_remainder[-1][1]


def test_machine_mix_follows_the_trace() -> None:
    cores, gib = sample_machines(np.random.default_rng(1), 50_000)
    share_half_cpu = MACHINE_CONFIGS[MACHINE_CONFIGS[:, 1] == 0.5, 0].sum() / MACHINE_CONFIGS[:, 0].sum()
    assert np.mean(cores[:, 0] == CORES_PER_UNIT // 4) == pytest.approx(share_half_cpu, abs=0.01)
    assert (cores[:, 0] == cores[:, 1]).all() and (gib > 0).all()


def test_vm_sizes_are_whole_and_doubles_even() -> None:
    cores, gib, double = requests_to_vm_sizes(np.array([0.0044, 0.0625, 0.26]), np.array([0.001, 0.05, 0.1]), 32)
    np.testing.assert_array_equal(cores, [1, 8, 34])
    np.testing.assert_array_equal(double, [False, False, True])
    assert gib[2] % 2 == 0 and (gib >= 1).all()


def test_version_1_medium_cluster_is_fragmented_like_vmr2l_reports() -> None:
    # Version 2's figures: test_generator_churn.py.
    preset = SIZES["medium"]
    config = default_config(preset.num_pms, preset.max_vms, version=1)
    rates, counts = [], []
    for seed in range(3):
        inst = sample_instance(np.random.default_rng(seed), config, version=1)
        state = initial_state(inst)  # also validates capacity and anti-affinity
        rates.append(state.initial_fragment_rate)
        counts.append(inst.num_vms)
        allocation = 1 - state.free_cpu.sum() / inst.numa_cpu.sum()
        assert allocation == pytest.approx(config.target_cpu_allocation, abs=0.02)
    assert np.mean(rates) == pytest.approx(0.55, abs=0.06)
    assert 1500 <= np.mean(counts) <= preset.max_vms


@pytest.mark.parametrize("version", [1, 2])
def test_generation_is_seeded(version: int) -> None:
    config = GeneratorConfig(num_pms=10, max_vms=96)
    a = sample_instance(np.random.default_rng(3), config, version=version)
    b = sample_instance(np.random.default_rng(3), config, version=version)
    c = sample_instance(np.random.default_rng(4), config, version=version)
    for key, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[key])
    assert not np.array_equal(a.vm_cpu, c.vm_cpu) or not np.array_equal(a.vm_pm, c.vm_pm)
