"""Capacity searches: the highest request rate a scheduler sustains under a service criterion,
by bisection over a rate scale of a fixed workload, on the headless path.

Criteria (``../shared/reference/llm_serving.md``, "Metrics and SLOs"):

- ``goodput`` (DistServe): ≥ 90% of requests meet both their TTFT and TPOT SLOs;
- ``tbt`` (Sarathi-Serve): P99 TBT ≤ ``tbt_slo`` (0.1 s strict by default) with the median
  scheduling delay ≤ 2 s;
- ``saturation``: the median scheduling delay ≤ 2 s (the queue does not grow without bound).

Run it::

    python -m schedgym.envs.llm.capacity --schedulers fcfs,sarathi --trace ../shared/data/azure_llm_2023/conv.csv
    python -m schedgym.envs.llm.capacity --workload conversation --plot capacity.png
    python -m schedgym.envs.llm.capacity --schedulers fcfs,pretrained:llm --workload code
    python -m schedgym.envs.llm.capacity --backend ray --address auto   # on a Ray cluster

Schedulers are the env's baselines (on the headless path) and learned policies (``.onnx``,
``.zip``, ``pretrained:NAME``, stepped through ``schedgym/LLMServe-v0``).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from tqdm import tqdm

from schedgym.envs.llm.fastsim import headless_driver, run_headless
from schedgym.envs.llm.types import LLMInstance

CRITERIA = ("goodput", "tbt", "saturation")
MAX_SCHEDULING_DELAY = 2.0  # s, Sarathi-Serve's bound on the median scheduling delay
STEPS_PER_REQUEST_GUARD = 20  # env steps per request after which a policy's run is cut off


def at_rate(instance: LLMInstance, base_rate: float, rate: float) -> LLMInstance:
    """``instance`` with its arrivals compressed from ``base_rate`` to ``rate`` req/s."""
    return replace(instance, arrival=instance.arrival * (base_rate / rate))


def meets(metrics: dict[str, Any], criterion: str, tbt_slo: float = 0.1) -> bool:
    """Whether one run's metrics satisfy ``criterion``."""
    delay_ok = metrics["scheduling_delay_p50"] <= MAX_SCHEDULING_DELAY
    if criterion == "goodput":
        return metrics["slo_attainment"] >= 0.9
    if criterion == "tbt":
        return delay_ok and metrics["tbt_p99"] <= tbt_slo
    if criterion == "saturation":
        return delay_ok
    raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


#: The metrics a capacity search reads (and plots) of each run.
RUN_METRICS = ("slo_attainment", "tbt_p99", "scheduling_delay_p50", "ttft_p99", "token_goodput",
               "throughput_rps")
#: ``mapper(function, argument tuples)`` -> ``[function(*arguments) ...]`` in order: how the runs
#: of one rate are executed (in this process, or e.g. as Ray tasks).
Mapper = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]]
#: Every (rate, metrics) a search evaluated.
History = list[tuple[float, dict[str, float]]]


def run_metrics(instance: LLMInstance, scheduler: Any, seed: int, **env_kwargs: Any) -> dict[str, Any]:
    """The final metrics of ``scheduler`` on ``instance``: on the headless path for the
    baselines it serves, else (learned policies, which read observations) through the env."""
    if headless_driver(scheduler) is not None:
        sim, _ = run_headless(instance, scheduler, seed=seed, **env_kwargs)
        return sim.metrics()
    import gymnasium as gym

    # A guard far above what any heuristic needs (about 3.5 steps per request): a policy that
    # stops serving some requests is cut off here instead of at the env's limit of hours.
    guard = {"max_steps": STEPS_PER_REQUEST_GUARD * instance.num_requests + 1000, **env_kwargs}
    env = gym.make("schedgym/LLMServe-v0", **guard)
    env.reset(seed=seed, options={"instance": instance})
    scheduler.reset(env, seed=seed)
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(int(scheduler.act(env)))
        done = terminated or truncated
    env.close()
    return info  # a cut-off run's unserved requests count as SLO misses (episode_metrics)


def run_at_rate(workload: LLMInstance, base_rate: float, rate: float,
                make_scheduler: Callable[[], Any], seed: int,
                env_kwargs: dict[str, Any]) -> dict[str, float]:
    """The :data:`RUN_METRICS` of one run (:func:`run_metrics`) of ``workload`` at ``rate``."""
    metrics = run_metrics(at_rate(workload, base_rate, rate), make_scheduler(), seed, **env_kwargs)
    return {key: float(metrics[key]) for key in RUN_METRICS}


def map_local(function: Callable[..., Any], arguments: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The default :data:`Mapper`: every call in this process, one after the other."""
    return [function(*args) for args in arguments]


def evaluate_rate(workloads: Sequence[LLMInstance], base_rate: float, rate: float,
                  make_scheduler: Callable[[], Any], mapper: Mapper = map_local,
                  **env_kwargs: Any) -> dict[str, float]:
    """Mean metrics of a scheduler over ``workloads`` replayed at ``rate`` (workload ``i`` with
    seed ``i``), the runs executed by ``mapper``."""
    runs = mapper(run_at_rate, [(workload, base_rate, rate, make_scheduler, index, env_kwargs)
                                for index, workload in enumerate(workloads)])
    return {key: float(np.mean([run[key] for run in runs])) for key in RUN_METRICS}


def search(workloads: Sequence[LLMInstance], base_rate: float, make_scheduler: Callable[[], Any],
           criterion: str, low: float, high: float, tolerance: float = 0.05, tbt_slo: float = 0.1,
           mapper: Mapper = map_local, **env_kwargs: Any) -> tuple[float, History]:
    """The highest rate in ``[low, high]`` meeting ``criterion`` (to ``tolerance`` req/s); the
    runs of each rate are executed by ``mapper`` (:func:`evaluate_rate`).

    Returns:
        The rate (``low`` if even it fails; the caller should widen the range) and every
        (rate, metrics) evaluated, for the attainment-vs-rate plot.
    """
    history = []

    def ok(rate: float) -> bool:
        metrics = evaluate_rate(workloads, base_rate, rate, make_scheduler, mapper, **env_kwargs)
        history.append((rate, metrics))
        return meets(metrics, criterion, tbt_slo)

    if ok(high):
        return high, history
    if not ok(low):
        return low, history
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (middle, high) if ok(middle) else (low, middle)
    return low, history


def search_all(workloads: Sequence[LLMInstance], base_rate: float,
               schedulers: dict[str, Callable[[], Any]], criteria: Sequence[str], low: float,
               high: float, tolerance: float = 0.05, tbt_slo: float = 0.1,
               mapper: Mapper = map_local, concurrent: bool = False,
               progress: bool = True) -> list[list[tuple[float, History]]]:
    """:func:`search` for every scheduler (label -> factory, e.g. of
    :func:`~schedgym.policies.evaluation.build_schedulers`) and every criterion: per scheduler,
    per criterion, the rate and history.

    With ``concurrent`` the searches run in threads of this process, so that a ``mapper`` that
    executes elsewhere (Ray) has the runs of all of them in flight at once; each search is the
    same bisection either way, so are the results.
    """
    from concurrent.futures import ThreadPoolExecutor

    pairs = [(make, criterion) for make in schedulers.values() for criterion in criteria]

    def one(pair: tuple[Callable[[], Any], str]) -> tuple[float, History]:
        return search(workloads, base_rate, pair[0], pair[1], low, high, tolerance, tbt_slo, mapper)

    with ThreadPoolExecutor(max_workers=len(pairs) if concurrent else 1) as pool:
        searches = pool.map(one, pairs)
        found = list(tqdm(searches, total=len(pairs), desc="searches", disable=not progress))
    return [found[i:i + len(criteria)] for i in range(0, len(found), len(criteria))]


def main(argv: list[str] | None = None) -> int:
    from schedgym.policies.evaluation import build_schedulers

    parser = argparse.ArgumentParser(description="Capacity of LLM schedulers by bisection over the request rate.")
    parser.add_argument("--schedulers", default="fcfs,sarathi,sarathi_2048,orca,past_future,edf,vtc")
    parser.add_argument("--criteria", default="goodput,tbt,saturation")
    parser.add_argument("--trace", help="an Azure LLM trace file (else the generator's workload)")
    parser.add_argument("--trace-duration", type=float, default=600.0, help="seconds of the trace to replay")
    parser.add_argument("--workload", default="conversation", help="generator workload without --trace")
    parser.add_argument("--requests", type=int, default=2000, help="requests per generated workload")
    parser.add_argument("--seeds", type=int, default=1, help="generated workloads (without --trace)")
    parser.add_argument("--low", type=float, default=0.5)
    parser.add_argument("--high", type=float, default=8.0)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--tbt-slo", type=float, default=0.1)
    parser.add_argument("--plot", help="write attainment vs rate per scheduler to this PNG")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="run the searches' episodes here or as Ray tasks, all searches "
                             "at once (the same rates; needs schedgym[ray])")
    parser.add_argument("--address", help="with --backend ray: auto, HOST:PORT or ray://HOST:PORT "
                                           "(default: start a local Ray)")
    args = parser.parse_args(argv)
    criteria = args.criteria.split(",")
    for criterion in criteria:
        if criterion not in CRITERIA:
            parser.error(f"--criteria: {criterion!r} is not one of {', '.join(CRITERIA)}")
    if args.trace:
        from schedgym.data.azure_llm import load_trace
        from schedgym.envs.llm.generator import instance_from_trace

        trace = load_trace(args.trace, duration=args.trace_duration)
        workloads = [instance_from_trace(trace, max_model_len=4096)]
        base_rate, source = trace.num_requests / float(trace.arrival[-1]), f"{args.trace} (first {args.trace_duration:g} s)"
    else:
        from schedgym.envs.llm.generator import sample_instance

        workloads = [sample_instance(np.random.default_rng([0x11A, seed]), workload=args.workload,
                                     num_requests=args.requests, rate=1.0) for seed in range(args.seeds)]
        base_rate, source = 1.0, f"{args.seeds} × {args.requests} {args.workload} requests"
    try:
        factories, _ = build_schedulers("schedgym/LLMServe-v0", args.schedulers.split(","))
    except ValueError as error:
        parser.error(f"--schedulers: {error}")
    mapper: Mapper = map_local
    if args.backend == "ray":
        from schedgym.policies.distributed import NamedScheduler, connect, map_ordered

        try:
            connect(args.address)
        except ValueError as error:
            parser.error(str(error))
        mapper = functools.partial(map_ordered, address=args.address)
        # Loaded policies do not pickle: each Ray worker builds its scheduler by name.
        factories = {label: NamedScheduler("schedgym/LLMServe-v0", label) for label in factories}
    elif args.address:
        parser.error("--address needs --backend ray")
    found = search_all(workloads, base_rate, factories, criteria, args.low, args.high,
                       args.tolerance, args.tbt_slo, mapper, concurrent=args.backend == "ray")
    rows, curves = [], {}
    for name, results in zip(factories, found):
        row = [name]
        for rate, history in results:
            row.append(f"{rate:.2f}" + (" (≥ high)" if rate == args.high else " (≤ low)" if rate == args.low else ""))
            curves.setdefault(name, []).extend(history)
        rows.append(row)
    print(f"Capacity (req/s) on {source}, Llama-2-7B / A100-80GB\n")
    print("| scheduler | " + " | ".join(criteria) + " |")
    print("|---" * (len(criteria) + 1) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.plot:
        _plot(curves, args.plot, source)
        print(f"\nwrote {args.plot}")
    return 0


def _plot(curves: dict[str, list[tuple[float, dict[str, float]]]], path: str, source: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from schedgym.data.files import atomic_path

    figure, axis = plt.subplots(figsize=(6.5, 4))
    for name, history in curves.items():
        points = sorted({rate: metrics["slo_attainment"] for rate, metrics in history}.items())
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=name)
    axis.axhline(0.9, color="grey", linestyle="--", linewidth=0.8)
    axis.set_xlabel("request rate (req/s)")
    axis.set_ylabel("SLO attainment (TTFT and TPOT)")
    axis.set_title(source, fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    raise SystemExit(main())
