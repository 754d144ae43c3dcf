"""Seeded LLM serving workloads: request lengths and arrivals calibrated on the Azure LLM
inference traces 2023, tenants, JITServe-style SLO classes, the context limit, and the recipes of
the fixed instance sets (written and checked by :mod:`schedgym.data.instance_sets`). Real traces
become instances with :func:`instance_from_trace` (read them with :mod:`schedgym.data.azure_llm`).

Sources (``shared/reference/llm_serving.md`` cites them):

* Lengths, rates and inter-arrival CVs: the Traces table (Azure LLM inference 2023, Patel et al.,
  "Splitwise", ISCA 2024, CC-BY 4.0). Quantiles the table does not give are our measurement of
  the same public traces in Vidur's copies (microsoft/vidur, commit 7d47513,
  ``data/processed_traces/splitwise_conv.csv`` and ``splitwise_code.csv``).
* Arrivals: Poisson, or a gamma renewal process with a given coefficient of variation, as Vidur,
  DistServe and Llumnix generate synthetic load.
* SLOs: JITServe (NSDI'26): TTFT 0.8 s and TBT 0.08 s, times k = 1..4 by request class.
* Context clipping: Vidur's ``TraceRequestLengthGenerator``
  (``vidur/request_generator/trace_request_length_generator.py``).
* Tenants and weights: VTC (Sheng et al., OSDI'24; ``shared/reference/fair_queuing.md``): clients
  with weights, default 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from schedgym.data.azure_llm import Trace
from schedgym.data.instance_sets import Recipe
from schedgym.envs.llm.types import LLMInstance

#: Context length of Llama-2-7B, the model of the env's default preset (llama2-7b-a100).
DEFAULT_MAX_MODEL_LEN = 4096

# --------------------------------------------------------------------------- request lengths

# Quantile functions of the token lengths as knots (probability, tokens); between knots log(tokens)
# is linear in the probability (monotone piecewise log-linear). Per knot: "pub" = the published
# Traces table (mean is published too and is the check of the interpolation), "ours" = our
# measurement on Vidur's copy of the same trace (the lower tail, P75, P95, P97, P99.5, P99.9, and
# the code prompt's P99, which the table leaves blank). The knots' means, exact for this
# interpolation: conversation prompt 1,153 (published 1,155), output 209.5 (211); code prompt
# 2,056 (2,048), output 29.1 (28): the log-linear pieces overshoot the code output's convex tail a
# little.
_QUANTILE_PROBABILITIES = (0.0, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.97, 0.99, 0.995, 0.999, 1.0)
#            min   P10   P25   P50   P75   P90   P95   P97   P99   P99.5 P99.9 max
#            ours  ours  ours  pub   ours  pub   ours  ours  pub   ours  ours  pub
_CONV_PROMPT = (2, 207, 396, 1020, 1189, 2734, 4083, 4090, 4142, 4831, 6212, 14050)
_CONV_OUTPUT = (7, 54, 85, 129, 395, 424, 451, 509, 601, 644, 954, 1000)
#            (the code prompt's P99 is ours; 3.7% of its prompts are 7,435-7,437 tokens long)
_CODE_PROMPT = (3, 147, 578, 1469, 2745, 5186, 7315, 7435, 7436, 7436, 7437, 7437)
_CODE_OUTPUT = (6, 7, 9, 13, 24, 55, 90, 128, 249, 361, 831, 1899)


@dataclass(frozen=True)
class Workload:
    """A request population: length distributions and its trace's arrival statistics.

    Attributes:
        name: Key in :data:`WORKLOADS`.
        prompt_quantiles: Prompt tokens at :data:`_QUANTILE_PROBABILITIES`.
        output_quantiles: Output tokens at the same probabilities.
        rate: Published mean arrival rate, requests/s.
        cv: Inter-arrival coefficient of variation of the default arrival process.
    """

    name: str
    prompt_quantiles: tuple[int, ...]
    output_quantiles: tuple[int, ...]
    rate: float
    cv: float

    @property
    def max_output(self) -> int:
        return self.output_quantiles[-1]


WORKLOADS: dict[str, Workload] = {
    # Published CV 1.09: within sampling noise of Poisson, and the papers drive it as Poisson.
    "conversation": Workload("conversation", _CONV_PROMPT, _CONV_OUTPUT, rate=5.53, cv=1.0),
    # Published CV 13.2. A gamma renewal with that CV matches the CV and the rate but bunches
    # harder than the trace at short scales: 1-s peaks of about 350 requests against the trace's
    # 67 (our measurement on 200k gaps), and 400 requests span anywhere from about 30 s to 300 s
    # in our draws: a few bursts separated by long gaps.
    "code": Workload("code", _CODE_PROMPT, _CODE_OUTPUT, rate=2.57, cv=13.2),
}


def _workload(name: str) -> Workload:
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]


def _sample_quantile_function(rng: np.random.Generator, knots: Sequence[int], count: int) -> np.ndarray:
    """Inverse-transform sampling of the piecewise log-linear quantile function, rounded to tokens."""
    log_tokens = np.interp(rng.random(count), _QUANTILE_PROBABILITIES, np.log(np.asarray(knots, np.float64)))
    return np.maximum(np.rint(np.exp(log_tokens)), 1).astype(np.int64)


def sample_lengths(rng: np.random.Generator, workload: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output lengths of ``count`` requests, before any context clipping.

    Prompt and output are drawn independently (Spearman correlation 0.07 on the conversation
    trace, our measurement), prompts first.

    Returns:
        prompt_tokens and output_tokens, int64 ≥ 1, each of shape (count,).
    """
    spec = _workload(workload)
    prompt = _sample_quantile_function(rng, spec.prompt_quantiles, count)
    return prompt, _sample_quantile_function(rng, spec.output_quantiles, count)


# --------------------------------------------------------------------------- arrivals


def sample_arrivals(rng: np.random.Generator, count: int, rate: float, cv: float = 1.0) -> np.ndarray:
    """Arrival times (s) of a renewal process with gamma gaps: mean gap 1/rate, CV ``cv``.

    Shape 1/cv² and scale cv²/rate give the mean and CV; cv = 1 is the Poisson process. The first
    request arrives at 0, so ``count - 1`` gaps are drawn. With large CVs (shape ≪ 1) many gaps
    underflow to exactly 0: simultaneous arrivals, which the instance allows.
    """
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be finite and > 0 requests/s, got {rate!r}")
    if not (np.isfinite(cv) and cv > 0):
        raise ValueError(f"cv must be finite and > 0, got {cv!r}")
    gaps = rng.gamma(1.0 / cv**2, cv**2 / rate, size=max(count - 1, 0))
    return np.concatenate([[0.0], np.cumsum(gaps)])[:count]


# --------------------------------------------------------------------------- tenants and SLOs

#: Zipf exponent of the default tenant mix (our choice): tenant i sends a share ∝ 1/(i+1).
TENANT_ZIPF_EXPONENT = 1.0


def tenant_shares(tenants: int, flood: float | None = None, skew: float = TENANT_ZIPF_EXPONENT) -> np.ndarray:
    """Each tenant's share of the requests.

    Args:
        tenants: Number of tenants T ≥ 1.
        flood: If given, tenant 0 floods: it sends ``flood`` times the rate of each other tenant,
            which share the rest equally (throughout the workload). Replaces the Zipf mix.
        skew: Zipf exponent of the mix without a flood; 0 gives equal shares.

    Returns:
        (T,) float64 probabilities summing to 1.
    """
    if tenants < 1:
        raise ValueError(f"tenants must be ≥ 1, got {tenants!r}")
    if flood is not None:
        if not (np.isfinite(flood) and flood >= 1) or tenants < 2:
            raise ValueError(f"flood needs tenants ≥ 2 and a rate multiple ≥ 1, "
                             f"got flood={flood!r}, tenants={tenants}")
        rates = np.ones(tenants)
        rates[0] = flood
    else:
        if not (np.isfinite(skew) and skew >= 0):
            raise ValueError(f"skew must be a finite Zipf exponent ≥ 0, got {skew!r}")
        rates = 1.0 / np.arange(1, tenants + 1, dtype=np.float64) ** skew
    return rates / rates.sum()


# JITServe's base SLOs (llm_serving.md, "Service / token goodput"); class k multiplies both by k.
TTFT_SLO_BASE = 0.8  # s
TPOT_SLO_BASE = 0.08  # s per output token (TBT)
SLO_CLASSES = (1, 2, 3, 4)
#: A mix of all four classes with equal probability (our choice; JITServe gives no mix).
MIXED_SLO_CLASSES = (0.25, 0.25, 0.25, 0.25)


def sample_slo_classes(rng: np.random.Generator, count: int, slo_classes: int | Sequence[float]) -> np.ndarray:
    """Each request's SLO class k.

    Args:
        slo_classes: One class k in 1..4 for every request (no draw), or the probabilities of
            k = 1..4 (one draw per request).

    Returns:
        (count,) int64 classes.
    """
    if isinstance(slo_classes, (int, np.integer)):
        if slo_classes not in SLO_CLASSES:
            raise ValueError(f"slo_classes must be a class in {SLO_CLASSES} or their probabilities, "
                             f"got {slo_classes!r}")
        return np.full(count, int(slo_classes), np.int64)
    probabilities = np.asarray(slo_classes, np.float64)
    valid = probabilities.shape == (len(SLO_CLASSES),) and np.all(probabilities >= 0)
    if not (valid and np.isclose(probabilities.sum(), 1)):
        raise ValueError(f"slo_classes probabilities must be {len(SLO_CLASSES)} numbers ≥ 0 summing to 1, "
                         f"got {slo_classes!r}")
    return np.asarray(SLO_CLASSES, np.int64)[rng.choice(len(SLO_CLASSES), size=count, p=probabilities)]


# --------------------------------------------------------------------------- context limit


def fit_context(prompt: np.ndarray, output: np.ndarray, max_model_len: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Shortens requests with prompt + output > ``max_model_len`` as Vidur's trace length
    generator does: the excess is taken from prompt and output in proportion to their lengths
    (each share rounded up), then both are raised to at least 1 token.

    Returns:
        The new prompt and output lengths (int64) and how many requests were shortened.
    """
    if max_model_len < 2:
        raise ValueError(f"max_model_len must be ≥ 2 (one prompt and one output token), got {max_model_len!r}")
    prompt, output = np.asarray(prompt, np.int64), np.asarray(output, np.int64)
    total = prompt + output
    excess = np.maximum(total - max_model_len, 0)
    new_prompt = np.maximum(prompt - np.ceil(excess * prompt / total).astype(np.int64), 1)
    new_output = np.maximum(output - np.ceil(excess * output / total).astype(np.int64), 1)
    return new_prompt, new_output, int(np.count_nonzero(excess))


def _requests(rng: np.random.Generator | None, prompt: np.ndarray, output: np.ndarray, arrival: np.ndarray, *,
              tenants: int, flood: float | None, tenant_skew: float, tenant_weights: Sequence[float] | None,
              slo_classes: int | Sequence[float], max_model_len: int, max_new_tokens: int,
              name: str) -> tuple[LLMInstance, int]:
    """Completes lengths and arrivals into an instance: the max_new_tokens cap, the context limit,
    then (drawing in this order) tenants if T > 1 and SLO classes if mixed.

    A server stops generating at max_new_tokens, so longer outputs are cut to it first. Each
    request then declares ``min(max_new_tokens, max_model_len - prompt)`` new tokens, as a server
    never lets a request outgrow its context; that is ≥ its (clipped) output.

    Returns:
        The validated instance and how many requests the context limit shortened.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be ≥ 1, got {max_new_tokens!r}")
    prompt, output, clipped = fit_context(prompt, np.minimum(output, max_new_tokens), max_model_len)
    count = len(arrival)
    shares = tenant_shares(tenants, flood, tenant_skew)
    tenant = rng.choice(tenants, size=count, p=shares) if tenants > 1 else np.zeros(count, np.int64)
    weights = np.ones(tenants) if tenant_weights is None else np.asarray(tenant_weights, np.float64)
    if weights.shape != (tenants,):
        raise ValueError(f"tenant_weights needs one weight per tenant ({tenants}), got {tenant_weights!r}")
    slo_class = sample_slo_classes(rng, count, slo_classes)
    instance = LLMInstance(
        arrival=np.asarray(arrival, np.float64),
        prompt_tokens=prompt,
        output_tokens=output,
        max_new_tokens=np.minimum(max_new_tokens, max_model_len - prompt).astype(np.int64),
        tenant=np.asarray(tenant, np.int64),
        ttft_slo=TTFT_SLO_BASE * slo_class,
        tpot_slo=TPOT_SLO_BASE * slo_class,
        tenant_weight=weights,
        name=name,
    )
    instance.validate()
    return instance, clipped


def sample_instance(
    rng: np.random.Generator,
    workload: str = "conversation",
    num_requests: int = 400,
    rate: float | None = None,
    cv: float | None = None,
    *,
    tenants: int = 1,
    flood: float | None = None,
    tenant_skew: float = TENANT_ZIPF_EXPONENT,
    tenant_weights: Sequence[float] | None = None,
    slo_classes: int | Sequence[float] = 1,
    max_model_len: int = DEFAULT_MAX_MODEL_LEN,
    max_new_tokens: int | None = None,
    name: str = "",
) -> LLMInstance:
    """A synthetic workload of ``num_requests`` requests.

    Draws from ``rng`` in this order: prompt lengths, output lengths, inter-arrival gaps, tenants
    (only if ``tenants > 1``), SLO classes (only if mixed). Requests over the context limit are
    clipped (:func:`fit_context`) without a warning: at 4,096 tokens that is about 6% of the
    conversation requests and 16% of the code ones (8% and 14% of the traces' requests, our
    measurement), a property of the workload.

    Args:
        rng: The only source of randomness.
        workload: A key of :data:`WORKLOADS`.
        num_requests: Requests R ≥ 1.
        rate: Mean arrival rate, requests/s; None is the workload's trace rate.
        cv: Inter-arrival coefficient of variation (1 = Poisson); None is the workload's.
        tenants: Number of tenants T.
        flood: Tenant 0's rate as a multiple of each other tenant's (see :func:`tenant_shares`).
        tenant_skew: Zipf exponent of the tenant mix without a flood.
        tenant_weights: Fair-queuing weights, one per tenant; None gives all 1.
        slo_classes: A class k in 1..4 for all requests, or the probabilities of k = 1..4.
        max_model_len: Context limit of the model: prompt + output ≤ it.
        max_new_tokens: Cap on generated tokens (longer outputs are cut to it, as a server stops
            there); None is the workload's longest output.
        name: Instance name.

    Returns:
        The validated instance.
    """
    if num_requests < 1:
        raise ValueError(f"num_requests must be ≥ 1, got {num_requests!r}")
    spec = _workload(workload)
    prompt, output = sample_lengths(rng, workload, num_requests)
    arrival = sample_arrivals(rng, num_requests, spec.rate if rate is None else rate, spec.cv if cv is None else cv)
    instance, _ = _requests(
        rng, prompt, output, arrival, tenants=tenants, flood=flood, tenant_skew=tenant_skew,
        tenant_weights=tenant_weights, slo_classes=slo_classes, max_model_len=max_model_len,
        max_new_tokens=spec.max_output if max_new_tokens is None else max_new_tokens, name=name)
    return instance


def instance_from_trace(
    trace: Trace,
    rng: np.random.Generator | None = None,
    *,
    tenants: int = 1,
    flood: float | None = None,
    tenant_skew: float = TENANT_ZIPF_EXPONENT,
    tenant_weights: Sequence[float] | None = None,
    slo_classes: int | Sequence[float] = 1,
    max_model_len: int = DEFAULT_MAX_MODEL_LEN,
    max_new_tokens: int | None = None,
    name: str = "",
) -> LLMInstance:
    """The requests of a trace as an instance; its clock starts at the first request.

    The trace has no tenants or SLOs, so they are drawn as in :func:`sample_instance` (tenants,
    then SLO classes), which needs ``rng``. Requests over the context limit are clipped
    (:func:`fit_context`) with a warning that says how many.

    Args:
        trace: From :func:`schedgym.data.azure_llm.load_trace`.
        rng: Source of the tenant and SLO-class draws; needed only if ``tenants > 1`` or the SLO
            classes are mixed.
        max_new_tokens: Cap on generated tokens (longer outputs are cut to it); None is the
            trace's longest output.
        Other arguments: as in :func:`sample_instance`.

    Returns:
        The validated instance.
    """
    if rng is None and (tenants > 1 or not isinstance(slo_classes, (int, np.integer))):
        raise ValueError("instance_from_trace draws tenants or mixed SLO classes: pass rng")
    instance, clipped = _requests(
        rng, trace.prompt_tokens, trace.output_tokens, trace.arrival - trace.arrival[0], tenants=tenants,
        flood=flood, tenant_skew=tenant_skew, tenant_weights=tenant_weights, slo_classes=slo_classes,
        max_model_len=max_model_len,
        max_new_tokens=int(trace.output_tokens.max()) if max_new_tokens is None else max_new_tokens, name=name)
    if clipped:
        warnings.warn(f"{trace.source}: {clipped} of {trace.num_requests} requests have prompt + output > "
                      f"max_model_len={max_model_len} and were shortened as Vidur does", stacklevel=2)
    return instance


# --------------------------------------------------------------------------- fixed instance sets

TEST_INSTANCES = 8
VAL_INSTANCES = 4
SET_REQUESTS = 400

# Arguments of sample_instance per set. vLLM saturates at about 3.5-4 req/s on this hardware with
# the conversation workload (llm_serving.md, prototype figures), so the conv-rate sets run from
# light load to saturation. One SLO class (k = 1) outside tenants-flood: attainment against one
# SLO pair, as DistServe measures goodput. tenants-flood: tenant 0 sends 6× each other tenant's
# rate at 4.5 req/s in all (3.0 against 0.5 each), so the load is past saturation while the three
# light tenants' 1.5 req/s is well within it: a fair scheduler can keep them fast, FCFS lets the
# flood's backlog delay everyone (VTC's motivating case). It mixes the four SLO classes so that
# deadline-aware order matters too.
_SET_ARGUMENTS: dict[str, dict] = {
    "conv-rate2": {"workload": "conversation", "rate": 2.0, "cv": 1.0},
    "conv-rate3": {"workload": "conversation", "rate": 3.0, "cv": 1.0},
    "conv-rate3.5": {"workload": "conversation", "rate": 3.5, "cv": 1.0},
    "conv-rate4": {"workload": "conversation", "rate": 4.0, "cv": 1.0},
    "code-bursty": {"workload": "code"},  # the trace's 2.57 req/s and CV 13.2
    "tenants-flood": {"workload": "conversation", "rate": 4.5, "cv": 1.0, "tenants": 4, "flood": 6.0,
                      "slo_classes": MIXED_SLO_CLASSES},
}


def _draw_set(recipe: Recipe, arguments: dict, count: int,
              requests: int = SET_REQUESTS) -> list[LLMInstance]:
    """Every instance of a set comes from one generator, ``recipe.rng()``, in order."""
    rng = recipe.rng()
    return [sample_instance(rng, num_requests=requests, name=f"{recipe.name}/{index}", **arguments)
            for index in range(count)]


def _recipes(base: str, seed: int, env_key: str = "llm", sets: dict[str, dict] = _SET_ARGUMENTS,
             env_kwargs: dict | None = None, requests: int = SET_REQUESTS) -> tuple[Recipe, Recipe]:
    # seed_key is the set's position in its table (so add new sets at the end). A set and its
    # -val twin share it; their namespaces differ, so their streams do too.
    arguments, env_kwargs = sets[base], env_kwargs or {}
    draw = partial(_draw_set, arguments=arguments, requests=requests)
    return (Recipe(env_key, base, "test", env_kwargs, (seed,),
                   partial(draw, count=TEST_INSTANCES)),
            Recipe(env_key, f"{base}-val", "val", env_kwargs, (seed,),
                   partial(draw, count=VAL_INSTANCES)))


INSTANCE_SETS: tuple[Recipe, ...] = tuple(
    recipe for seed, base in enumerate(_SET_ARGUMENTS) for recipe in _recipes(base, seed))

# Sets of schedgym/LLMCluster-v0: 4 replicas, K times the requests of the sets above. conv-rate16
# and conv-rate18: 4 and 4.5 req/s per replica, where one vLLM replica's attainment starts to fall
# (at 3.5 req/s every router meets about every SLO, our measurement), so a replica that a router
# overloads misses SLOs. code-bursty: the code trace's rate per replica and its CV 13.2, bursts
# that a router must spread.
CLUSTER_REPLICAS = 4
_CLUSTER_SET_ARGUMENTS: dict[str, dict] = {
    "conv-rate16": {"workload": "conversation", "rate": 4.0 * CLUSTER_REPLICAS, "cv": 1.0},
    "conv-rate18": {"workload": "conversation", "rate": 4.5 * CLUSTER_REPLICAS, "cv": 1.0},
    "code-bursty": {"workload": "code", "rate": WORKLOADS["code"].rate * CLUSTER_REPLICAS},
}
CLUSTER_INSTANCE_SETS: tuple[Recipe, ...] = tuple(
    recipe for seed, base in enumerate(_CLUSTER_SET_ARGUMENTS)
    for recipe in _recipes(base, seed, "llm_cluster", _CLUSTER_SET_ARGUMENTS,
                           {"replicas": CLUSTER_REPLICAS}, SET_REQUESTS * CLUSTER_REPLICAS))
