"""The durable spool: accepted means on disk; crashes lose nothing; poison goes to bad/."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mta.spool.durable import Envelope, Spool


def _env(n: int = 0) -> Envelope:
    return Envelope(sender="bounce@sender.example", recipients=[f"u{n}@example.com"])


def test_accept_stores_bytes_and_envelope_exactly(tmp_path: Path) -> None:
    """A message comes back byte for byte with its envelope, from incoming/."""
    spool = Spool(tmp_path / "spool")
    raw = b"Subject: hi\r\n\r\nbody \xff\r\n"
    spool_id = spool.accept(raw, _env(1))
    assert spool.ids("incoming") == [spool_id]
    data, envelope = spool.read("incoming", spool_id)
    assert data == raw
    assert envelope.recipients == ["u1@example.com"]
    assert not list((tmp_path / "spool" / "tmp").iterdir())


def test_life_cycle_claim_defer_release_finish(tmp_path: Path) -> None:
    """incoming → active → deferred → (due) incoming → active → done, attempts counted."""
    spool = Spool(tmp_path)
    spool_id = spool.accept(b"x", _env())
    assert list(spool.claim()) == [spool_id]
    spool.defer(spool_id, next_attempt=100.0, reason="421 4.7.0 try later")
    assert spool.release_due(now=50.0) == []
    assert spool.release_due(now=100.0) == [spool_id]
    assert list(spool.claim()) == [spool_id]
    spool.finish(spool_id)
    assert spool.ids("done") == [spool_id]
    assert spool.read("done", spool_id)[1].attempts == 1


def test_recover_requeues_in_flight_and_quarantines_poison(tmp_path: Path) -> None:
    """A crash leaves messages in active/: they go back to incoming, until the Nth crash."""
    spool = Spool(tmp_path, max_crashes=2)
    spool_id = spool.accept(b"x", _env())
    list(spool.claim())
    assert spool.recover() == (1, 0)
    assert spool.ids("incoming") == [spool_id]
    list(spool.claim())
    assert spool.recover() == (0, 1)
    assert spool.ids("bad") == [spool_id]
    assert "crashed the worker 2 times" in (tmp_path / "bad" / f"{spool_id}.reason").read_text()


def test_recover_drops_a_cut_envelope_rewrite_and_keeps_the_message(tmp_path: Path) -> None:
    """A crash mid-rewrite leaves ID.new beside the message: dropped, the message intact."""
    spool = Spool(tmp_path)
    spool_id = spool.accept(b"payload", _env())
    (tmp_path / "incoming" / f"{spool_id}.new").write_bytes(b"half")
    spool.recover()
    assert spool.ids("incoming") == [spool_id]
    assert spool.read("incoming", spool_id)[0] == b"payload"
    assert not list((tmp_path / "incoming").glob("*.new"))


def test_envelope_line_survives_any_sender_text(tmp_path: Path) -> None:
    """Newlines or quotes in envelope text never break the one-line envelope header."""
    spool = Spool(tmp_path)
    envelope = Envelope('odd\n"sender"@x.example', ["r@y.example"], reason="a\nb")
    spool_id = spool.accept(b"line1\nline2\n", envelope)
    raw, back = spool.read("incoming", spool_id)
    assert raw == b"line1\nline2\n"
    assert back.sender == envelope.sender
    assert back.reason == "a\nb"


_WRITER = """
import sys
from pathlib import Path
from mta.spool.durable import Envelope, Spool
spool = Spool(Path(sys.argv[1]))
n = 0
while True:
    spool_id = spool.accept(b"message %d" % n, Envelope("s@x.example", [f"r{n}@y.example"]))
    print(spool_id, flush=True)   # the "250": only after accept() returned
    n += 1
"""


@pytest.mark.slow
def test_kill_9_never_loses_an_acknowledged_message(tmp_path: Path) -> None:
    """kill -9 at random moments: every id the writer acknowledged is in the spool, intact."""
    rng = random.Random(7)
    acknowledged: list[str] = []
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        # The random moment is counted from the first acknowledgement, not from the
        # start: a loaded machine can take longer than 0.3 s to import the spool.
        assert proc.stdout is not None
        first = proc.stdout.readline()
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        acknowledged += (first + out).split()
        Spool(tmp_path).recover()
    spool = Spool(tmp_path)
    present = set(spool.ids("incoming"))
    assert acknowledged
    assert set(acknowledged) <= present
    for spool_id in acknowledged:
        data, envelope = spool.read("incoming", spool_id)
        assert data.startswith(b"message ")
        assert envelope.sender == "s@x.example"
    assert not list((tmp_path / "tmp").iterdir())


def test_accept_many_stores_every_message_of_a_batch(tmp_path: Path) -> None:
    """A batch is accepted whole: every message readable from incoming/, nothing left in tmp/."""
    spool = Spool(tmp_path)
    ids = spool.accept_many([(b"message %d" % n, _env(n), None) for n in range(5)])
    assert sorted(ids) == spool.ids("incoming")
    for n, spool_id in enumerate(ids):
        assert spool.read("incoming", spool_id)[0] == b"message %d" % n
    assert not list((tmp_path / "tmp").iterdir())


def test_recover_moves_a_torn_incoming_file_to_bad_and_keeps_the_whole_ones(
    tmp_path: Path,
) -> None:
    """A file cut short (a crash between the rename and its sync) goes to bad/ with why."""
    spool = Spool(tmp_path)
    whole = spool.accept(b"whole message", _env(1))
    torn = spool.accept(b"torn message", _env(2))
    path = spool.path("incoming", torn)
    path.write_bytes(path.read_bytes()[:-4])
    empty = spool.accept(b"empty", _env(3))
    spool.path("incoming", empty).write_bytes(b"")
    spool.recover()
    assert spool.ids("incoming") == [whole]
    assert sorted(spool.ids("bad")) == sorted([torn, empty])
    assert "never answered 250" in (tmp_path / "bad" / f"{torn}.reason").read_text()


def test_a_file_without_size_and_crc_is_read_as_before(tmp_path: Path) -> None:
    """Spool files written before the integrity fields existed stay readable and whole."""
    spool = Spool(tmp_path)
    spool_id = Spool.new_id()
    line = b'{"sender":"s@x.example","recipients":["r@y.example"]}\n'
    spool.path("incoming", spool_id).write_bytes(line + b"old body")
    spool.recover()
    assert spool.read("incoming", spool_id)[0] == b"old body"


def test_reading_bytes_that_do_not_match_their_crc_raises(tmp_path: Path) -> None:
    """A message whose bytes changed on disk is refused (CorruptMessageError), never sent."""
    from mta.spool.durable import CorruptMessageError

    spool = Spool(tmp_path)
    spool_id = spool.accept(b"original body", _env())
    path = spool.path("incoming", spool_id)
    path.write_bytes(path.read_bytes().replace(b"original", b"ORIGINAL"))
    with pytest.raises(CorruptMessageError, match="do not match"):
        spool.read("incoming", spool_id)
