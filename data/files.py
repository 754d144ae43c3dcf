"""Atomic file writes: a file SchedGym writes is either its old self or complete, never truncated.

Every writer goes through :func:`atomic_path`: the content goes to a temporary file in the same
folder, is flushed to disk, and is renamed over the target (``os.replace`` is atomic on POSIX and
Windows), so a process killed at any moment leaves either the previous file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; on a clean exit it is moved over ``path``.

    For writers that want a path rather than a file object (``model.save``, ``onnx.save``). The
    temporary file keeps ``path``'s suffix unless ``suffix`` is given, since some writers append
    one (SB3's ``save`` adds ``.zip`` to a name without it). On an exception the temporary file is
    removed and ``path`` is untouched.

    Args:
        path: The file to (re)place.
        suffix: Suffix of the temporary file; defaults to ``path``'s.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix if suffix is None else suffix,
                                dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a run's files are for its readers
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], value: Any, indent: int | None = 1) -> None:
    """Writes ``value`` as JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(value, indent=indent) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    # Without it, a power cut after the rename may leave an empty file under the new name.
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
