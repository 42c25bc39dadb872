"""The durable spool: a file state machine, so nothing accepted is ever lost.

States are directories; a message moves between them by ``os.replace`` (atomic
on POSIX) after its bytes are fsynced::

    tmp/ ──accept──▶ incoming/ ──take──▶ active/ ──▶ done/      (delivered or bounced)
                        ▲                  │   ├──▶ deferred/  (retry later) ──due──▶ incoming/
                        └─recover (crash)──┘   └──▶ bad/       (poison, with why)

A message is one file, ``ID.msg``: one line of JSON (the envelope and
bookkeeping: sender, recipients, vmta, job, attempts, crash count — no
pickles — plus the size and CRC-32 of the bytes), then the raw bytes exactly
as received. One file means one rename per move, so a move can never be half
done. ``accept`` returns only after the file's bytes and its directory entry
in ``incoming/`` are on disk — the listener answers 250 after that, never
before. To pay for one journal commit per accept rather than two, the file is
written into ``tmp/``, renamed into ``incoming/`` and only then synced (the
file, then the directory: on ext4 and XFS the file's sync commits the rename
with it and the directory's costs only a flush); ``accept_many`` does that
for a whole batch (group commit), the files' syncs side by side so the
journal commits them together. A crash between the rename and the sync can
leave a file in ``incoming/`` whose bytes never reached the disk — its
client was never answered — so ``recover`` checks each incoming file's size
against its envelope line and moves a torn one to ``bad/``; reading a message
checks its CRC.

On start, ``recover`` moves whatever a crash left in ``active/`` back to
``incoming/`` and counts the crash; a message that keeps crashing the worker
is moved to ``bad/`` with the reason next to it instead of looping forever.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import secrets
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

from mta.errors import LocalError

__all__ = ["STATES", "CorruptMessageError", "Envelope", "Spool", "SpoolState"]

log = logging.getLogger("mta.spool")

SpoolState = Literal["tmp", "incoming", "active", "deferred", "done", "bad"]
STATES: Final[tuple[SpoolState, ...]] = ("tmp", "incoming", "active", "deferred", "done", "bad")
MAX_CRASHES: Final = 3
SUFFIX: Final = ".msg"

# Ids sort by time of acceptance; the node part and a counter keep them unique
# without asking the OS for randomness per message.
_NODE = secrets.token_hex(3)
_SEQUENCE = itertools.count()

# The envelope line's integrity fields (absent from files written before they existed).
_SIZE: Final = "_size"
_CRC: Final = "_crc32"
TORN_REASON: Final = (
    "incomplete file: a crash cut it short while it was being accepted "
    "(its client was never answered 250)"
)

# Syncs of one batch run side by side: the journal commits concurrent syncs together.
_SYNCERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="spool-sync")


class CorruptMessageError(LocalError):
    """A spooled file's bytes do not match its envelope line (size or CRC-32)."""


def _new_node() -> None:
    """A forked process (``smtp-workers``) names its messages apart from its parent's."""
    global _NODE  # the process's identity, set once per process
    _NODE = secrets.token_hex(3)


os.register_at_fork(after_in_child=_new_node)


@dataclass(slots=True)
class Envelope:
    """Everything about a spooled message except its bytes (the file's first line)."""

    sender: str
    recipients: list[str]
    vmta: str | None = None
    job_id: str | None = None
    received_at: float = 0.0
    attempts: int = 0
    crashes: int = 0
    next_attempt: float = 0.0
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(raw: bytes, envelope: Envelope) -> bytes:
    # json.dumps escapes control characters, so the envelope is exactly one line.
    head = asdict(envelope)
    head[_SIZE], head[_CRC] = len(raw), zlib.crc32(raw)
    return json.dumps(head, separators=(",", ":")).encode("utf-8") + b"\n" + raw


def _decode_head(line: bytes) -> tuple[Envelope, int | None, int | None]:
    """The envelope and the declared (size, CRC-32) of the bytes after it (None: not given)."""
    head = json.loads(line)
    size, crc = head.pop(_SIZE, None), head.pop(_CRC, None)
    return Envelope(**head), size, crc


_DSYNC: Final = getattr(os, "O_DSYNC", 0)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write(path: Path, data: bytes, *, exclusive: bool = True) -> None:
    """Write and sync ``data`` in as few system calls as possible (each one is a GIL
    hand-off when the event loop is busy): O_DSYNC makes the write itself durable."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC) | _DSYNC
    fd = os.open(path, flags, 0o640)
    try:
        _write_all(fd, data)
        if not _DSYNC:  # pragma: no cover - every POSIX system we run on has O_DSYNC
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_unsynced(path: str, data: bytes) -> int:
    """Create ``path`` with ``data`` and return its open descriptor (the caller syncs it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sync_all(fds: Sequence[int]) -> None:
    """fdatasync every descriptor; several side by side, so one journal commit takes them all."""
    if len(fds) == 1:
        os.fdatasync(fds[0])
        return
    for _ in _SYNCERS.map(os.fdatasync, fds):
        pass  # map re-raises a failed sync here


class Spool:
    """A spool rooted at ``root`` (created if missing).

    ``keep_done`` keeps finished messages in ``done/`` (for inspection); without
    it they are removed, as PowerMTA does.
    """

    def __init__(
        self, root: Path, *, max_crashes: int = MAX_CRASHES, keep_done: bool = True
    ) -> None:
        self.root = root
        self.max_crashes = max_crashes
        self.keep_done = keep_done
        self.poisoned: list[tuple[str, Envelope]] = []  # what the last recover() quarantined
        # Each state's directory as a string ending in a separator: the per-message
        # paths of the hot path (accept, take, read, finish) are then one string
        # concatenation, not a pathlib parse (several per message, profiled).
        self._dirs: dict[SpoolState, str] = {state: f"{root / state}{os.sep}" for state in STATES}
        try:
            for state in STATES:
                (root / state).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalError(f"cannot create the spool at {root}: {exc.strerror}") from exc

    def path(self, state: SpoolState, spool_id: str) -> Path:
        """Where message ``spool_id`` lives in ``state``."""
        return self.root / state / f"{spool_id}{SUFFIX}"

    def _file(self, state: SpoolState, spool_id: str) -> str:
        """:meth:`path` as a string, cheaply (for the per-message system calls)."""
        return self._dirs[state] + spool_id + SUFFIX

    @staticmethod
    def new_id() -> str:
        """A fresh spool id; ids sort by time of creation."""
        return f"{time.time_ns():x}-{_NODE}{next(_SEQUENCE) & 0xFFFFF:05x}"

    # -- accepting -----------------------------------------------------------------------

    def accept(self, raw: bytes, envelope: Envelope, spool_id: str | None = None) -> str:
        """Store a message durably in ``incoming/``; return its id (answer 250 after this)."""
        return self.accept_many([(raw, envelope, spool_id)])[0]

    def accept_many(self, items: Sequence[tuple[bytes, Envelope, str | None]]) -> list[str]:
        """Store several messages with one directory sync (group commit); all or none.

        Each file is written into ``tmp/`` and renamed into ``incoming/``; then the
        files are synced side by side and ``incoming/`` once. Only then does this
        return: a crash before it loses only messages whose submitter was not yet
        told they were accepted (a file it leaves torn in ``incoming/`` is found by
        :meth:`recover`).
        """
        written: list[str] = []
        fds: list[int] = []
        try:
            for raw, envelope, given in items:
                spool_id = given or self.new_id()
                envelope.received_at = envelope.received_at or time.time()
                written.append(spool_id)
                fds.append(_write_unsynced(self._file("tmp", spool_id), _encode(raw, envelope)))
            for spool_id in written:
                self._move(spool_id, "tmp", "incoming", sync=False)
            _sync_all(fds)
            _fsync_dir(self._dirs["incoming"])
        except OSError as exc:
            for spool_id in written:
                for state in ("tmp", "incoming"):
                    self.path(state, spool_id).unlink(missing_ok=True)
            raise LocalError(f"cannot spool the message: {exc.strerror or exc}") from exc
        finally:
            for fd in fds:
                os.close(fd)
        return written

    # -- reading -------------------------------------------------------------------------

    def ids(self, state: SpoolState) -> list[str]:
        """The ids in ``state``, oldest first (ids sort by time of acceptance)."""
        return sorted(
            p.name[: -len(SUFFIX)] for p in os.scandir(self.root / state) if p.name.endswith(SUFFIX)
        )

    def read(self, state: SpoolState, spool_id: str) -> tuple[bytes, Envelope]:
        """The bytes and envelope of a message in ``state``.

        Raises :class:`CorruptMessageError` when the bytes are not those the
        envelope line describes (size and CRC-32).
        """
        with open(self._file(state, spool_id), "rb") as f:  # noqa: PTH123 - hot path, a str
            head, _, raw = f.read().partition(b"\n")
        try:
            envelope, size, crc = _decode_head(head)
        except (ValueError, TypeError) as exc:
            raise CorruptMessageError(f"{state}/{spool_id}: unreadable envelope line") from exc
        if (size is not None and size != len(raw)) or (crc is not None and crc != zlib.crc32(raw)):
            raise CorruptMessageError(f"{state}/{spool_id}: the bytes do not match the envelope")
        return raw, envelope

    def read_bytes(self, state: SpoolState, spool_id: str) -> bytes:
        """The message bytes only."""
        return self.read(state, spool_id)[0]

    def read_envelope(self, state: SpoolState, spool_id: str) -> Envelope:
        """The envelope only (what a restart needs to rebuild its queues)."""
        with self.path(state, spool_id).open("rb") as f:
            return _decode_head(f.readline())[0]

    def is_torn(self, state: SpoolState, spool_id: str) -> bool:
        """Whether the file is shorter or longer than its envelope line says (or has none).

        Only a crash between an accept's rename and its sync leaves one such (its
        client was never answered); a file written before sizes were recorded passes.
        """
        try:
            with self.path(state, spool_id).open("rb") as f:
                line = f.readline()
                _, size, _ = _decode_head(line)
                return size is not None and os.fstat(f.fileno()).st_size != len(line) + size
        except (ValueError, TypeError):
            return True

    def counts(self) -> dict[str, int]:
        """Messages per state."""
        return {
            state: sum(1 for p in os.scandir(self.root / state) if p.name.endswith(SUFFIX))
            for state in STATES
        }

    # -- moving --------------------------------------------------------------------------

    def _move(self, spool_id: str, src: SpoolState, dst: SpoolState, *, sync: bool = True) -> None:
        os.replace(self._file(src, spool_id), self._file(dst, spool_id))  # noqa: PTH105 - hot path
        if sync:
            _fsync_dir(self._dirs[dst])
            _fsync_dir(self._dirs[src])

    def _save(self, state: SpoolState, spool_id: str, envelope: Envelope) -> None:
        """Rewrite a message's envelope (tmp file, fsync, rename over the old one)."""
        raw, _ = self.read(state, spool_id)
        target = self.path(state, spool_id)
        scratch = target.with_suffix(".new")
        try:
            _write(scratch, _encode(raw, envelope), exclusive=False)
            scratch.replace(target)
        except OSError:
            # A full disk: the old file still stands; leave no half-written copy behind.
            scratch.unlink(missing_ok=True)
            raise

    def claim(self) -> Iterator[str]:
        """Move incoming messages to ``active/`` one by one and yield their ids."""
        for spool_id in self.ids("incoming"):
            try:
                self._move(spool_id, "incoming", "active")
            except FileNotFoundError:
                continue  # another worker took it
            yield spool_id

    def take(self, spool_id: str) -> bool:
        """Claim one message for delivery: ``incoming/`` → ``active/``; False if it is gone.

        Not synced: if a crash forgets the move, the message is simply still in
        ``incoming/`` (delivered again, never lost) — only crash counting misses it.
        """
        try:
            self._move(spool_id, "incoming", "active", sync=False)
        except FileNotFoundError:
            return False
        return True

    def requeue(self, spool_id: str) -> None:
        """Give a claimed message back: ``active/`` → ``incoming/`` (e.g. at shutdown)."""
        self._move(spool_id, "active", "incoming", sync=False)

    def finish(self, spool_id: str, *, sync: bool = True) -> None:
        """Delivered or bounced for good: ``active/`` → ``done/`` (or removed, without
        ``keep_done``).

        ``sync=False`` leaves the directory sync to a later :meth:`sync_active` (the
        delivery engine syncs once a second): a power loss in between can only
        deliver a message twice, never lose one.
        """
        if self.keep_done:
            self._move(spool_id, "active", "done", sync=sync)
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._file("active", spool_id))  # noqa: PTH108 - hot path
        if sync:
            _fsync_dir(self._dirs["active"])

    def sync_active(self) -> None:
        """Make finished messages' removal from ``active/`` durable."""
        _fsync_dir(self.root / "active")
        if self.keep_done:
            _fsync_dir(self.root / "done")

    def defer(
        self,
        spool_id: str,
        next_attempt: float,
        reason: str,
        recipients: Sequence[str] | None = None,
    ) -> Envelope:
        """Retry later: ``active/`` → ``deferred/`` with the attempt counted.

        ``recipients`` narrows the envelope to those still to be tried (the others
        were delivered or bounced in this attempt). Returns the saved envelope.
        """
        envelope = self.read_envelope("active", spool_id)
        envelope.attempts += 1
        envelope.next_attempt = next_attempt
        envelope.reason = reason
        if recipients is not None:
            envelope.recipients = list(recipients)
        self._save("active", spool_id, envelope)
        self._move(spool_id, "active", "deferred")
        return envelope

    def release(self, spool_id: str) -> bool:
        """A deferred message's time has come: ``deferred/`` → ``incoming/``."""
        try:
            self._move(spool_id, "deferred", "incoming", sync=False)
        except FileNotFoundError:
            return False
        return True

    def release_due(self, now: float) -> list[str]:
        """Move deferred messages whose time has come back to ``incoming/``."""
        moved = []
        for spool_id in self.ids("deferred"):
            if self.read_envelope("deferred", spool_id).next_attempt <= now:
                self._move(spool_id, "deferred", "incoming")
                moved.append(spool_id)
        return moved

    def quarantine(self, spool_id: str, state: SpoolState, reason: str) -> None:
        """A poison message: move it to ``bad/`` and write why beside it."""
        envelope = self.read_envelope(state, spool_id)
        envelope.reason = reason
        self._save(state, spool_id, envelope)
        self.bury(spool_id, state, reason)

    def bury(self, spool_id: str, state: SpoolState, reason: str) -> None:
        """Move a file to ``bad/`` as it is (it may not be readable) and write why beside it."""
        self._move(spool_id, state, "bad")
        (self.root / "bad" / f"{spool_id}.reason").write_text(reason + "\n", encoding="utf-8")

    def recover(self) -> tuple[int, int]:
        """After a crash: drop unacknowledged files, return ``active/`` to ``incoming/``.

        Returns (messages requeued, messages quarantined as poison).
        """
        for leftover in (self.root / "tmp").iterdir():
            leftover.unlink()  # never acknowledged: the client was not told 250
        for state in STATES[1:]:
            for scratch in (self.root / state).glob("*.new"):
                scratch.unlink()  # an envelope rewrite cut short: the old file still stands
        torn = [i for i in self.ids("incoming") if self.is_torn("incoming", i)]
        for spool_id in torn:
            self.bury(spool_id, "incoming", TORN_REASON)
        if torn:
            log.warning("spool recovery: %d torn file(s) moved to bad/: %s", len(torn), TORN_REASON)
        requeued = poisoned = 0
        self.poisoned = []
        for spool_id in self.ids("active"):
            envelope = self.read_envelope("active", spool_id)
            envelope.crashes += 1
            self._save("active", spool_id, envelope)
            if envelope.crashes >= self.max_crashes:
                self.quarantine(spool_id, "active", f"crashed the worker {envelope.crashes} times")
                self.poisoned.append((spool_id, envelope))
                poisoned += 1
            else:
                self._move(spool_id, "active", "incoming")
                requeued += 1
        return requeued, poisoned
