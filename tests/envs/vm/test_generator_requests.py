"""The request tables of generator version 2 reproduce the published Google 2011 marginals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from schedgym.envs.vm.generator import (
    GOOGLE_2011_TABLES,
    PUBLISHED_CPU_MASSES,
    PUBLISHED_CPU_QUANTILES,
    PUBLISHED_MEMORY_MASSES,
    PUBLISHED_MEMORY_QUANTILES,
    V1_TABLES,
    sample_requests,
)
from schedgym.envs.vm.requests import (
    RequestTables,
    RequestTablesError,
    remainder_from_quantiles,
)

SAMPLES = 200_000
#: Tolerances. A published quantile (p, v) holds if the sample's CDF just below and at v brackets
#: p within 0.3 percentage points (the binomial standard deviation at 200,000 draws is at most
#: 0.11 points), v read as the point mass within 0.5% of it if there is one (the quantiles are
#: rounded to 3 significant digits). A point mass's share holds within 0.5 percentage points.
CDF_ATOL = 0.003
SHARE_ATOL = 0.005


@pytest.fixture(scope="module")
def requests() -> tuple[np.ndarray, np.ndarray]:
    return sample_requests(np.random.default_rng(0), SAMPLES)


@pytest.mark.parametrize("resource", ["cpu", "mem"])
def test_published_quantiles(requests, resource: str) -> None:
    values = requests[0] if resource == "cpu" else requests[1]
    published = PUBLISHED_CPU_QUANTILES if resource == "cpu" else PUBLISHED_MEMORY_QUANTILES
    pairs = PUBLISHED_CPU_MASSES if resource == "cpu" else PUBLISHED_MEMORY_MASSES
    masses = [m for m, _ in pairs]
    for p, value in published[1:-1]:  # 0% is our assumption; the max is a single task
        value = next((m for m in masses if abs(m - value) <= 0.005 * m), value)
        below, at = np.mean(values < value), np.mean(values <= value)
        assert below - CDF_ATOL <= p <= at + CDF_ATOL, (resource, p, value, below, at)
    assert values.max() <= published[-1][1]


@pytest.mark.parametrize("resource", ["cpu", "mem"])
def test_published_point_masses(requests, resource: str) -> None:
    values = requests[0] if resource == "cpu" else requests[1]
    masses = PUBLISHED_CPU_MASSES if resource == "cpu" else PUBLISHED_MEMORY_MASSES
    for value, share in masses:
        assert np.mean(values == value) == pytest.approx(share, abs=SHARE_ATOL), (resource, value)
    covered = np.isin(values, [value for value, _ in masses]).mean()
    assert covered == pytest.approx({"cpu": 0.787, "mem": 0.689}[resource], abs=SHARE_ATOL)


def test_large_request_share_and_raw_correlation(requests) -> None:
    cpu, mem = requests
    assert np.mean(cpu >= 0.25) == pytest.approx(0.031, abs=0.002)  # published: 3.1%
    # The copula is calibrated on placed VMs (test_generator_churn); the raw requests sit a
    # little below the published 0.49.
    assert 0.44 <= np.corrcoef(cpu, mem)[0, 1] <= 0.52


def test_remainder_keeps_the_quantiles_of_a_hand_made_marginal() -> None:
    # Quantiles 45% at 0.4 and 50% at 0.5, masses 0.2 at 0.5 and 0.1 at 0.3. The step at 0.5
    # would start at 0.4 (the middle of [0.3, 0.5]), below F(0.4) = 0.45, so it must start at
    # 0.45. Below 0.4 the remaining 0.35 spreads evenly over (0.1, 0.4) around the mass at 0.3.
    knots = ((0.0, 0.1), (0.45, 0.4), (0.5, 0.5), (1.0, 0.9))
    masses = ((0.5, 0.2), (0.3, 0.1))
    remainder = remainder_from_quantiles(knots, masses)
    cdf, values = RequestTables(masses, remainder, masses, remainder, 0.0).quantile_points("cpu")
    def quantile(u: float) -> float:
        return float(np.interp(u, cdf, values))
    assert quantile(0.2) == pytest.approx(0.1 + 0.2 / (0.35 / 0.3))  # continuous, below 0.3
    assert quantile(0.25) == quantile(0.33) == 0.3  # the mass spans (0.2333, 0.3333)
    assert quantile(0.449) == pytest.approx(0.4, abs=1e-3)
    assert quantile(0.451) == quantile(0.5) == quantile(0.649) == 0.5  # step (0.45, 0.65)
    assert quantile(0.825) == pytest.approx(0.7)  # 0.35 spread over (0.5, 0.9)


def test_a_mass_too_small_for_its_quantiles_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold the quantiles"):
        remainder_from_quantiles(((0.0, 0.1), (0.25, 0.5), (0.75, 0.5), (1.0, 0.9)), ((0.5, 0.1),))


def test_version_1_tables_are_the_old_interpolation() -> None:
    # Without masses the quantile function is the knots themselves (version 1 replays exactly).
    cdf, values = V1_TABLES.quantile_points("cpu")
    np.testing.assert_array_equal(cdf, [p for p, _ in V1_TABLES.cpu_remainder])
    np.testing.assert_array_equal(values, [v for _, v in V1_TABLES.cpu_remainder])


def test_tables_round_trip_through_json(tmp_path: Path) -> None:
    path = tmp_path / "tables.json"
    GOOGLE_2011_TABLES.save(path)
    assert RequestTables.load(path) == GOOGLE_2011_TABLES
    assert [p.name for p in tmp_path.iterdir()] == ["tables.json"]  # no temporary left


@pytest.mark.parametrize(("edit", "named"), [
    (lambda t: t.update(copula_correlation=1.5),
     "'copula_correlation' must be in (-1, 1), got 1.5"),
    (lambda t: t.update(cpu_masses=[[0.1, 0.6], [0.2, 0.6]]), "'cpu_masses': shares sum to 1.2"),
    (lambda t: t.update(mem_masses=[[0.1, "a"]]), "'mem_masses'[0] must be a pair of numbers"),
    (lambda t: t.update(mem_remainder=[[0.0, 0.2], [1.0, 0.1]]), "'mem_remainder': values must"),
    (lambda t: t.update(cpu_remainder=[[0.1, 0.2], [1.0, 0.3]]), "'cpu_remainder': probabilities"),
    (lambda t: t.pop("mem_masses"), "missing field 'mem_masses'"),
    (lambda t: t.update(extra=1), "unknown field 'extra'"),
    (lambda t: t.update(format=7), "field 'format' must be 1, got 7"),
])
def test_bad_tables_name_the_file_field_and_value(tmp_path: Path, edit, named: str) -> None:
    value = GOOGLE_2011_TABLES.to_json()
    edit(value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(value))
    with pytest.raises(RequestTablesError) as caught:
        RequestTables.load(path)
    assert str(path) in str(caught.value) and named in str(caught.value), str(caught.value)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tables.json"
    path.write_text("{not json")
    with pytest.raises(RequestTablesError, match=r"tables.json: not JSON"):
        RequestTables.load(path)
