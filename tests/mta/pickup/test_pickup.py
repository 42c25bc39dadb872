"""The pickup hot folder, with real files, a real spool and a real watchdog observer."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mta.config import Pickup, parse_config_text
from mta.errors import ConfigError, LocalError
from mta.pickup.watcher import PickupFolder
from mta.spool.durable import Envelope, Spool
from mta.submit import Submission

CONFIG = parse_config_text(
    "<virtual-mta ip-1>\nsmtp-source-host 127.0.0.2 mta1.example.test\n</virtual-mta>\n"
    "<virtual-mta-pool pool-a>\nvirtual-mta ip-1\n</virtual-mta-pool>\n"
    "<pickup /placeholder>\n</pickup>\n",
    "t.conf",
)
WAIT = 20.0  # generous upper bound for anything asynchronous on a loaded CI machine


def _message(n: int = 0, extra: str = "") -> bytes:
    return (
        f"x-sender: <bounces@sender.example>\nx-receiver: <user{n}@example.com>\n{extra}"
        f"From: news@sender.example\nSubject: message {n}\n\nbody {n}\n"
    ).encode()


def _drop(folder: Path, name: str, data: bytes) -> Path:
    """Write the way docs/pickup.md asks: a .tmp name, then an atomic rename."""
    tmp = folder / f"{name}.tmp"
    tmp.write_bytes(data)
    return tmp.rename(folder / name)


class SpoolSubmitter:
    """The Submitter protocol in front of a real spool, as the MTA does it."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.calls = 0

    async def submit(self, submission: Submission) -> list[str]:
        """Spool the submission durably and return its id."""
        self.calls += 1
        envelope = Envelope(
            sender=submission.sender,
            recipients=list(submission.recipients),
            vmta=submission.vmta,
            job_id=submission.job_id,
        )
        return [await asyncio.to_thread(self.spool.accept, submission.raw, envelope)]


class FullSpool:
    """A submitter whose spool cannot take anything (disk full)."""

    def __init__(self) -> None:
        self.calls = 0

    async def submit(self, submission: Submission) -> list[str]:
        """Refuse, as a full disk would."""
        self.calls += 1
        raise LocalError("cannot spool the message: No space left on device")


def _spec(folder: Path, **changes: object) -> Pickup:
    return dataclasses.replace(CONFIG.pickups[0], path=str(folder), **changes)  # type: ignore[arg-type]


def _folder(
    tmp_path: Path, submitter: object | None = None, **changes: object
) -> tuple[PickupFolder, Spool, Path]:
    folder = tmp_path / "pickup"
    folder.mkdir(exist_ok=True)
    spool = Spool(tmp_path / "spool")
    sub = submitter if submitter is not None else SpoolSubmitter(spool)
    pickup = PickupFolder(_spec(folder, **changes), sub, get_config=lambda: CONFIG)  # type: ignore[arg-type]
    return pickup, spool, folder


def _spooled(spool: Spool) -> list[tuple[bytes, Envelope]]:
    return [spool.read("incoming", i) for i in spool.ids("incoming")]


async def _until(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT)


async def test_file_is_spooled_with_its_envelope_and_deleted(tmp_path: Path) -> None:
    """A PowerMTA pickup file is spooled with its x-sender/x-receiver envelope, then deleted."""
    pickup, spool, folder = _folder(tmp_path)
    _drop(folder, "m1.eml", _message(1, "X-Virtual-MTA: ip-1\nX-Job: spring\n"))
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 1
    [(raw, envelope)] = _spooled(spool)
    assert envelope.sender == "bounces@sender.example"
    assert envelope.recipients == ["user1@example.com"]
    assert (envelope.vmta, envelope.job_id) == ("ip-1", "spring")
    assert raw == b"From: news@sender.example\r\nSubject: message 1\r\n\r\nbody 1\r\n"
    assert sorted(p.name for p in folder.iterdir()) == []
    assert (pickup.picked, pickup.bad) == (1, 0)


async def test_delete_after_read_no_moves_the_file_to_done(tmp_path: Path) -> None:
    """With `delete-after-read no`, a spooled file is kept, unchanged, in the done folder."""
    pickup, spool, folder = _folder(tmp_path, delete_after_read=False)
    _drop(folder, "m1.eml", _message(1))
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 1
    assert (folder / "done" / "m1.eml").read_bytes() == _message(1)
    assert not (folder / "m1.eml").exists()
    assert len(spool.ids("incoming")) == 1


async def test_folder_default_vmta_is_used(tmp_path: Path) -> None:
    """A file without X-Virtual-MTA goes out through the folder's `virtual-mta`."""
    pickup, spool, folder = _folder(tmp_path, virtual_mta="pool-a")
    _drop(folder, "m1", _message(1))
    await asyncio.wait_for(pickup.scan_once(), WAIT)
    [(_, envelope)] = _spooled(spool)
    assert envelope.vmta == "pool-a"


async def test_incomplete_and_hidden_files_wait_until_renamed(tmp_path: Path) -> None:
    """`.tmp`, `.part` and dot-files are never read; the same file is taken once renamed."""
    pickup, spool, folder = _folder(tmp_path)
    for name in ("a.tmp", "b.part", ".c", "D.TMP"):
        (folder / name).write_bytes(_message(1))
    (folder / "sub").mkdir()
    (folder / "sub" / "e.eml").write_bytes(_message(2))
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 0
    assert spool.ids("incoming") == []
    (folder / "a.tmp").rename(folder / "a.eml")
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 1
    assert sorted(p.name for p in folder.iterdir()) == [".c", "D.TMP", "b.part", "sub"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"From: a@s.example\nTo: b@r.example\nSubject: s\n\nx\n", "no x-sender"),
        (b"x-sender: a@s.example\nTo: b@r.example\nSubject: s\n\nx\n", "no x-receiver"),
        (b"x-sender: a@s.example\nx-receiver: nobody\nSubject: s\n\nx\n", "bad x-receiver"),
        (b"x-sender: a@s.example\nx-receiver: b@r.example\n", "empty message"),
        (
            b"x-sender: a@s.example\nx-receiver: ../../../etc/passwd@example.com\nS: s\n\nx\n",
            "bad x-receiver address '../../../etc/passwd@example.com': local part starts or ends",
        ),
        (b"x-sender: a@s.example\nx-receiver: u@exa_mple.com\nS: s\n\nx\n", "underscore"),
        (b"x-sender: a@s.example\nx-receiver: u@-bad-.example\nS: s\n\nx\n", "hyphen"),
        (b"x-sender: a@s_x.example\nx-receiver: u@r.example\nS: s\n\nx\n", "bad x-sender"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "not a message"),
        (_message(1, "X-Virtual-MTA: ip-9\n"), "unknown virtual-mta 'ip-9'"),
        (b"", "empty file"),
    ],
)
async def test_bad_files_go_to_bad_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    """A file that cannot be sent moves to bad/ unchanged, with NAME.reason saying why."""
    pickup, spool, folder = _folder(tmp_path)
    _drop(folder, "m1.eml", data)
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 0
    assert (folder / "bad" / "m1.eml").read_bytes() == data
    written = (folder / "bad" / "m1.eml.reason").read_text(encoding="utf-8")
    assert reason in written
    assert written.count("\n") == 1
    assert spool.ids("incoming") == []
    assert (pickup.picked, pickup.bad) == (0, 1)


async def test_bad_dir_setting_and_name_clash(tmp_path: Path) -> None:
    """`bad-dir` is honoured; a second bad file of the same name does not overwrite the first."""
    pickup, _, folder = _folder(tmp_path, bad_dir=str(tmp_path / "rejects"))
    for round_ in range(2):
        _drop(folder, "m1.eml", f"junk {round_}\n".encode())
        await asyncio.wait_for(pickup.scan_once(), WAIT)
    kept = sorted(p.name for p in (tmp_path / "rejects").iterdir())
    assert len([n for n in kept if not n.endswith(".reason")]) == 2
    assert len([n for n in kept if n.endswith(".reason")]) == 2


async def test_oversized_file_is_bad(tmp_path: Path) -> None:
    """A file over the size limit is refused without being read into memory."""
    folder = tmp_path / "pickup"
    folder.mkdir()
    spool = Spool(tmp_path / "spool")
    pickup = PickupFolder(
        _spec(folder), SpoolSubmitter(spool), get_config=lambda: CONFIG, max_size=1000
    )
    _drop(folder, "big.eml", _message(1, "X-Pad: " + "x" * 2000 + "\n"))
    await asyncio.wait_for(pickup.scan_once(), WAIT)
    assert "limit" in (folder / "bad" / "big.eml.reason").read_text(encoding="utf-8")


async def test_symlink_is_not_followed(tmp_path: Path) -> None:
    """A symbolic link in the folder is set aside, never read through."""
    pickup, spool, folder = _folder(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes(_message(1))
    (folder / "link.eml").symlink_to(secret)
    await asyncio.wait_for(pickup.scan_once(), WAIT)
    assert spool.ids("incoming") == []
    assert "symbolic link" in (folder / "bad" / "link.eml.reason").read_text(encoding="utf-8")
    assert secret.read_bytes() == _message(1)


async def test_fifo_does_not_hang_the_scan(tmp_path: Path) -> None:
    """A named pipe in the folder is set aside without blocking on it."""
    pickup, _, folder = _folder(tmp_path)
    os.mkfifo(folder / "pipe.eml")
    _drop(folder, "m1.eml", _message(1))
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 1
    assert "not a regular file" in (folder / "bad" / "pipe.eml.reason").read_text("utf-8")


async def test_spool_failure_leaves_the_file_for_the_next_scan(tmp_path: Path) -> None:
    """When the spool raises LocalError the file stays, under its name, and is sent later."""
    full = FullSpool()
    pickup, spool, folder = _folder(tmp_path, submitter=full)
    _drop(folder, "m1.eml", _message(1))
    _drop(folder, "m2.eml", _message(2))
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 0
    assert full.calls == 1  # the scan stops at the first failure instead of trying every file
    assert sorted(p.name for p in folder.iterdir()) == ["m1.eml", "m2.eml"]
    assert (pickup.picked, pickup.bad) == (0, 0)
    retry = PickupFolder(_spec(folder), SpoolSubmitter(spool), get_config=lambda: CONFIG)
    assert await asyncio.wait_for(retry.scan_once(), WAIT) == 2


@pytest.mark.slow
async def test_running_folder_backs_off_while_the_spool_fails(tmp_path: Path) -> None:
    """A failing spool is retried once per scan interval, not in a tight loop."""
    full = FullSpool()
    pickup, _, folder = _folder(tmp_path, submitter=full, scan_interval=0.2)
    _drop(folder, "m1.eml", _message(1))
    await pickup.start()
    try:
        await _until(lambda: full.calls >= 1)
        first = full.calls
        await asyncio.sleep(1.0)  # five intervals: a tight loop would make thousands of calls
    finally:
        await asyncio.wait_for(pickup.stop(), WAIT)
    assert full.calls - first <= 10
    assert (folder / "m1.eml").exists()


async def test_unusable_bad_dir_leaves_the_file_in_place(tmp_path: Path) -> None:
    """When bad/ cannot be written, a refused file stays under its name for a later scan."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    pickup, _, folder = _folder(tmp_path, bad_dir=str(blocker / "bad"))
    _drop(folder, "junk.eml", b"junk\n")
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["junk.eml"]
    assert pickup.bad == 0


async def test_spooled_file_that_cannot_be_moved_is_never_spooled_again(tmp_path: Path) -> None:
    """If done/ fails after the spool took a file, later scans finish the move, not resubmit."""
    done = tmp_path / "done"
    done.write_text("in the way")
    pickup, spool, folder = _folder(tmp_path, delete_after_read=False, done_dir=str(done))
    _drop(folder, "m1.eml", _message(1))
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 1
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 0
    assert len(spool.ids("incoming")) == 1
    done.unlink()
    done.mkdir()
    await asyncio.wait_for(pickup.scan_once(), WAIT)
    assert (done / "m1.eml").read_bytes() == _message(1)
    assert sorted(p.name for p in folder.iterdir()) == []
    assert len(spool.ids("incoming")) == 1


async def test_leftover_processing_file_is_recovered(tmp_path: Path) -> None:
    """A `.NAME.processing` file left by a crash is read again and spooled."""
    pickup, spool, folder = _folder(tmp_path)
    (folder / ".m1.eml.processing").write_bytes(_message(1))
    (folder / ".m2.eml.processing").write_bytes(b"garbage\n")
    assert await asyncio.wait_for(pickup.scan_once(), WAIT) == 1
    assert [e.recipients for _, e in _spooled(spool)] == [["user1@example.com"]]
    assert (folder / "bad" / "m2.eml").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["bad"]


async def test_files_present_at_start_and_dropped_later_are_picked(tmp_path: Path) -> None:
    """start() takes what is already there; the observer takes a new file without the timer."""
    pickup, spool, folder = _folder(tmp_path, scan_interval=3600.0)
    _drop(folder, "early.eml", _message(1))
    await pickup.start()
    try:
        await _until(lambda: pickup.picked == 1 and pickup.scans >= 1)
        _drop(folder, "late.eml", _message(2))
        # The scan interval is an hour: only a file-system event can bring this in.
        await _until(lambda: pickup.picked == 2)
    finally:
        await asyncio.wait_for(pickup.stop(), WAIT)
    assert sorted(e.recipients[0] for _, e in _spooled(spool)) == [
        "user1@example.com",
        "user2@example.com",
    ]


async def test_files_are_taken_oldest_first(tmp_path: Path) -> None:
    """Files are spooled in the order they were written (modification time), not by name."""
    pickup, spool, folder = _folder(tmp_path)
    for n, name in enumerate(["c", "a", "b"]):
        path = _drop(folder, name, _message(n))
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
    await asyncio.wait_for(pickup.scan_once(), WAIT)
    assert [e.recipients[0] for _, e in _spooled(spool)] == [
        "user0@example.com",
        "user1@example.com",
        "user2@example.com",
    ]


@pytest.mark.slow
async def test_many_files_are_each_spooled_exactly_once(tmp_path: Path) -> None:
    """2000 files, with the observer, the timer and two manual scans racing: each spooled once."""
    folder = tmp_path / "pickup"
    folder.mkdir()
    spool = Spool(tmp_path / "spool")
    spec = _spec(folder, scan_interval=0.1)
    pickup = PickupFolder(spec, SpoolSubmitter(spool), get_config=lambda: CONFIG, batch_size=64)
    for n in range(1000):
        _drop(folder, f"m{n:04}.eml", _message(n))
    await pickup.start()
    try:
        for n in range(1000, 2000):
            _drop(folder, f"m{n:04}.eml", _message(n))
        await asyncio.wait_for(asyncio.gather(pickup.scan_once(), pickup.scan_once()), WAIT * 6)
        await _until(lambda: pickup.picked == 2000)
    finally:
        await asyncio.wait_for(pickup.stop(), WAIT)
    recipients = [e.recipients[0] for _, e in _spooled(spool)]
    assert len(recipients) == 2000
    assert set(recipients) == {f"user{n}@example.com" for n in range(2000)}
    assert sorted(p.name for p in folder.iterdir()) == ["bad"]  # start() made bad/


def test_bad_dir_must_not_be_the_folder(tmp_path: Path) -> None:
    """A bad-dir equal to the pickup folder is a config error (its files would be re-read)."""
    with pytest.raises(ConfigError, match="bad-dir must not be the pickup folder"):
        PickupFolder(_spec(tmp_path, bad_dir=str(tmp_path)), FullSpool(), get_config=lambda: CONFIG)


def test_relative_paths_are_taken_from_base(tmp_path: Path) -> None:
    """Relative folder and bad-dir paths resolve against the config directory."""
    pickup = PickupFolder(
        _spec(Path("in"), bad_dir="rejects"), FullSpool(), get_config=lambda: CONFIG, base=tmp_path
    )
    assert (pickup.folder, pickup.bad_dir) == (tmp_path / "in", tmp_path / "rejects")
    assert pickup.done_dir == tmp_path / "in" / "done"


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300) | st.builds(lambda b: _message(1) + b, st.binary(max_size=50)))
def test_arbitrary_bytes_never_crash_the_folder(data: bytes) -> None:
    """Any bytes dropped in the folder end up spooled, or in bad/ with a reason; nothing raises."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pickup, spool, folder = _folder(root)
        _drop(folder, "x.eml", data)
        submitted = asyncio.run(asyncio.wait_for(pickup.scan_once(), WAIT))
        assert not (folder / "x.eml").exists()
        if submitted:
            assert (pickup.picked, pickup.bad, len(spool.ids("incoming"))) == (1, 0, 1)
        else:
            assert (pickup.picked, pickup.bad) == (0, 1)
            assert (folder / "bad" / "x.eml").read_bytes() == data
            assert (folder / "bad" / "x.eml.reason").read_text(encoding="utf-8").strip()
