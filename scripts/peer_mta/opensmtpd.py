"""OpenSMTPD as a peer MTA: ``smtpd.conf`` relays each domain to its loopback port.

Debian's ``opensmtpd`` is unpacked alone; the accounts its maintainer script
would create (``opensmtpd``, ``opensmtpq``) are created in the
prefix's ``/etc`` only. Every domain of the capture has an ``action … relay
host smtp://127.0.0.1:PORT`` (no MX lookup), ``queue ttl`` makes a deferred
message expire within seconds, and ``smtpctl schedule all`` asks the queue to
retry now rather than after its own back-off, so the expiry is noticed.

Wire format of what it returns (``Delivery status notification: error``)::

    Hi!

    This is the MAILER-DAEMON, please DO NOT REPLY to this email.

    An error has occurred while attempting to deliver a message for
    the following list of recipients:

    unknown.user@example.net: 550 5.1.1 <unknown.user@example.net>: Recipient address rej…
"""

from __future__ import annotations

import threading
import time

from scripts.peer_mta._submit import (
    HOSTNAME,
    QUEUE_LIFETIME,
    SENDER,
    Ports,
    Sender,
    smtp_send,
    write_etc,
)
from scripts.peer_mta.prefix import Namespace

__all__ = ["PACKAGES", "make_conf", "setup", "stop"]

PACKAGES = ("opensmtpd",)
SMTPD = "/usr/sbin/smtpd"
SMTPCTL = "/usr/sbin/smtpctl"


def make_conf(ports: Ports, *, hostname: str, queue_lifetime: int) -> str:
    """``smtpd.conf``: listen on ``ports.mta``; each capture domain to its loopback port."""
    routes = {
        "example.net": ports.sim,
        "sender.example.org": ports.sim,
        "slow.example.net": ports.silent,
        "down.example.net": ports.closed,
    }
    lines = [
        "# acctpipe real-MTA capture: generated, do not edit",
        f"queue ttl {queue_lifetime}s",
        "bounce warn-interval 2s",
        f"listen on 127.0.0.1 port {ports.mta} hostname {hostname}",
    ]
    for i, port in enumerate(routes.values()):
        lines.append(f'action "route{i}" relay host smtp://127.0.0.1:{port} helo {hostname}')
    for i, domain in enumerate(routes):
        lines.append(f'match from any for domain "{domain}" action "route{i}"')
    return "\n".join(lines) + "\n"


def setup(ns: Namespace, ports: Ports, *, queue_lifetime: int = QUEUE_LIFETIME) -> Sender:
    """Configure and start smtpd; a thread keeps asking it to retry deferred mail."""
    ns.ensure_user("opensmtpd", home="/var/lib/opensmtpd/empty")  # as the postinst would
    ns.ensure_user("opensmtpq", home="/var/lib/opensmtpd/empty")
    write_etc(ns, HOSTNAME)
    ns.write("/etc/mailname", HOSTNAME + "\n")
    ns.write("/etc/smtpd.conf", make_conf(ports, hostname=HOSTNAME, queue_lifetime=queue_lifetime))
    ns.run(["sh", "-c", "rm -rf /var/spool/smtpd && mkdir -p /var/lib/opensmtpd/empty"])
    ns.run([SMTPD, "-n", "-f", "/etc/smtpd.conf"])  # the configuration parses
    ns.run([SMTPD, "-f", "/etc/smtpd.conf"])
    _Retrier(ns).start()
    return lambda scenario, data: smtp_send(ports.mta, SENDER, scenario.rcpts, data)


class _Retrier(threading.Thread):
    """``smtpctl schedule all`` every second, until the namespace goes away."""

    def __init__(self, ns: Namespace) -> None:
        super().__init__(daemon=True, name="opensmtpd-retrier")
        self.ns = ns

    def run(self) -> None:
        while True:
            time.sleep(1.0)
            try:
                self.ns.run([SMTPCTL, "schedule", "all"], check=False, timeout=10)
            except Exception:  # noqa: BLE001 - the namespace closed: nothing left to schedule
                return


def stop(ns: Namespace) -> None:
    """Stop smtpd (the namespace kills any straggler on close)."""
    ns.run([SMTPCTL, "stop"], check=False)
