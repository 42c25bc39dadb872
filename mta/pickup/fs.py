"""The pickup folder's file moves: which names count, claiming, reading, setting aside.

A file's life in the folder, every step one ``rename`` (atomic on POSIX)::

    NAME ──claim──▶ .NAME.processing ──spooled──▶ (deleted) | done/NAME
                        │    ▲   │
                        │    │   └──refused──▶ bad/NAME + bad/NAME.reason
                        └────┴── spool failed (LocalError): renamed back to NAME

A ``.NAME.processing`` file seen when a scan starts is the leftover of a crash
(in one process, every claim is resolved before the next scan): it is read
again. These functions block; the folder runs them in a worker thread.
"""

from __future__ import annotations

import errno
import heapq
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "Candidate",
    "claim",
    "is_candidate",
    "oldest",
    "read_limited",
    "release",
    "set_aside",
]

CLAIM_SUFFIX = ".processing"
# Names a writer uses while the file is incomplete: never read (see docs/pickup.md).
_INCOMPLETE_SUFFIXES = (".tmp", ".part")


def is_candidate(name: str) -> bool:
    """Whether a file of this name is complete mail to pick up (not hidden, not partial)."""
    return not name.startswith(".") and not name.lower().endswith(_INCOMPLETE_SUFFIXES)


def _leftover_name(name: str) -> str | None:
    """``NAME`` for a claimed ``.NAME.processing``, else ``None``."""
    if name.startswith(".") and name.endswith(CLAIM_SUFFIX) and len(name) > len(CLAIM_SUFFIX) + 1:
        return name[1 : -len(CLAIM_SUFFIX)]
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file to process: its original name, where it is now, and whether it is claimed."""

    name: str
    path: Path
    mtime: float
    claimed: bool


def _entries(folder: Path) -> Iterator[Candidate]:
    with os.scandir(folder) as it:
        for entry in it:
            try:
                if entry.is_dir(follow_symlinks=False):
                    continue  # bad/, done/ and anything else nested are not ours
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # gone between listing and stat
            left = _leftover_name(entry.name)
            if left is not None:
                yield Candidate(left, Path(entry.path), mtime, claimed=True)
            elif is_candidate(entry.name):
                yield Candidate(entry.name, Path(entry.path), mtime, claimed=False)


def oldest(folder: Path, limit: int) -> list[Candidate]:
    """Up to ``limit`` files to process, leftovers of a crash first, then oldest first.

    The listing is streamed through a bounded heap, so a folder of a million files
    costs ``limit`` entries of memory, not a million.
    """
    return heapq.nsmallest(limit, _entries(folder), key=lambda c: (not c.claimed, c.mtime, c.name))


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or a stamped variant of it when that name is taken."""
    target = folder / name
    if not target.exists() and not (folder / f"{name}.reason").exists():
        return target
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    n = 0
    while True:
        target = folder / (f"{name}.{stamp}" if n == 0 else f"{name}.{stamp}.{n}")
        if not target.exists():
            return target
        n += 1


def claim(candidate: Candidate) -> Path | None:
    """Rename the file to its ``.NAME.processing`` name; ``None`` if someone else has it."""
    if candidate.claimed:
        return candidate.path
    target = candidate.path.with_name(f".{candidate.name}{CLAIM_SUFFIX}")
    if target.exists():
        return None  # a claim by name never overwrites another claim
    try:
        candidate.path.rename(target)
    except FileNotFoundError:
        return None
    return target


def release(claimed: Path, name: str) -> Path:
    """Give a claimed file back to the folder under its name, for the next scan."""
    target = _free_name(claimed.parent, name)
    claimed.rename(target)
    return target


def read_limited(path: Path, max_size: int) -> bytes | str:
    """The bytes of a regular file, or why it cannot be read (a one-line reason)."""
    try:
        # O_NOFOLLOW: a symlink dropped in the folder must not make us mail out
        # whatever it points at; O_NONBLOCK: opening a FIFO must not hang the scan.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "not a regular file (a symbolic link)"
        return f"cannot open: {exc.strerror or exc}"
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > max_size:
            return f"larger than the {max_size}-byte limit ({info.st_size} bytes)"
        try:
            data = f.read(max_size + 1)
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
    if len(data) > max_size:
        return f"larger than the {max_size}-byte limit (grew while read)"
    return data


def set_aside(claimed: Path, folder: Path, name: str, reason: str | None = None) -> Path:
    """Move a claimed file into ``folder`` (``bad/``, ``done/``), with ``NAME.reason`` if given."""
    folder.mkdir(parents=True, exist_ok=True)  # an operator may have removed it meanwhile
    target = _free_name(folder, name)
    if reason is not None:
        one_line = " ".join(reason.split())
        target.with_name(f"{target.name}.reason").write_text(one_line + "\n", encoding="utf-8")
    # shutil.move renames within a filesystem and copies across one (a bad-dir elsewhere).
    shutil.move(claimed, target)
    return target
