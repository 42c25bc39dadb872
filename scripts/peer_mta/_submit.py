"""Helpers the Sendmail, OpenSMTPD and Courier peers share (kept apart from ``capture``).

``capture`` imports the peers; the peers import only this module and
``prefix``, so neither import order nor a cycle matters.
"""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from scripts.peer_mta.prefix import Namespace

__all__ = ["HOSTNAME", "QUEUE_LIFETIME", "SENDER", "Ports", "Sender", "smtp_send", "write_etc"]

SENDER = "bounces@sender.example.org"
HOSTNAME = "mta.sender.example.org"
QUEUE_LIFETIME = 6
"""Seconds a deferred message waits before the MTA returns it (greylisting, timeouts)."""


class _Scenario(Protocol):
    @property
    def rcpts(self) -> tuple[str, ...]: ...


class Ports(Protocol):
    """The loopback ports of one capture run (``scripts.peer_mta.capture.Ports``)."""

    @property
    def sim(self) -> int: ...
    @property
    def silent(self) -> int: ...
    @property
    def closed(self) -> int: ...
    @property
    def mta(self) -> int: ...


Sender = Callable[[_Scenario, bytes], None]


def write_etc(ns: Namespace, hostname: str) -> None:
    """A resolver that never leaves loopback, and hosts naming this machine ``hostname``.

    Sendmail and Courier look their own name up at start; with the host's
    resolver that query would leave the machine.
    """
    ns.write("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    ns.write(
        "/etc/hosts",
        f"127.0.0.1\tlocalhost {hostname} {socket.gethostname()}\n::1\tlocalhost ip6-localhost\n",
    )


def smtp_send(
    port: int, sender: str, rcpts: Sequence[str], data: bytes, *, wait: float = 20.0
) -> None:
    """Submit one message to the peer's loopback listener, retrying while it starts."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.sendmail(sender, list(rcpts), data)
            return
        except (OSError, smtplib.SMTPServerDisconnected):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
