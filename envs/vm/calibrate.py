"""Fit the VM generator's request tables to a Google cluster-data 2011 trace.

Usage::

    python -m schedgym.envs.vm.calibrate TRACE_DIR --out tables.json [--time T] [--masses K]

``TRACE_DIR`` is in the official layout (``machine_events/``, ``task_events/``; read by
:func:`schedgym.data.google_cluster.load_snapshot`). The tasks running at trace second ``T``
(default: the end of the task events read) give, for CPU and for memory, the ``K`` most frequent
exact request values as point masses and quantile knots of the other requests; the copula
correlation is the normal-scores (van der Waerden) correlation of the two requests, the
standard estimate of a Gaussian copula's parameter. The JSON is written atomically; pass it to
the env as ``gym.make("schedgym/VMReschedule-v2", request_tables="tables.json")``.

The shipped default (``generator.GOOGLE_2011_TABLES``) is instead built from the published
figures, with its copula calibrated on placed instances. The two differ a little: on 200,000
requests drawn from the default tables (copula 0.57; their Pearson is 0.48, that of the VMs
placed from them 0.50), this estimate gives 0.55, as ties at the point masses attenuate it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np

from schedgym.envs.vm.requests import Pairs, RequestTables

#: Probabilities of the remainder's quantile knots (those of the published summaries, plus ends).
KNOT_PROBABILITIES = (0.0, 0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 1.0)
#: Default number of point masses per resource (the published summaries list ten).
DEFAULT_MASSES = 10


def fit_marginal(values: np.ndarray, masses: int = DEFAULT_MASSES) -> tuple[Pairs, Pairs]:
    """Point masses and remainder knots of one resource's requests.

    Args:
        values: Normalised requests, clipped to [0, 1].
        masses: How many of the most frequent values become point masses; only values that
            occur at least twice qualify (a single occurrence is no mass). Ties go to the
            smaller value.

    Returns:
        ``(value, share)`` masses and ``(probability, value)`` knots of the other requests (of
        all requests, with no weight, if the masses cover every request).
    """
    values = np.clip(np.asarray(values, float), 0.0, 1.0)
    unique, counts = np.unique(values, return_counts=True)
    order = np.lexsort((unique, -counts))[:masses]
    chosen = order[counts[order] >= 2]
    pairs = tuple((float(unique[i]), float(counts[i] / len(values))) for i in sorted(chosen))
    rest = values[~np.isin(values, unique[chosen])]
    if len(rest) == 0:
        rest = values
    knots = np.quantile(rest, KNOT_PROBABILITIES)
    return pairs, tuple((float(p), float(v)) for p, v in zip(KNOT_PROBABILITIES, knots))


def normal_scores_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Correlation of the normal scores Φ⁻¹(rank / (n + 1)) of ``x`` and ``y`` (tied values
    share their mean rank); 0 if either is constant."""
    scores = [_normal_scores(np.asarray(v, float)) for v in (x, y)]
    if any(np.ptp(s) == 0 for s in scores):
        return 0.0
    return float(np.corrcoef(*scores)[0, 1])


def _normal_scores(values: np.ndarray) -> np.ndarray:
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based mean rank of each value
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf(r / (len(values) + 1)) for r in mean_rank])[inverse]


def fit_tables(cpu: np.ndarray, mem: np.ndarray, masses: int = DEFAULT_MASSES,
               source: str = "") -> RequestTables:
    """Request tables of paired CPU and memory requests (see the module docstring).

    Raises:
        ValueError: If there are fewer than 2 requests or the arrays differ in length.
    """
    cpu, mem = np.asarray(cpu, float), np.asarray(mem, float)
    if cpu.shape != mem.shape or cpu.ndim != 1 or len(cpu) < 2:
        raise ValueError(f"need two equal-length 1-D arrays of at least 2 requests, got shapes "
                         f"{cpu.shape} and {mem.shape}")
    cpu_masses, cpu_remainder = fit_marginal(cpu, masses)
    mem_masses, mem_remainder = fit_marginal(mem, masses)
    rho = min(max(normal_scores_correlation(cpu, mem), -0.999), 0.999)
    return RequestTables(cpu_masses, cpu_remainder, mem_masses, mem_remainder, rho, source)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schedgym.envs.vm.calibrate",
        description="Fit the VM generator's request tables to a Google 2011 trace directory.")
    parser.add_argument("trace_dir", type=Path, help="directory with machine_events/, task_events/")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--time", type=float, default=None, metavar="T",
                        help="snapshot time in trace seconds (default: end of the task events)")
    parser.add_argument("--masses", type=int, default=DEFAULT_MASSES, metavar="K",
                        help=f"point masses per resource (default {DEFAULT_MASSES})")
    args = parser.parse_args(argv)
    if args.time is not None and not args.time >= 0:
        parser.error(f"--time must be >= 0 trace seconds, got {args.time}")
    if args.masses < 0:
        parser.error(f"--masses must be >= 0, got {args.masses}")
    from schedgym.data.google_cluster import TraceFormatError, load_snapshot

    try:
        snapshot = load_snapshot(args.trace_dir, None if args.time is None
                                 else int(round(args.time * 1e6)))
    except (FileNotFoundError, TraceFormatError, ValueError) as error:
        print(f"calibrate: {error}", file=sys.stderr)
        return 2
    tasks = snapshot.tasks
    if len(tasks) < 2:
        print(f"calibrate: {args.trace_dir}: {len(tasks)} running tasks at "
              f"{snapshot.time_us / 1e6:g} s; need at least 2", file=sys.stderr)
        return 2
    cpu, mem = tasks["cpu_request"].to_numpy(), tasks["memory_request"].to_numpy()
    source = (f"fitted by schedgym.envs.vm.calibrate to {args.trace_dir} at "
              f"{snapshot.time_us / 1e6:g} s: {len(tasks)} running tasks")
    tables = fit_tables(cpu, mem, args.masses, source)
    tables.save(args.out)
    for name, pairs in (("CPU", tables.cpu_masses), ("memory", tables.mem_masses)):
        print(f"{name}: {len(pairs)} point masses covering "
              f"{sum(share for _, share in pairs):.1%} of the requests")
    print(f"{len(tasks)} running tasks; Pearson {np.corrcoef(cpu, mem)[0, 1]:.3f}, copula "
          f"correlation {tables.copula_correlation:.3f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
