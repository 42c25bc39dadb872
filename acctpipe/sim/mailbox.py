"""Where accepted mail goes: the last N messages in memory, and optionally a Maildir.

Messages are kept byte for byte as received (so a DKIM signature can be checked
later). The optional directory follows the Maildir convention: each message is
written to ``tmp/`` and renamed into ``new/``, so a reader never sees half a
file; the file starts with the ``Return-Path`` a delivering MTA would add.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MessageStore", "ReceivedMessage"]


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One accepted message: envelope, raw content and where it came from."""

    queue_id: str
    peer_ip: str
    mail_from: str  # "" for the null reverse-path <>
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float  # time.time()
    tls: bool


class MessageStore:
    """A bounded, thread-safe store of accepted messages, optionally mirrored to a Maildir."""

    def __init__(self, keep: int = 1000, maildir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._messages: deque[ReceivedMessage] = deque(maxlen=keep)
        self.maildir = maildir
        if maildir is not None:
            for sub in ("tmp", "new", "cur"):
                (maildir / sub).mkdir(parents=True, exist_ok=True)

    def add(self, message: ReceivedMessage, hostname: str) -> Path | None:
        """Keep ``message``; with a Maildir, also write it there and return its path."""
        with self._lock:
            self._messages.append(message)
        if self.maildir is None:
            return None
        name = f"{int(message.received_at)}.{message.queue_id}.{hostname}"
        tmp = self.maildir / "tmp" / name
        final = self.maildir / "new" / name
        with tmp.open("wb") as fh:
            fh.write(f"Return-Path: <{message.mail_from}>\r\n".encode())
            fh.write(message.data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(final)
        return final

    def messages(self) -> list[ReceivedMessage]:
        """The kept messages, oldest first."""
        with self._lock:
            return list(self._messages)

    def for_recipient(self, rcpt: str) -> list[ReceivedMessage]:
        """The kept messages addressed (in the envelope) to ``rcpt``."""
        want = rcpt.lower()
        return [m for m in self.messages() if want in (r.lower() for r in m.rcpt_tos)]

    def clear(self) -> None:
        """Forget the kept messages (the Maildir is left alone)."""
        with self._lock:
            self._messages.clear()
