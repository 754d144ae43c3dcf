"""Atomic writes leave the old file or the new one, never a partial one."""

import json

import pytest

from schedgym.data.files import atomic_path, write_json_atomic, write_text_atomic


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    write_text_atomic(target, "old")
    write_json_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_writer_that_fails_leaves_the_old_file(tmp_path):
    target = tmp_path / "model.zip"
    write_text_atomic(target, "complete")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("trunc")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_the_temporary_keeps_the_suffix_writers_rely_on(tmp_path):
    with atomic_path(tmp_path / "sub" / "last_model.zip") as temporary:
        assert temporary.suffix == ".zip" and temporary.parent == tmp_path / "sub"
        temporary.write_bytes(b"x")
    assert (tmp_path / "sub" / "last_model.zip").read_bytes() == b"x"


def test_a_written_file_is_readable_by_others_as_umask_allows(tmp_path):
    import os
    import stat

    write_text_atomic(tmp_path / "config.yaml", "a: 1")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "config.yaml").stat().st_mode) == 0o666 & ~mask
