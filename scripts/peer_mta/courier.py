"""The Courier mail server as a peer MTA: ``esmtproutes`` sends each domain to its port.

Debian's ``courier-mta`` and ``courier-base`` are unpacked with
``courier-authlib`` (its ``libcourierauth`` is linked by every Courier binary);
the ``courier`` account of the maintainer script is created in the prefix's
``/etc`` only, and the spool under ``/var/lib/courier`` is given to it. The
configuration is a handful of one-line control files in ``/etc/courier``:
``me``, ``esmtproutes`` (``domain: [127.0.0.1],PORT``, no MX lookup),
``queuetime`` (seconds) and a fast retry schedule (``retryalpha`` …). Messages
are submitted with Courier's own ``sendmail``; ``courierd`` runs the queue.

Wire format of what it returns (``NOTICE: mail delivery status.``)::

    This is a delivery status notification from mta.sender.example.org,
    running the Courier mail server, version 1.0.16.
    ...
    <unknown.user@example.net>:
        127.0.0.1 [127.0.0.1]:
    >>> RCPT TO:<unknown.user@example.net>
    <<< 550 5.1.1 <unknown.user@example.net>: Recipient address rejected: User unknown
"""

from __future__ import annotations

import subprocess

from scripts.peer_mta._submit import (
    HOSTNAME,
    QUEUE_LIFETIME,
    SENDER,
    Ports,
    Sender,
    _Scenario,
    write_etc,
)
from scripts.peer_mta.prefix import Namespace, PrefixError

__all__ = ["PACKAGES", "control_files", "setup", "stop"]

PACKAGES = ("courier-mta", "courier-base", "courier-authlib")
ETC = "/etc/courier"
SPOOL = "/var/lib/courier"
COURIERD = "/usr/lib/courier/courier/courierd"


def control_files(ports: Ports, *, hostname: str, queue_lifetime: int) -> dict[str, str]:
    """The files written to ``/etc/courier`` (name → contents)."""
    routes = {
        "example.net": ports.sim,
        "sender.example.org": ports.sim,
        "slow.example.net": ports.silent,
        "down.example.net": ports.closed,
    }
    return {
        "me": hostname + "\n",
        "defaultdomain": hostname + "\n",
        "locals": "localhost\n",
        "esmtproutes": "".join(f"{d}: [127.0.0.1],{p}\n" for d, p in routes.items()),
        "queuetime": f"{queue_lifetime}s\n",
        "retryalpha": "1s\n",
        "retrybeta": "1\n",
        "retrygamma": "1s\n",
        "retrymaxdelta": "1\n",
        "esmtpdelay": "1s\n",
        "esmtptimeoutconnect": "5s\n",
        "esmtptimeouthelo": "5s\n",
        "queuefill": "1\n",
        "warntime": "2s\n",  # a delay warning before the message is returned
    }


def setup(ns: Namespace, ports: Ports, *, queue_lifetime: int = QUEUE_LIFETIME) -> Sender:
    """Write the control files, start courierd; messages go in through Courier's sendmail."""
    ns.ensure_user("courier", home=SPOOL)
    write_etc(ns, HOSTNAME)
    for name, text in control_files(
        ports, hostname=HOSTNAME, queue_lifetime=queue_lifetime
    ).items():
        ns.write(f"{ETC}/{name}", text)
    ns.run(["sh", "-c", f"cd {SPOOL} && rm -rf msgq/* msgs/* tmp/* track/* sts/* && "
                        f"mkdir -p msgq msgs tmp track sts filters allfilters && "
                        f"echo 0 > sts/.cache_size && "  # no MTA-STS: no DNS query, no wget
                        f"chown -R courier:courier {SPOOL} && chmod 750 {SPOOL}"])  # fmt: skip
    ns.run(["/usr/sbin/makealiases"], check=False)
    # courierd keeps the descriptors it was given: none may be a pipe we wait on
    ns.run(["/usr/lib/courier/courierctl.start"], stdout=subprocess.DEVNULL,
           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=30)  # fmt: skip

    def send(scenario: _Scenario, data: bytes) -> None:
        argv = ["/usr/sbin/sendmail", "-f", SENDER, "--", *scenario.rcpts]
        proc = ns.run(argv, input=data, text=False, check=False, timeout=60)
        if proc.returncode != 0:
            stderr: bytes = proc.stderr or b""  # type: ignore[assignment]  # text=False: bytes
            err = stderr.decode("utf-8", "replace").strip()
            raise PrefixError(f"courier: sendmail exited {proc.returncode}: {err}")

    return send


def stop(ns: Namespace) -> None:
    """Stop courierd (the namespace kills any straggler on close)."""
    ns.run(["/usr/sbin/courier", "stop"], check=False)
