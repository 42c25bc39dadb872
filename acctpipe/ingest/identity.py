"""File identity: device + inode + a fingerprint of the first bytes, never the name.

A rename (PowerMTA's ``move-interval`` / ``max-size`` rotation) keeps device
and inode, so the file is followed on from its committed offset under its new
name. A file whose first bytes no longer match what was read (copy-truncate,
or an inode reused after a delete) is a new file. A copy whose first
:data:`FINGERPRINT_SIZE` bytes equal a known file's is the same stream (the
copy half of copy-truncate), so it is not read twice.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Final

__all__ = ["FINGERPRINT_SIZE", "FileIdentity", "fingerprint", "identify"]

FINGERPRINT_SIZE: Final = 1024
"""How many leading bytes identify a file's content (a header and a couple of rows)."""


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """An open file's device, inode, size and the fingerprint of its first bytes."""

    device: int
    inode: int
    size: int
    fingerprint: str
    fingerprint_len: int

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
    head = os.pread(fd, FINGERPRINT_SIZE, 0)
    return FileIdentity(st.st_dev, st.st_ino, st.st_size, fingerprint(head), len(head))
