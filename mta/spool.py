"""The durable spool: a file state machine, so nothing accepted is ever lost.

States are directories; a message moves between them by ``os.replace`` (atomic
on POSIX) after its bytes are fsynced::

    tmp/ ──accept──▶ incoming/ ──claim──▶ active/ ──▶ done/      (delivered or bounced)
                        ▲                   │   ├──▶ deferred/  (retry later) ──due──▶ incoming/
                        └──recover (crash)──┘   └──▶ bad/       (poison, with why)

A message is two files: ``ID.eml`` (the raw bytes, exactly as received) and
``ID.json`` (the envelope and bookkeeping: sender, recipients, vmta, job,
attempts, crash count). No pickles. ``accept`` returns only after both files and
the directory entry are on disk — the listener answers 250 after that, never
before. On start, ``recover`` moves whatever a crash left in ``active/`` back to
``incoming/`` and counts the crash; a message that keeps crashing the worker is
moved to ``bad/`` with the reason next to it instead of looping forever.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

from mta.errors import LocalError

__all__ = ["STATES", "Envelope", "Spool", "SpoolState"]

SpoolState = Literal["tmp", "incoming", "active", "deferred", "done", "bad"]
STATES: Final[tuple[SpoolState, ...]] = ("tmp", "incoming", "active", "deferred", "done", "bad")
MAX_CRASHES: Final = 3


@dataclass(slots=True)
class Envelope:
    """Everything about a spooled message except its bytes (the JSON sidecar)."""

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class Spool:
    """A spool rooted at ``root`` (created if missing)."""

    def __init__(
        self, root: Path, *, max_crashes: int = MAX_CRASHES, keep_done: bool = True
    ) -> None:
        self.root = root
        self.max_crashes = max_crashes
        self.keep_done = keep_done
        try:
            for state in STATES:
                (root / state).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalError(f"cannot create the spool at {root}: {exc.strerror}") from exc

    def _paths(self, state: SpoolState, spool_id: str) -> tuple[Path, Path]:
        folder = self.root / state
        return folder / f"{spool_id}.eml", folder / f"{spool_id}.json"

    @staticmethod
    def new_id() -> str:
        """A fresh spool id; ids sort by time of creation."""
        return f"{time.time_ns():x}-{secrets.token_hex(4)}"

    def accept(self, raw: bytes, envelope: Envelope, spool_id: str | None = None) -> str:
        """Store a message durably in ``incoming/``; return its id (answer 250 after this)."""
        return self.accept_many([(raw, envelope, spool_id)])[0]

    def accept_many(self, items: Sequence[tuple[bytes, Envelope, str | None]]) -> list[str]:
        """Store several messages with one directory sync (group commit); all or none.

        Each file is fsynced, then renamed into ``incoming/``, which is synced once:
        a crash before that sync loses only messages whose submitter was not yet
        told they were accepted.
        """
        written: list[tuple[str, Path, Path]] = []
        try:
            for raw, envelope, given in items:
                spool_id = given or self.new_id()
                envelope.received_at = envelope.received_at or time.time()
                eml, meta = self._paths("tmp", spool_id)
                written.append((spool_id, eml, meta))
                _write(eml, raw)
                _write(meta, json.dumps(asdict(envelope)).encode("utf-8"))
            for spool_id, _, _ in written:
                self._move(spool_id, "tmp", "incoming", sync=False)
            _fsync_dir(self.root / "incoming")
        except OSError as exc:
            for spool_id, eml, meta in written:
                for leftover in (eml, meta, *self._paths("incoming", spool_id)):
                    leftover.unlink(missing_ok=True)
            raise LocalError(f"cannot spool the message: {exc.strerror or exc}") from exc
        return [spool_id for spool_id, _, _ in written]

    def _move(self, spool_id: str, src: SpoolState, dst: SpoolState, *, sync: bool = True) -> None:
        src_eml, src_meta = self._paths(src, spool_id)
        dst_eml, dst_meta = self._paths(dst, spool_id)
        # The sidecar moves first: a message is in a state once its .eml is there,
        # and recover() treats a lone sidecar as the tail of an interrupted move.
        src_meta.replace(dst_meta)
        src_eml.replace(dst_eml)
        if sync:
            _fsync_dir(self.root / dst)
            _fsync_dir(self.root / src)

    def ids(self, state: SpoolState) -> list[str]:
        """The ids in ``state``, oldest first (ids sort by time of acceptance)."""
        return sorted(p.stem for p in (self.root / state).glob("*.eml"))

    def read(self, state: SpoolState, spool_id: str) -> tuple[bytes, Envelope]:
        """The bytes and envelope of a message in ``state``."""
        eml, meta = self._paths(state, spool_id)
        return eml.read_bytes(), Envelope(**json.loads(meta.read_text(encoding="utf-8")))

    def read_bytes(self, state: SpoolState, spool_id: str) -> bytes:
        """The message bytes only."""
        return self._paths(state, spool_id)[0].read_bytes()

    def read_envelope(self, state: SpoolState, spool_id: str) -> Envelope:
        """The envelope only (what a restart needs to rebuild its queues)."""
        meta = self._paths(state, spool_id)[1]
        return Envelope(**json.loads(meta.read_text(encoding="utf-8")))

    def counts(self) -> dict[str, int]:
        """Messages per state."""
        return {state: sum(1 for _ in (self.root / state).glob("*.eml")) for state in STATES}

    def _save(self, state: SpoolState, spool_id: str, envelope: Envelope) -> None:
        _, meta = self._paths(state, spool_id)
        tmp = meta.with_suffix(".json.new")
        tmp.write_bytes(json.dumps(asdict(envelope)).encode("utf-8"))
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(meta)

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

    def finish(self, spool_id: str) -> None:
        """Delivered or bounced for good: ``active/`` → ``done/`` (or removed, without
        ``keep_done``)."""
        if self.keep_done:
            self._move(spool_id, "active", "done")
            return
        for path in self._paths("active", spool_id):
            path.unlink(missing_ok=True)
        _fsync_dir(self.root / "active")

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
        _, envelope = self.read("active", spool_id)
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
            _, envelope = self.read("deferred", spool_id)
            if envelope.next_attempt <= now:
                self._move(spool_id, "deferred", "incoming")
                moved.append(spool_id)
        return moved

    def quarantine(self, spool_id: str, state: SpoolState, reason: str) -> None:
        """A poison message: move it to ``bad/`` and write why beside it."""
        _, envelope = self.read(state, spool_id)
        envelope.reason = reason
        self._save(state, spool_id, envelope)
        self._move(spool_id, state, "bad")
        (self.root / "bad" / f"{spool_id}.reason").write_text(reason + "\n", encoding="utf-8")

    def recover(self) -> tuple[int, int]:
        """After a crash: finish interrupted moves, return ``active/`` to ``incoming/``.

        Returns (messages requeued, messages quarantined as poison).
        """
        for state in STATES[1:]:
            for meta in (self.root / state).glob("*.json"):
                if not meta.with_suffix(".eml").exists():
                    self._complete_move(meta)
        for leftover in (self.root / "tmp").iterdir():
            leftover.unlink()  # never acknowledged: the client was not told 250
        requeued = poisoned = 0
        for spool_id in self.ids("active"):
            _, envelope = self.read("active", spool_id)
            envelope.crashes += 1
            self._save("active", spool_id, envelope)
            if envelope.crashes >= self.max_crashes:
                self.quarantine(spool_id, "active", f"crashed the worker {envelope.crashes} times")
                poisoned += 1
            else:
                self._move(spool_id, "active", "incoming")
                requeued += 1
        return requeued, poisoned

    def _complete_move(self, meta: Path) -> None:
        """A sidecar without its .eml: the move was cut between the two renames."""
        for state in STATES:
            eml = self.root / state / f"{meta.stem}.eml"
            if eml.exists():
                eml.replace(meta.with_suffix(".eml"))
                return
        meta.unlink()  # its message never reached incoming/: it was never acknowledged
