"""File discovery, kind detection and identity: the pure parts of following files."""

from __future__ import annotations

import os
from pathlib import Path

from acctpipe.ingest import discover, fingerprint, identify, kind_of


def test_kind_is_decided_by_the_first_complete_line() -> None:
    """A reject-log header makes a reject log; anything else is accounting; no line: wait."""
    assert kind_of(b"timeLogged,remoteIp\r\n") == "reject"
    assert kind_of(b"\xef\xbb\xbftimeLogged,remoteIp\n") == "reject"
    assert kind_of(b"type,timeLogged\r\n") == "accounting"
    assert kind_of(b"d,2026-11-25 07:43:47+0000,a\r\n") == "accounting"
    assert kind_of(b"type,timeLo") is None


def test_discover_matches_globs_and_orders_oldest_first(tmp_path: Path) -> None:
    """Directories yield matching files by mtime; files named directly are always taken."""
    for i, name in enumerate(["b.csv", "a.csv", "notes.txt"]):
        (tmp_path / name).write_text("x\n")
        os.utime(tmp_path / name, (1000 + i, 1000 + i))
    explicit = tmp_path / "notes.txt"
    assert [p.name for p in discover([tmp_path])] == ["b.csv", "a.csv"]
    assert [p.name for p in discover([tmp_path], ["a*"])] == ["a.csv"]
    assert [p.name for p in discover([explicit])] == ["notes.txt"]


def test_identity_is_inode_and_first_bytes(tmp_path: Path) -> None:
    """A renamed file keeps its identity; without a newline the fingerprint covers the probe."""
    path = tmp_path / "acct.csv"
    path.write_bytes(b"x" * 5000)
    fd = os.open(path, os.O_RDONLY)
    try:
        before = identify(fd)
    finally:
        os.close(fd)
    path.rename(tmp_path / "acct-1.csv")
    fd = os.open(tmp_path / "acct-1.csv", os.O_RDONLY)
    try:
        after = identify(fd)
        assert (after.device, after.inode, after.fingerprint) == (
            before.device,
            before.inode,
            before.fingerprint,
        )
        assert after.fingerprint_len == 5000  # no newline yet: all of it, up to the probe
        assert after.has_prefix(fd, fingerprint(b"x" * 10), 10)
        assert not after.has_prefix(fd, fingerprint(b"y" * 10), 10)
        assert not after.has_prefix(fd, fingerprint(b"x" * 6000), 6000)
    finally:
        os.close(fd)
