"""`durable.atomic_write`, the one writer behind images, checkpoints, manifests' reports,
downloads and the digest cache: a complete file or the previous one, never half of one,
and never a temporary file left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from faceswaplab.durable import TEMP_NAME_RE, atomic_write, temp_path_for, unlink_quiet


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_bytes_str_and_writer(tmp_path):
    assert atomic_write(tmp_path / "a.bin", b"\x00\x01" * 100_000) == tmp_path / "a.bin"
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01" * 100_000
    atomic_write(tmp_path / "b.txt", "ünïcode\nline\n")
    assert (tmp_path / "b.txt").read_bytes() == "ünïcode\nline\n".encode()  # no newline translation
    atomic_write(tmp_path / "c.bin", lambda fh: fh.write(b"from a writer"))
    assert (tmp_path / "c.bin").read_bytes() == b"from a writer"
    assert _names(tmp_path) == ["a.bin", "b.txt", "c.bin"]


def test_parents_created_unless_told_not_to(tmp_path):
    atomic_write(tmp_path / "x" / "y" / "z.txt", "hi")
    assert (tmp_path / "x" / "y" / "z.txt").read_text() == "hi"
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nope" / "z.txt", "hi", make_parents=False)


@pytest.mark.parametrize("exc", [ValueError("checksum mismatch"), OSError(errno.ENOSPC, "No space left on device")])
def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, exc):
    path = tmp_path / "f.bin"
    atomic_write(path, b"old")

    def writer(fh):
        fh.write(b"half of the new")
        raise exc

    with pytest.raises(type(exc)):
        atomic_write(path, writer)
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["f.bin"]
    with pytest.raises(type(exc)):
        atomic_write(tmp_path / "new.bin", writer)
    assert _names(tmp_path) == ["f.bin"]


def test_exclusive_never_replaces(tmp_path):
    path = tmp_path / "c.safetensors"
    atomic_write(path, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(path, b"second", exclusive=True)
    assert path.read_bytes() == b"first"
    assert _names(tmp_path) == ["c.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symlinks")
def test_mode_kept_and_symlinks(tmp_path):
    path = tmp_path / "m.txt"
    atomic_write(path, "1")
    os.chmod(path, 0o640)
    atomic_write(path, "2")
    assert (path.stat().st_mode & 0o777) == 0o640

    real = tmp_path / "real.txt"
    real.write_text("r")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert atomic_write(link, "through", follow_symlinks=True) == real
    assert link.is_symlink() and real.read_text() == "through"
    atomic_write(link, "replaced the link")
    assert not link.is_symlink() and real.read_text() == "through"


def test_temp_names_are_hidden_and_recognisable(tmp_path):
    tmp = temp_path_for(tmp_path / ("x" * 300 + ".png"))
    assert tmp.parent == tmp_path and tmp.name.startswith(".")
    assert TEMP_NAME_RE.match(tmp.name) and len(tmp.name) < 140
    assert not TEMP_NAME_RE.match(".keep.tmp")


def test_unlink_quiet(tmp_path):
    p = tmp_path / "gone.txt"
    p.write_text("x")
    unlink_quiet(p)
    assert not p.exists()
    unlink_quiet(p)  # already gone: fine
    unlink_quiet(None)
