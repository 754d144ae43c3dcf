"""The request model of the VM generator: per resource, point masses plus a continuous remainder,
joined by a Gaussian copula; kept as data (:class:`RequestTables`, JSON) so that users can fit it
to a trace (:mod:`schedgym.envs.vm.calibrate`) and pass it as ``request_tables=PATH``.

Requests are in the trace's normalised units (the largest machine is 1.0); the generator maps
them to cores and GiB. A marginal is ``Σ share_k δ(value_k) + (1 - Σ share_k) · R``, where the
remainder ``R`` has a piecewise-linear CDF through its quantile knots ``(probability, value)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schedgym.data.files import write_json_atomic

#: Version of the JSON layout written by :meth:`RequestTables.save`.
TABLES_FORMAT = 1
#: Relative distance within which a published quantile is read as a rounded point mass (the
#: quantiles are given to three significant digits, so rounding moves them by at most 0.5%).
SNAP_TOLERANCE = 0.005

Pairs = tuple[tuple[float, float], ...]


class RequestTablesError(ValueError):
    """A request-tables file or value that is malformed; the message names the file and field."""


@dataclass(frozen=True)
class RequestTables:
    """CPU and memory request marginals and the correlation of the copula that joins them.

    Attributes:
        cpu_masses: ``(value, share)`` point masses of the CPU request, values distinct.
        cpu_remainder: ``(probability, value)`` quantile knots of the rest of the CPU requests;
            probabilities rise from 0 to 1 (equal ones
            leave a gap), values never fall.
        mem_masses: As ``cpu_masses``, for the memory request.
        mem_remainder: As ``cpu_remainder``, for the memory request.
        copula_correlation: Correlation of the Gaussian copula, in (-1, 1).
        source: Where the tables come from (free text, kept in the JSON).
    """

    cpu_masses: Pairs
    cpu_remainder: Pairs
    mem_masses: Pairs
    mem_remainder: Pairs
    copula_correlation: float
    source: str = ""

    def __post_init__(self) -> None:
        check_tables(self, "RequestTables")

    # ------------------------------------------------------------------------------ sampling

    def quantile_points(self, resource: str) -> tuple[np.ndarray, np.ndarray]:
        """The mixture's quantile function of ``resource`` (``"cpu"`` or ``"mem"``) as points
        ``(cdf, value)`` for ``np.interp``: linear between points, a vertical step per mass."""
        masses, remainder = ((self.cpu_masses, self.cpu_remainder) if resource == "cpu"
                             else (self.mem_masses, self.mem_remainder))
        return _quantile_points(masses, remainder)

    def sample(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` (CPU, memory) requests, normalised, each of shape (count,)."""
        rho = self.copula_correlation
        normals = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], count)
        uniforms = standard_normal_cdf(normals)
        cpu = np.interp(uniforms[:, 0], *self.quantile_points("cpu"))
        mem = np.interp(uniforms[:, 1], *self.quantile_points("mem"))
        return cpu, mem

    # ------------------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """The tables as a JSON-ready mapping (pairs become lists)."""
        value = asdict(self)
        value["format"] = TABLES_FORMAT
        for name in _PAIR_FIELDS:
            value[name] = [list(pair) for pair in value[name]]
        return value

    def save(self, path: str | Path) -> None:
        """Writes the tables to ``path`` as JSON, atomically."""
        write_json_atomic(path, self.to_json())

    @classmethod
    def from_json(cls, value: Any, where: str = "request tables") -> "RequestTables":
        """Tables from :meth:`to_json`'s mapping; errors name ``where``, the field and value."""
        if not isinstance(value, dict):
            raise RequestTablesError(f"{where}: expected a JSON object, got {type(value).__name__}")
        if value.get("format") != TABLES_FORMAT:
            raise RequestTablesError(f"{where}: field 'format' must be {TABLES_FORMAT}, got "
                                     f"{value.get('format')!r}")
        fields = (*_PAIR_FIELDS, "copula_correlation", "source")
        unknown = sorted(set(value) - {*fields, "format"})
        if unknown:
            raise RequestTablesError(f"{where}: unknown field {unknown[0]!r}; fields are "
                                     f"{', '.join(fields)}")
        missing = [name for name in fields[:-1] if name not in value]
        if missing:
            raise RequestTablesError(f"{where}: missing field {missing[0]!r}")
        pairs = {name: _pairs(where, name, value[name]) for name in _PAIR_FIELDS}
        rho = value["copula_correlation"]
        if isinstance(rho, bool) or not isinstance(rho, (int, float)):
            raise RequestTablesError(f"{where}: field 'copula_correlation' must be a number, got "
                                     f"{rho!r}")
        source = value.get("source", "")
        if not isinstance(source, str):
            raise RequestTablesError(f"{where}: field 'source' must be a string, got {source!r}")
        try:
            return cls(**pairs, copula_correlation=float(rho), source=source)
        except RequestTablesError as error:
            raise RequestTablesError(str(error).replace("RequestTables", where, 1)) from None

    @classmethod
    def load(cls, path: str | Path) -> "RequestTables":
        """Reads tables written by :meth:`save`; errors name the file, field and value."""
        path = Path(path)
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise RequestTablesError(f"{path}: cannot read request tables: {error}") from None
        except json.JSONDecodeError as error:
            raise RequestTablesError(f"{path}: not JSON: {error}") from None
        return cls.from_json(value, str(path))


_PAIR_FIELDS = ("cpu_masses", "cpu_remainder", "mem_masses", "mem_remainder")


def _pairs(where: str, name: str, value: Any) -> Pairs:
    if not isinstance(value, list):
        raise RequestTablesError(f"{where}: field {name!r} must be a list of [a, b] pairs, got "
                                 f"{value!r}")
    out = []
    for index, pair in enumerate(value):
        if (not isinstance(pair, list) or len(pair) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in pair)):
            raise RequestTablesError(f"{where}: field {name!r}[{index}] must be a pair of numbers, "
                                     f"got {pair!r}")
        out.append((float(pair[0]), float(pair[1])))
    return tuple(out)


def check_tables(tables: RequestTables, where: str) -> None:
    """Raises :class:`RequestTablesError` naming ``where``, the field and the value if the tables
    do not describe two distributions on [0, 1] and a correlation in (-1, 1)."""
    for resource in ("cpu", "mem"):
        masses = getattr(tables, f"{resource}_masses")
        remainder = getattr(tables, f"{resource}_remainder")
        name = f"{resource}_masses"
        for index, (value, share) in enumerate(masses):
            if not (0.0 <= value <= 1.0 and 0.0 < share <= 1.0):
                raise RequestTablesError(f"{where}: field {name!r}[{index}] = {[value, share]!r}: "
                                         "value must be in [0, 1] and share in (0, 1]")
        values = [value for value, _ in masses]
        if len(set(values)) != len(values):
            raise RequestTablesError(f"{where}: field {name!r} repeats a value: {values!r}")
        total = sum(share for _, share in masses)
        if total > 1.0 + 1e-9:
            raise RequestTablesError(f"{where}: field {name!r}: shares sum to {total:.6g} > 1")
        name = f"{resource}_remainder"
        if len(remainder) < 2:
            raise RequestTablesError(f"{where}: field {name!r} needs at least 2 knots, got "
                                     f"{list(remainder)!r}")
        probs = [p for p, _ in remainder]
        knots = [v for _, v in remainder]
        if probs[0] != 0.0 or probs[-1] != 1.0 or any(b < a for a, b in zip(probs, probs[1:])):
            raise RequestTablesError(f"{where}: field {name!r}: probabilities must rise from 0 "
                                     f"to 1, got {probs!r}")
        if knots[0] < 0.0 or knots[-1] > 1.0 or any(b < a for a, b in zip(knots, knots[1:])):
            raise RequestTablesError(f"{where}: field {name!r}: values must never fall and lie in "
                                     f"[0, 1], got {knots!r}")
    rho = tables.copula_correlation
    if not (isinstance(rho, float) and -1.0 < rho < 1.0):
        raise RequestTablesError(f"{where}: field 'copula_correlation' must be in (-1, 1), got "
                                 f"{rho!r}")


def _quantile_points(masses: Pairs, remainder: Pairs) -> tuple[np.ndarray, np.ndarray]:
    """Points (cdf, value) of the mixture's quantile function; see the module docstring.

    A mass at the value of remainder knots comes after them. Without masses the points are the
    remainder's knots unchanged (bit for bit), which keeps generator version 1 reproducible.
    """
    masses = sorted(masses)
    scale = 1.0 - sum(share for _, share in masses)
    probs = [p for p, _ in remainder]
    values = [v for _, v in remainder]
    cdf: list[float] = []
    out: list[float] = []
    below, j = 0.0, 0

    def add_mass(value: float, start: float) -> None:
        nonlocal below
        cdf.extend((start, start + masses[j][1]))
        out.extend((value, value))
        below += masses[j][1]

    for i, (p, v) in enumerate(zip(probs, values)):
        while j < len(masses) and masses[j][0] < v:  # masses between knot i - 1 and knot i
            w = masses[j][0]
            g = 0.0 if i == 0 else (probs[i - 1] + (p - probs[i - 1])
                                    * (w - values[i - 1]) / (v - values[i - 1]))
            add_mass(w, below + scale * g)
            j += 1
        cdf.append(below + scale * p)
        out.append(v)
        if i + 1 == len(values) or values[i + 1] > v:
            while j < len(masses) and masses[j][0] == v:
                add_mass(v, cdf[-1])
                j += 1
    while j < len(masses):  # masses above the remainder's support
        add_mass(masses[j][0], below + scale)
        j += 1
    return np.array(cdf), np.array(out)


def standard_normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x), elementwise."""
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def remainder_from_quantiles(quantiles: Sequence[tuple[float, float]], masses: Pairs) -> Pairs:
    """The remainder knots that make ``masses`` plus the remainder have the given quantiles.

    Args:
        quantiles: ``(probability, value)`` of the whole marginal, from probability 0 to 1. A
            value within :data:`SNAP_TOLERANCE` of a mass is read as that mass (rounded).
        masses: ``(value, share)`` point masses, all inside the quantiles' range.

    The whole CDF ``F`` is fixed at every knot: at a continuous knot ``F(v) = p``; at a mass
    ``m`` with knots of probabilities ``P``, ``F`` jumps from ``F(v-)`` to ``F(v-) + m`` with
    ``F(v-)`` in the middle of ``max P - m <= F(v-) <= min P`` (so every ``p`` in ``P`` has ``v``
    as its quantile), moved within that range where an interval would hold too little. Between
    knots the continuous part is linear in the value. The remainder's CDF is ``(F - masses at or below) / (1 - Σ masses)`` at every knot.

    Raises:
        ValueError: If a mass is too small for its knots or an interval between knots holds more
            mass than its probability (no remainder can then match).
    """
    mass_of = dict(masses)
    snapped: dict[float, list[float]] = {}
    for p, v in quantiles:
        near = [w for w in mass_of if abs(w - v) <= SNAP_TOLERANCE * w]
        snapped.setdefault(near[0] if near else v, []).append(p)
    total = sum(mass_of.values())
    values = sorted(snapped)
    share = [mass_of.get(v, 0.0) for v in values]
    low, high, before = [], [], []  # the range of F(v-) that keeps v every knot's quantile
    for v, m in zip(values, share):
        probs = snapped[v]
        if m == 0.0 and len(probs) > 1:
            raise ValueError(f"quantiles {probs} share the value {v} but it is no point mass")
        low.append(max(max(probs) - m, 0.0))
        high.append(min(min(probs), 1.0 - m))
        if low[-1] > high[-1] + 1e-12:
            raise ValueError(f"point mass {v} of share {m} cannot hold the quantiles {probs}")
        before.append((low[-1] + high[-1]) / 2)
    inside = [sum(m for w, m in mass_of.items() if a < w < b) for a, b in zip(values, values[1:])]
    # Steps in the middle of their ranges unless an interval then holds less probability than its
    # inner masses: such a deficit is split between the two steps around it, within their
    # ranges, until none is left.
    for _ in range(1000):
        deficits = [inside[i] - (before[i + 1] - before[i] - share[i]) for i in range(len(inside))]
        if max(deficits, default=0.0) <= 1e-12:
            break
        for i, deficit in enumerate(deficits):
            if deficit > 1e-12:
                before[i] = max(before[i] - deficit / 2, low[i])
                before[i + 1] = min(before[i + 1] + deficit / 2, high[i + 1])
    knots = [(v, b, b + m) for v, b, m in zip(values, before, share)]  # (value, F(v-), F(v))
    lowest, highest = knots[0][0], knots[-1][0]
    outside = [w for w in mass_of if not lowest <= w <= highest]
    if outside:
        raise ValueError(f"point masses {outside} lie outside the quantiles' range")
    remainder = []
    for v, _, after in knots:
        at_or_below = sum(m for w, m in mass_of.items() if w <= v)
        remainder.append(((after - at_or_below) / (1.0 - total), v))
    for (p0, v0), (p1, v1) in zip(remainder, remainder[1:]):
        if p1 < p0 - 1e-9:
            raise ValueError(f"the masses between {v0} and {v1} exceed the probability there")
    # Exact ends; rounding may leave a probability a hair below its predecessor.
    cleaned, top = [], 0.0
    for p, v in remainder:
        top = min(max(top, p), 1.0)
        cleaned.append((top, v))
    cleaned[0], cleaned[-1] = (0.0, cleaned[0][1]), (1.0, cleaned[-1][1])
    return tuple(cleaned)
