"""Checks of env arguments, shared by every SchedGym env.

Every env validates all of its arguments in ``__init__``, so a bad one fails at ``gym.make``,
never later inside ``reset`` or ``step`` and never silently. Each check returns the value in
its canonical type (an ``int``, a ``float``, a ``Path``, ...) or raises :class:`ArgumentError`
with a message that names the argument (with its path inside a nested argument, e.g.
``generator_config["num_pms"]``), the value's ``repr`` and what is allowed. The rules:

- An integer argument takes an ``int`` or numpy integer, never a ``bool`` and never a float,
  not even ``2.0``: a float is refused rather than truncated.
- A real argument takes an ``int``, ``float`` or numpy number (not a ``bool``). NaN is always
  refused (it passes every ``x <= 0`` test); so is ``±inf`` unless the check allows it.
- A nested argument (a mapping of a dataclass's fields) names only known keys.
- The observation arrays of one env configuration stay under :data:`MAX_OBSERVATION_BYTES`
  (checked by ``GraphEnv`` before it allocates them, naming the arguments that set the sizes).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: Upper bound of the observation arrays of one step (one copy of every array, in bytes). The
#: largest shipped configuration, VM rescheduling at size "large", takes about 2 MB.
MAX_OBSERVATION_BYTES = 64 * 2**20


class ArgumentError(ValueError):
    """A bad env argument; the message names the argument, its value and what is allowed."""


class ArgumentTypeError(ArgumentError, TypeError):
    """An env argument of the wrong type (also a ``TypeError``)."""


def item_name(name: str, key: str) -> str:
    """The path of entry ``key`` of the nested argument ``name``: ``name["key"]``."""
    return f'{name}["{key}"]'


def check_int(
    name: str, value: Any, *, low: int | None = None, high: int | None = None, why: str = ""
) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be ``None``: unbounded);
    ``why`` explains the bounds in the message.

    Raises:
        ArgumentTypeError: If ``value`` is not an integer (a ``bool`` or a float is not).
        ArgumentError: If it is out of range.
    """
    allowed = "an integer" + _range_text(low, high, low_open=False, high_open=False) + _why(why)
    if _is_bool(value) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(_message(name, value, allowed))
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ArgumentError(_message(name, value, allowed))
    return number


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    why: str = "",
) -> float:
    """``value`` as a ``float`` in the interval from ``low`` to ``high`` (closed unless
    ``low_open`` / ``high_open``; a ``None`` bound is unbounded). NaN is never allowed; ``±inf``
    only if ``finite`` is false. ``why`` explains the bounds in the message.

    Raises:
        ArgumentTypeError: If ``value`` is not a real number (a ``bool`` is not).
        ArgumentError: If it is NaN, infinite (when ``finite``) or out of range.
    """
    allowed = (("a finite number" if finite else "a number")
               + _range_text(low, high, low_open, high_open) + _why(why))
    if _is_bool(value) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(_message(name, value, allowed))
    number = float(value)
    bad = (
        math.isnan(number)
        or (finite and math.isinf(number))
        or (low is not None and (number <= low if low_open else number < low))
        or (high is not None and (number >= high if high_open else number > high))
    )
    if bad:
        raise ArgumentError(_message(name, value, allowed))
    return number


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """The element of ``choices`` equal to ``value`` (so ``np.str_("a")`` gives ``"a"``; a
    ``bool`` equals none, not even 0 or 1).

    Raises:
        ArgumentError: If ``value`` is none of ``choices``.
    """
    choices = tuple(choices)
    for choice in choices:
        if not _is_bool(value) and _equal(value, choice):
            return choice
    raise ArgumentError(_message(name, value, "one of " + ", ".join(map(repr, choices))))


def check_choices(name: str, value: Any, choices: Iterable[Any]) -> tuple[Any, ...]:
    """A non-empty sequence (not a string) of elements of ``choices``, as a tuple.

    Raises:
        ArgumentTypeError: If ``value`` is a string or not a sequence.
        ArgumentError: If it is empty or an element is not one of ``choices``.
    """
    choices = tuple(choices)
    allowed = "a non-empty list or tuple of " + ", ".join(map(repr, choices))
    if not isinstance(value, (list, tuple)):
        raise ArgumentTypeError(_message(name, value, allowed))
    if not value:
        raise ArgumentError(_message(name, value, allowed))
    return tuple(check_choice(f"{name}[{i}]", element, choices) for i, element in enumerate(value))


def check_mapping(name: str, value: Any, allowed_keys: Iterable[str]) -> dict[str, Any]:
    """``value`` as a ``dict`` whose keys are all in ``allowed_keys``.

    Raises:
        ArgumentTypeError: If ``value`` is not a mapping.
        ArgumentError: If it has a key outside ``allowed_keys``.
    """
    allowed_keys = tuple(allowed_keys)
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(
            _message(name, value, "a mapping with keys from " + ", ".join(allowed_keys)))
    for key in value:
        if key not in allowed_keys:
            raise ArgumentError(
                f"{name} has the unknown key {key!r}; allowed keys: {', '.join(allowed_keys)}")
    return dict(value)


def check_fields(name: str, value: Any, fields_of: type) -> dict[str, Any]:
    """The entries of a nested argument given as a ``fields_of`` dataclass (every field counts
    as given) or as a mapping of some of its field names (:func:`check_mapping`'s rules).

    Raises:
        ArgumentTypeError: If ``value`` is neither.
        ArgumentError: If the mapping has a key that is not a field.
    """
    names = tuple(field.name for field in dataclasses.fields(fields_of))
    if isinstance(value, fields_of):
        return {key: getattr(value, key) for key in names}
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(_message(
            name, value, f"a {fields_of.__name__} or a mapping with keys from {', '.join(names)}"))
    return check_mapping(name, value, names)


def check_directory(name: str, value: Any) -> Path:
    """``value`` (a ``str`` or path) as the ``Path`` of an existing directory.

    Raises:
        ArgumentTypeError: If ``value`` is not a ``str`` or ``os.PathLike``.
        ArgumentError: If no directory exists there.
    """
    return _existing_path(name, value, "directory", Path.is_dir)


def check_file(name: str, value: Any) -> Path:
    """``value`` (a ``str`` or path) as the ``Path`` of an existing file.

    Raises:
        ArgumentTypeError: If ``value`` is not a ``str`` or ``os.PathLike``.
        ArgumentError: If no file exists there.
    """
    return _existing_path(name, value, "file", Path.is_file)


def _existing_path(name: str, value: Any, kind: str, exists: Callable[[Path], bool]) -> Path:
    allowed = f"the path of an existing {kind}"
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentTypeError(_message(name, value, allowed))
    path = Path(value)
    if not exists(path):
        raise ArgumentError(_message(name, value, allowed))
    return path


def check_observation_size(
    nbytes: int, sized_by: Mapping[str, Any], limit: int = MAX_OBSERVATION_BYTES
) -> None:
    """Refuses a configuration whose observation arrays would take more than ``limit`` bytes.

    Args:
        nbytes: Bytes of one copy of the observation arrays.
        sized_by: The arguments that set the array sizes and their values (named in the error).
        limit: The bound, :data:`MAX_OBSERVATION_BYTES` by default.

    Raises:
        ArgumentError: If ``nbytes > limit``.
    """
    if nbytes > limit:
        given = ", ".join(f"{key}={value!r}" for key, value in sized_by.items())
        raise ArgumentError(
            f"{given} give observation arrays of {nbytes / 2**20:,.1f} MiB, more than the limit of "
            f"{limit / 2**20:g} MiB (schedgym.envs.validation.MAX_OBSERVATION_BYTES): "
            "choose smaller sizes")


def argument_error(
    name: str, value: Any, allowed: str, *, wrong_type: bool = False
) -> ArgumentError:
    """The error to raise for a bad ``value`` of argument ``name``, for checks written
    elsewhere: "NAME must be ALLOWED, got VALUE (TYPE)"; an :class:`ArgumentTypeError` if
    ``wrong_type``."""
    return (ArgumentTypeError if wrong_type else ArgumentError)(_message(name, value, allowed))


def _message(name: str, value: Any, allowed: str) -> str:
    return f"{name} must be {allowed}, got {value!r} ({type(value).__name__})"


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low!r}"
    if low is None:
        return f" {'<' if high_open else '<='} {high!r}"
    return f" in {'(' if low_open else '['}{low!r}, {high!r}{')' if high_open else ']'}"


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _why(why: str) -> str:
    return f" ({why})" if why else ""


def _equal(value: Any, choice: Any) -> bool:
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        return False


__all__ = [
    "MAX_OBSERVATION_BYTES", "ArgumentError", "ArgumentTypeError", "argument_error", "item_name",
    "check_int", "check_float", "check_choice", "check_choices", "check_mapping", "check_fields",
    "check_directory", "check_file", "check_observation_size",
]
