"""Where returned mail comes from on disk: files, directories, maildirs, mbox, stdin.

Messages are yielded one at a time (bounded memory) with a label saying where
each came from: ``path`` for a single file, ``path#N`` for the N-th message of
an mbox (1-based).
"""

from __future__ import annotations

import mailbox
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["iter_messages"]

_SKIP_SUFFIXES = frozenset({".csv", ".md", ".txt.gz", ".gz", ".zip", ".py", ".toml"})


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(5) == b"From "


def _from_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            yield f"{path}#{n}", box.get_bytes(key)
    finally:
        box.close()


def _from_file(path: Path) -> Iterator[tuple[str, bytes]]:
    if _is_mbox(path):
        yield from _from_mbox(path)
    else:
        yield str(path), path.read_bytes()


def _from_dir(path: Path) -> Iterator[tuple[str, bytes]]:
    # A maildir is just a directory of one-message files (cur/, new/): walk it.
    for child in sorted(path.rglob("*")):
        if child.is_file() and child.suffix.lower() not in _SKIP_SUFFIXES:
            if child.name.startswith("."):
                continue
            yield from _from_file(child)


def iter_messages(sources: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(label, raw bytes)`` for every message in ``sources`` (``-`` = stdin)."""
    for source in sources:
        if source == "-":
            data = sys.stdin.buffer.read()
            if data.startswith(b"From "):
                tmp = _stdin_mbox(data)
                yield from (("-" + label[len(str(tmp)) :], raw) for label, raw in _from_mbox(tmp))
                tmp.unlink()
            else:
                yield "-", data
            continue
        path = Path(source)
        if path.is_dir():
            yield from _from_dir(path)
        elif path.is_file():
            yield from _from_file(path)
        else:
            raise FileNotFoundError(f"{source}: no such file or directory")


def _stdin_mbox(data: bytes) -> Path:
    import tempfile

    with tempfile.NamedTemporaryFile("wb", suffix=".mbox", delete=False) as f:
        f.write(data)
    return Path(f.name)
