"""Which files to read, in which order, and which decoder reads each.

Files are read oldest first (modification time, then name), so rotated files
are finished before their successors. A file's kind is decided once, from its
first line: a reject-log header (``timeLogged,…``) makes it a reject log,
anything else is an accounting file (with or without a header row).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from acctpipe.eventstore import FileKind
from acctpipe.ingest.identity import HEADER_PROBE
from mta.acct import REJECT_FIELDS, AccountingDecoder, RejectLogDecoder

__all__ = ["DEFAULT_GLOBS", "decoder_for", "discover", "kind_of", "matches"]

DEFAULT_GLOBS: Final = ("*.csv",)
"""What a directory is searched for when no ``--glob`` is given."""

_BOM: Final = b"\xef\xbb\xbf"
_HEADER_PROBE: Final = 64 * 1024


def matches(name: str, globs: Sequence[str]) -> bool:
    """Tell whether a file name matches one of ``globs``."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in globs)


def discover(paths: Iterable[Path], globs: Sequence[str] = DEFAULT_GLOBS) -> list[Path]:
    """Files named directly, plus the matching regular files of each directory, oldest first."""
    found: dict[Path, tuple[float, str]] = {}
    for path in paths:
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate is not path and not matches(candidate.name, globs):
                continue
            try:
                st = candidate.stat()
            except FileNotFoundError:
                continue  # deleted between listing and stat: nothing to read
            if candidate.is_file():
                found[candidate] = (st.st_mtime, candidate.name)
    return sorted(found, key=lambda p: found[p])


def kind_of(head: bytes, size: int = 0) -> FileKind | None:
    """The kind of a file from its first bytes, or ``None`` until a first line is complete.

    A first line longer than ``HEADER_PROBE`` bytes never completes a header: the
    file is read as accounting, so the decoder quarantines what it cannot parse
    rather than the file being skipped in silence.
    """
    if b"\n" not in head:
        return "accounting" if size >= HEADER_PROBE else None
    first = head.removeprefix(_BOM)
    return "reject" if first.startswith(b"timeLogged,") else "accounting"


def decoder_for(
    kind: FileKind, fd: int, offset: int, header: Sequence[str] | None
) -> AccountingDecoder | RejectLogDecoder:
    """A decoder that resumes at ``offset`` of the open file ``fd``.

    The accounting decoder takes the header in force from the store. The reject
    log's header is its first line, so the decoder is primed with it.
    """
    if kind == "accounting":
        return AccountingDecoder(offset, fields=header)
    if offset == 0:
        return RejectLogDecoder(0)
    head = os.pread(fd, _HEADER_PROBE, 0)
    line = head[: head.find(b"\n") + 1]
    if not line or not line.removeprefix(_BOM).startswith(REJECT_FIELDS[0].encode()):
        return RejectLogDecoder(offset)
    decoder = RejectLogDecoder(offset - len(line))
    decoder.feed(line)  # a header row yields no events; the decoder now maps its columns
    return decoder
