"""Helpers the Sendmail, OpenSMTPD and Courier peers share (kept apart from ``capture``).

``capture`` imports the peers; the peers import only this module and
``prefix``, so neither import order nor a cycle matters.
"""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Callable
from typing import Protocol

from scripts.peer_mta.prefix import Namespace

__all__ = ["HOSTNAME", "QUEUE_LIFETIME", "SENDER", "Sender", "put", "smtp_send", "write_etc"]

SENDER = "bounces@sender.example.org"
HOSTNAME = "mta.sender.example.org"
QUEUE_LIFETIME = 6
"""Seconds a deferred message waits before the MTA returns it (greylisting, timeouts)."""


class _Scenario(Protocol):
    @property
    def rcpt(self) -> str: ...


Sender = Callable[[_Scenario, bytes], None]


def put(ns: Namespace, path: str, text: str) -> None:
    """Write ``text`` to ``path`` as the namespace sees it (the prefix's overlay, never the host)."""
    ns.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "put", path], input=text)


def write_etc(ns: Namespace, hostname: str) -> None:
    """A resolver that never leaves loopback, and hosts naming this machine ``hostname``.

    Sendmail and Courier look their own name up at start; with the host's
    resolver that query would leave the machine.
    """
    put(ns, "/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    put(
        ns,
        "/etc/hosts",
        f"127.0.0.1\tlocalhost {hostname} {socket.gethostname()}\n::1\tlocalhost ip6-localhost\n",
    )


def smtp_send(port: int, sender: str, rcpt: str, data: bytes, *, wait: float = 20.0) -> None:
    """Submit one message to the peer's loopback listener, retrying while it starts."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.sendmail(sender, [rcpt], data)
            return
        except (OSError, smtplib.SMTPServerDisconnected):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
