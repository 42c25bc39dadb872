"""A small, really full disk for tests: a tmpfs mounted under the test's directory.

The OS's ENOSPC cannot be faked portably, so the tests mount a tiny tmpfs (CI
runs as root) and fill it with a filler file; without the right to mount they
are skipped with the reason. ``free()`` deletes the filler: space returns.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class Disk:
    """A mounted tmpfs at ``path`` that can be filled up and freed again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write until the file system says ENOSPC (every block taken)."""
        chunk = b"\0" * 4096
        with self.filler.open("ab", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

    def free(self) -> None:
        """Delete the filler: the disk has room again."""
        self.filler.unlink(missing_ok=True)


@contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Disk]:
    """Mount a ``size`` tmpfs at ``path`` for the block (skip the test if we cannot)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a real full disk) needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield Disk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
