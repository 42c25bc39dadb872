"""File identity: device + inode + a fingerprint of the first bytes, never the name.

A rename (PowerMTA's ``move-interval`` / ``max-size`` rotation) keeps device
and inode, so the file is followed on from its committed offset under its new
name. A file whose first bytes no longer match what was read (copy-truncate,
or an inode reused after a delete) is a new file. A copy whose leading bytes
equal a known file's — beyond the header, which every file of a kind shares —
is the same stream (the copy half of copy-truncate), so it is not read twice.

The fingerprint covers the whole first line (up to :data:`HEADER_PROBE` bytes:
PowerMTA headers with many ``header_*`` fields run past 1 KiB) plus up to
:data:`FINGERPRINT_SIZE` bytes after it, so two files with the same header but
different rows never look alike.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Final

__all__ = ["FINGERPRINT_SIZE", "HEADER_PROBE", "FileIdentity", "fingerprint", "identify"]

FINGERPRINT_SIZE: Final = 1024
"""How many bytes after the first line identify a file's content (a couple of rows)."""

HEADER_PROBE: Final = 64 * 1024
"""How far to look for the end of the first line (the longest header we accept)."""


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """An open file's device, inode, size and the fingerprint of its first bytes."""

    device: int
    inode: int
    size: int
    fingerprint: str
    fingerprint_len: int
    header_len: int = 0  # bytes of the first line, newline included (0: not complete yet)

    def has_prefix(self, fd: int, digest: str, length: int) -> bool:
        """Tell whether the file's first ``length`` bytes hash to ``digest``."""
        if length == self.fingerprint_len:
            return digest == self.fingerprint
        if length > self.size:
            return False
        return fingerprint(os.pread(fd, length, 0)) == digest


def fingerprint(data: bytes) -> str:
    """The hex digest that stands for ``data`` (BLAKE2b, 128 bits)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def identify(fd: int) -> FileIdentity:
    """Identify the file open as ``fd`` (fstat, so a concurrent rename cannot confuse it)."""
    st = os.fstat(fd)
    head = os.pread(fd, HEADER_PROBE + FINGERPRINT_SIZE, 0)
    newline = head.find(b"\n", 0, HEADER_PROBE)
    header_len = newline + 1 if newline >= 0 else 0
    covered = head[: header_len + FINGERPRINT_SIZE] if header_len else head[:HEADER_PROBE]
    return FileIdentity(
        st.st_dev, st.st_ino, st.st_size, fingerprint(covered), len(covered), header_len
    )
