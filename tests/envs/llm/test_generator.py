"""Tests for envs.llm.generator: calibration against the published trace figures, arrivals,
tenants, SLO classes, context clipping, determinism and the fixed-set recipes."""

from __future__ import annotations

import numpy as np
import pytest

from schedgym.data.azure_llm import Trace
from schedgym.data.instance_sets import SEED_NAMESPACES
from schedgym.envs.llm import generator
from schedgym.envs.llm.generator import (
    INSTANCE_SETS,
    MIXED_SLO_CLASSES,
    fit_context,
    instance_from_trace,
    sample_arrivals,
    sample_instance,
    sample_lengths,
    tenant_shares,
)

# The Traces table of shared/reference/llm_serving.md: mean and quantiles (None = not published).
PUBLISHED = {
    ("conversation", "prompt"): {"mean": 1155, 0.5: 1020, 0.9: 2734, 0.99: 4142, "max": 14050},
    ("conversation", "output"): {"mean": 211, 0.5: 129, 0.9: 424, 0.99: 601, "max": 1000},
    ("code", "prompt"): {"mean": 2048, 0.5: 1469, 0.9: 5186, 0.99: None, "max": 7437},
    ("code", "output"): {"mean": 28, 0.5: 13, 0.9: 55, 0.99: 249, "max": 1899},
}
QUANTILE_TOLERANCE = 0.10  # relative, on 50k samples
MEAN_TOLERANCE = 0.05  # the code output's log-linear tail overshoots its mean by about 4%


@pytest.mark.parametrize(("workload", "kind"), list(PUBLISHED))
def test_sampled_lengths_match_the_published_quantiles(workload: str, kind: str) -> None:
    prompt, output = sample_lengths(np.random.default_rng(7), workload, 50_000)
    lengths = prompt if kind == "prompt" else output
    figures = PUBLISHED[(workload, kind)]
    spec = generator.WORKLOADS[workload]
    knots = spec.prompt_quantiles if kind == "prompt" else spec.output_quantiles
    assert np.all(np.diff(knots) >= 0) and knots[-1] == figures["max"]  # a monotone quantile function
    assert lengths.dtype == np.int64 and lengths.min() >= 1 and lengths.max() <= figures["max"]
    assert lengths.mean() == pytest.approx(figures["mean"], rel=MEAN_TOLERANCE)
    for q in (0.5, 0.9, 0.99):
        if figures[q] is not None:
            assert np.quantile(lengths, q) == pytest.approx(figures[q], rel=QUANTILE_TOLERANCE), q


@pytest.mark.parametrize(("rate", "cv"), [(3.0, 1.0), (5.53, 1.09), (2.57, 13.2)])
def test_arrivals_have_the_requested_rate_and_cv(rate: float, cv: float) -> None:
    arrival = sample_arrivals(np.random.default_rng(3), 200_001, rate, cv)
    gaps = np.diff(arrival)
    assert arrival[0] == 0.0 and np.all(gaps >= 0)
    assert 1.0 / gaps.mean() == pytest.approx(rate, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.10)


def test_workload_defaults_are_the_trace_rates_and_cvs() -> None:
    # The code workload's default arrivals are gamma with CV 13.2; many gaps are exactly 0.
    code = sample_instance(np.random.default_rng(1), "code", num_requests=20_000)
    gaps = np.diff(code.arrival)
    assert gaps.std() / gaps.mean() > 8 and np.mean(gaps == 0) > 0.005
    conv = sample_instance(np.random.default_rng(1), "conversation", num_requests=20_000)
    gaps = np.diff(conv.arrival)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)
    assert 1.0 / gaps.mean() == pytest.approx(5.53, rel=0.05)


def test_fit_context_takes_the_excess_proportionally_as_vidur_does() -> None:
    # 5000 + 1000 is 1904 over 4096: ceil(1904 * 5/6) = 1587 from the prompt, ceil(1904 / 6) = 318 from the output.
    prompt, output, clipped = fit_context(np.array([5000, 100, 1, 4095]), np.array([1000, 50, 9000, 1]), 4096)
    np.testing.assert_array_equal(prompt, [3413, 100, 1, 4095])
    assert output[:2].tolist() == [682, 50] and output[3] == 1
    assert clipped == 2  # request 2 (1 + 9000) as well: its output gives way, its prompt stays ≥ 1
    assert prompt[2] + output[2] <= 4096 and output[2] >= 1


def test_fit_context_enforces_the_limit_and_counts_on_random_lengths() -> None:
    rng = np.random.default_rng(5)
    prompt, output = rng.integers(1, 20_000, 10_000), rng.integers(1, 5_000, 10_000)
    for limit in (2, 17, 4096):
        new_prompt, new_output, clipped = fit_context(prompt, output, limit)
        over = prompt + output > limit
        assert clipped == over.sum()
        assert np.all(new_prompt + new_output <= limit) and new_prompt.min() >= 1 and new_output.min() >= 1
        np.testing.assert_array_equal(new_prompt[~over], prompt[~over])
        np.testing.assert_array_equal(new_output[~over], output[~over])
    with pytest.raises(ValueError, match="max_model_len must be ≥ 2"):
        fit_context(prompt, output, 1)


@pytest.mark.parametrize("max_model_len", [4096, 2048])
def test_sampled_instances_respect_the_context_and_the_new_token_cap(max_model_len: int) -> None:
    instance = sample_instance(np.random.default_rng(2), "code", num_requests=5_000,
                               max_model_len=max_model_len, max_new_tokens=100)
    assert np.all(instance.prompt_tokens + instance.output_tokens <= max_model_len)
    assert np.all(instance.prompt_tokens + instance.max_new_tokens <= max_model_len)
    assert np.all(instance.output_tokens <= instance.max_new_tokens) and instance.max_new_tokens.max() == 100
    assert instance.prompt_tokens.max() > max_model_len - 100  # long prompts were clipped, not dropped


def test_instance_from_trace_clips_with_a_counted_warning_and_starts_at_zero() -> None:
    trace = Trace(arrival=np.array([5.0, 5.5, 7.0, 7.0]), prompt_tokens=np.array([100, 4000, 3000, 10]),
                  output_tokens=np.array([10, 200, 1500, 20]), source="demo.csv")
    with pytest.warns(UserWarning, match=r"demo.csv: 2 of 4 requests have prompt \+ output > max_model_len=4096"):
        instance = instance_from_trace(trace, name="demo")
    np.testing.assert_array_equal(instance.arrival, [0.0, 0.5, 2.0, 2.0])
    assert np.all(instance.prompt_tokens + instance.output_tokens <= 4096)
    np.testing.assert_array_equal(instance.prompt_tokens[[0, 3]], [100, 10])
    np.testing.assert_array_equal(instance.max_new_tokens, np.minimum(1500, 4096 - instance.prompt_tokens))
    assert instance.num_tenants == 1 and set(instance.ttft_slo) == {0.8}
    with pytest.raises(ValueError, match="pass rng"):
        instance_from_trace(trace, tenants=2)
    with pytest.warns(UserWarning):
        tenanted = instance_from_trace(trace, np.random.default_rng(0), tenants=3, slo_classes=MIXED_SLO_CLASSES)
    assert tenanted.num_tenants == 3


def test_same_seed_same_instance_and_different_seeds_differ() -> None:
    options = {"workload": "conversation", "num_requests": 300, "tenants": 4, "flood": 3.0,
               "slo_classes": MIXED_SLO_CLASSES}
    a, b = (sample_instance(np.random.default_rng(11), **options) for _ in range(2))
    c = sample_instance(np.random.default_rng(12), **options)
    for field, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[field])
        assert value.dtype == b.arrays()[field].dtype
    assert not np.array_equal(a.arrival, c.arrival) and not np.array_equal(a.prompt_tokens, c.prompt_tokens)


def test_tenant_mixes_zipf_and_flood() -> None:
    harmonic = 1 + 1 / 2 + 1 / 3 + 1 / 4
    np.testing.assert_allclose(tenant_shares(4), [1 / (i * harmonic) for i in (1, 2, 3, 4)])
    np.testing.assert_allclose(tenant_shares(3, skew=0.0), [1 / 3] * 3)
    np.testing.assert_allclose(tenant_shares(4, flood=6.0), [6 / 9, 1 / 9, 1 / 9, 1 / 9])
    instance = sample_instance(np.random.default_rng(4), num_requests=40_000, tenants=4, flood=6.0)
    shares = np.bincount(instance.tenant, minlength=4) / 40_000
    np.testing.assert_allclose(shares, tenant_shares(4, flood=6.0), atol=0.01)
    np.testing.assert_array_equal(instance.tenant_weight, np.ones(4))
    weighted = sample_instance(np.random.default_rng(4), num_requests=10, tenants=2, tenant_weights=[2.0, 1.0])
    np.testing.assert_array_equal(weighted.tenant_weight, [2.0, 1.0])
    for bad in ({"tenants": 1, "flood": 2.0}, {"tenants": 3, "flood": 0.5}, {"tenants": 0}):
        with pytest.raises(ValueError):
            sample_instance(np.random.default_rng(0), num_requests=5, **bad)


def test_slo_classes_scale_jitserve_base_slos() -> None:
    single = sample_instance(np.random.default_rng(0), num_requests=50, slo_classes=3)
    np.testing.assert_allclose(single.ttft_slo, 3 * 0.8)
    np.testing.assert_allclose(single.tpot_slo, 3 * 0.08)
    mixed = sample_instance(np.random.default_rng(0), num_requests=8_000, slo_classes=MIXED_SLO_CLASSES)
    classes = np.rint(mixed.ttft_slo / 0.8).astype(int)
    np.testing.assert_allclose(np.bincount(classes, minlength=5)[1:] / 8_000, MIXED_SLO_CLASSES, atol=0.02)
    np.testing.assert_allclose(mixed.tpot_slo, mixed.ttft_slo / 10)
    for bad in (5, (0.5, 0.5), (0.5, 0.5, 0.5, -0.5)):
        with pytest.raises(ValueError, match="slo_classes"):
            sample_instance(np.random.default_rng(0), num_requests=5, slo_classes=bad)
    with pytest.raises(ValueError, match="unknown workload 'chat'; known: conversation, code"):
        sample_instance(np.random.default_rng(0), "chat")


RECIPES = {recipe.name: recipe for recipe in INSTANCE_SETS}
BASES = ("conv-rate2", "conv-rate3", "conv-rate3.5", "conv-rate4", "code-bursty", "tenants-flood")


def test_every_recipe_builds_valid_instances() -> None:
    assert set(RECIPES) == set(BASES) | {f"{base}-val" for base in BASES}
    for name, recipe in RECIPES.items():
        built = recipe.build()
        assert recipe.env_key == "llm" and built.env_kwargs == {}
        assert recipe.purpose == ("val" if name.endswith("-val") else "test")
        assert len(built.instances) == (4 if recipe.purpose == "val" else 8)
        for index, instance in enumerate(built.instances):
            instance.validate()
            assert instance.name == f"{name}/{index}" and instance.num_requests == 400
            assert np.all(instance.prompt_tokens + instance.max_new_tokens <= 4096)
            flood = name.startswith("tenants-flood")
            assert instance.num_tenants == (4 if flood else 1)
            assert set(np.unique(instance.ttft_slo)) <= {0.8 * k for k in (1, 2, 3, 4)}
            if not flood:
                assert set(np.unique(instance.ttft_slo)) == {0.8}
    assert len({recipe.entropy for recipe in INSTANCE_SETS}) == len(INSTANCE_SETS)
    assert len(set(SEED_NAMESPACES.values())) == len(SEED_NAMESPACES)


@pytest.mark.parametrize("base", ["conv-rate2", "conv-rate3.5", "tenants-flood"])
def test_set_loads_match_their_rates(base: str) -> None:
    rate = generator._SET_ARGUMENTS[base]["rate"]
    instances = RECIPES[base].build().instances
    gaps = np.concatenate([np.diff(instance.arrival) for instance in instances])
    assert 1.0 / gaps.mean() == pytest.approx(rate, rel=0.1)
    if base == "tenants-flood":
        tenants = np.concatenate([instance.tenant for instance in instances])
        assert np.mean(tenants == 0) == pytest.approx(6 / 9, abs=0.05)
        assert len(np.unique(np.concatenate([instance.ttft_slo for instance in instances]))) == 4


def test_recipes_are_deterministic_and_test_and_val_sets_differ() -> None:
    first, again = RECIPES["conv-rate3"].build(), RECIPES["conv-rate3"].build()
    for a, b in zip(first.instances, again.instances):
        np.testing.assert_array_equal(a.arrival, b.arrival)
        np.testing.assert_array_equal(a.output_tokens, b.output_tokens)
    val = RECIPES["conv-rate3-val"].build()
    assert not np.array_equal(first.instances[0].arrival, val.instances[0].arrival)
