"""Capture the returned mail real MTAs write, for the classifier corpus (issue 15).

Each peer MTA (Postfix, Exim, dma, Sendmail, OpenSMTPD, Courier) is unpacked into a
private prefix (:mod:`scripts.peer_mta.prefix`), configured to relay only to loopback and to
give up on a deferred message within seconds, and sent one message per
scenario. The receiver is the project's ISP simulator answering with scripted
failures by recipient local part; the sender's domain routes back to the same
simulator, where the MTA's bounce (null sender) is kept byte for byte and saved
as ``tests/data/mail/<mta>-real/<scenario>.eml``. Nothing is normalised.

Routing (no DNS is ever consulted):

* ``example.net`` → the simulator (every scripted failure, the returned mail too);
* ``slow.example.net`` → a socket that accepts and never greets (timeout);
* ``down.example.net`` → a closed loopback port (connection refused).

Run as root: ``scripts/capture-returns [postfix|exim|dma|sendmail|opensmtpd|courier ...]``.
"""

from __future__ import annotations

import argparse
import re
import smtplib
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from acctpipe.sim import IspProfile, ThreadedIspSimulator
from acctpipe.sim.profile import Replies
from scripts.peer_mta import courier, opensmtpd, postfix, sendmail
from scripts.peer_mta.prefix import REPO, Namespace, Prefix, unpack

__all__ = ["DRIVERS", "MTAS", "SCENARIOS", "Driver", "Scenario", "capture", "main"]

SENDER = "bounces@sender.example.org"
OUT = REPO / "tests" / "data" / "mail"


@dataclass(frozen=True)
class Scenario:
    """One failure: the recipient that provokes it and whether the MTA must wait for expiry."""

    name: str
    rcpts: tuple[str, ...]
    expires: bool = False  # a temporary failure: the bounce comes when the queue lifetime ends
    warn: bool = False  # also keep the MTA's delay warning, where it sends one

    def captures(self, driver: Driver) -> tuple[str, ...]:
        """The file stems this scenario yields with ``driver``."""
        if self.warn and driver.warnings:
            return (self.name, f"{self.name}-delay-warning")
        return (self.name,)


SCENARIOS = (
    Scenario("unknown-user", ("unknown.user@example.net",)),
    Scenario("mailbox-full", ("full.mailbox@example.net",)),
    Scenario("blocked-ip", ("blocked.ip@example.net",)),
    Scenario("policy-rejection", ("policy.reject@example.net",)),
    Scenario("content-rejection", ("content.reject@example.net",)),
    Scenario("greylisted-expired", ("greylist.forever@example.net",), expires=True, warn=True),
    Scenario("mailbox-full-expired", ("quota.later@example.net",), expires=True),
    Scenario("unverified-expired", ("unverified.user@example.net",), expires=True),
    Scenario("timeout", ("nobody@slow.example.net",), expires=True),
    Scenario("unreachable", ("nobody@down.example.net",), expires=True),
    # Refusals of us rather than of the recipient (issue 15's "whose fault").
    Scenario("sender-rejected", ("sender.check@example.net",)),
    Scenario("helo-rejected", ("helo.check@example.net",)),
    Scenario("dmarc-rejected", ("dmarc.check@example.net",)),
    Scenario("message-too-large", ("toolarge.message@example.net",)),
    # One transaction, three refusals: one returned message listing them all.
    Scenario("three-recipients",
             ("unknown.three@example.net", "full.three@example.net", "policy.three@example.net")),
)  # fmt: skip

PROFILE = IspProfile(
    "returns",
    hostname="mx.example.net",
    replies=Replies(mailbox_full="552 5.2.2 <{rcpt}>: Mailbox full, quota exceeded"),
    rcpt_replies=(
        ("blocked*",
         "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org"),
        ("policy*", "550 5.7.1 <{rcpt}>: Recipient address rejected: Access denied by policy"),
        ("greylist*",
         "451 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, try again later"),
        ("quota*", "452 4.2.2 <{rcpt}>: Mailbox full, try again later"),
        # Postfix's reject_unverified_recipient with its default 450 code.
        ("unverified*", "450 4.1.1 <{rcpt}>: Recipient address rejected: unverified address:"
                        " User unknown in virtual mailbox table"),
        # As Postfix's smtpd gives its sender and HELO restrictions: at RCPT TO.
        ("sender*", "553 5.1.8 <{sender}>: Sender address rejected: Domain not found"),
        ("helo*",
         "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"),
    ),
    data_replies=(
        ("content*", "554 5.7.1 Message rejected: content policy violation (spam)"),
        ("dmarc*", "550 5.7.26 Unauthenticated email from sender.example.org is not accepted"
                   " due to domain's DMARC policy"),
        ("toolarge*", "552 5.3.4 Message size exceeds fixed maximum message size"),
    ),
    starttls=False,
)  # fmt: skip


def message(scenario: Scenario, mta: str) -> bytes:
    """The original: fixed headers (with our own X-Acctpipe-* ids) and a short body.

    As our MTA does, X-Acctpipe-Rcpt is stamped only on a single-recipient message.
    """
    rcpt_header = f"X-Acctpipe-Rcpt: {scenario.rcpts[0]}\r\n" if len(scenario.rcpts) == 1 else ""
    return (
        f"From: Newsletter <{SENDER}>\r\n"
        f"To: {', '.join(f'<{r}>' for r in scenario.rcpts)}\r\n"
        f"Subject: capture {mta} {scenario.name}\r\n"
        "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n"
        f"Message-ID: <{mta}-{scenario.name}@sender.example.org>\r\n"
        f"X-Acctpipe-Id: {mta}-{scenario.name}\r\n"
        f"{rcpt_header}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
        "\r\nHello, this is a test message for the returned-mail corpus.\r\n"
    ).encode()


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one capture run."""

    sim: int
    silent: int  # accepts, never greets
    closed: int  # nothing listens
    mta: int  # the peer's own SMTP listener


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- the peers -----------------------------------------------------------------

Send = Callable[[Scenario, bytes], None]


@dataclass(frozen=True)
class Driver:
    """How to run one peer MTA: its packages, setup (returns how to submit), stop, scenarios."""

    packages: tuple[str, ...]
    setup: Callable[[Namespace, Ports], Send]
    stop: Callable[[Namespace], None]
    scenarios: tuple[str, ...] = tuple(s.name for s in SCENARIOS)
    warnings: bool = True  # sends delay warnings (configured to, after seconds)


def _smtp_send(port: int) -> Send:
    def send(scenario: Scenario, data: bytes) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                    smtp.sendmail(SENDER, list(scenario.rcpts), data)
                return
            except OSError:  # the daemon is still starting: retry until the deadline
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    return send


POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
myhostname = postfix.sender.example.org
mydomain = sender.example.org
myorigin = $mydomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
transport_maps = texthash:/etc/postfix/transport
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 6s
bounce_queue_lifetime = 6s
delay_warning_time = 2s
smtp_connect_timeout = 2s
smtp_helo_timeout = 2s
maillog_file = /var/log/postfix.log
biff = no
"""


def _postfix(ns: Namespace, ports: Ports) -> Send:
    transport = (
        f"example.net smtp:[127.0.0.1]:{ports.sim}\n"
        f"sender.example.org smtp:[127.0.0.1]:{ports.sim}\n"
        f"slow.example.net smtp:[127.0.0.1]:{ports.silent}\n"
        f"down.example.net smtp:[127.0.0.1]:{ports.closed}\n"
    )
    postfix.start(ns, main_cf=POSTFIX_MAIN_CF, listen=f"127.0.0.1:{ports.mta}",
                  files={"/etc/postfix/transport": transport})  # fmt: skip
    return _smtp_send(ports.mta)


def _exim_conf(ports: Ports) -> str:
    transports = {"t_sim": ports.sim, "t_silent": ports.silent, "t_closed": ports.closed}
    routes = {
        "to_sim": ("example.net : sender.example.org", "t_sim"),
        "to_silent": ("slow.example.net", "t_silent"),
        "to_closed": ("down.example.net", "t_closed"),
    }
    lines = [
        "primary_hostname = exim.sender.example.org",
        "qualify_domain = sender.example.org",
        f"daemon_smtp_ports = {ports.mta}",
        "local_interfaces = 127.0.0.1",
        "spool_directory = /var/spool/exim4",
        "log_file_path = /var/log/exim4/%slog",
        "acl_smtp_rcpt = acl_check_rcpt",
        "host_lookup =",
        "rfc1413_hosts =",
        "tls_advertise_hosts =",
        "delay_warning = 2s",
        "ignore_bounce_errors_after = 1m",
        "timeout_frozen_after = 1m",
        "keep_environment =",
        "",
        "begin acl",
        "acl_check_rcpt:",
        "  accept hosts = 127.0.0.1",
        "",
        "begin routers",
    ]
    for name, (domains, transport) in routes.items():
        lines += [f"{name}:", "  driver = manualroute", f"  domains = {domains}",
                  f"  transport = {transport}", "  route_list = * 127.0.0.1",
                  "  self = send", ""]  # fmt: skip
    lines.append("begin transports")
    for name, port in transports.items():
        lines += [f"{name}:", "  driver = smtp", f"  port = {port}", "  allow_localhost",
                  "  hosts_avoid_tls = *", "  connect_timeout = 2s",
                  "  command_timeout = 2s", ""]  # fmt: skip
    lines += ["begin retry", "*  *  F,4s,1s", ""]
    return "\n".join(lines)


def _exim(ns: Namespace, ports: Ports) -> Send:
    ns.ensure_user("Debian-exim", home="/var/spool/exim4")
    ns.run(["sh", "-c", "rm -rf /var/spool/exim4/input /var/spool/exim4/db /var/spool/exim4/msglog"
            " && mkdir -p /var/spool/exim4 /var/log/exim4"
            " && chown -R Debian-exim:Debian-exim /var/spool/exim4 /var/log/exim4"])  # fmt: skip
    ns.write("/etc/exim4/exim4.conf", _exim_conf(ports))
    ns.run(["exim4", "-bd", "-q1s"])  # the daemon detaches; it stays in the namespace
    return _smtp_send(ports.mta)


def _stop_daemons(ns: Namespace) -> None:
    """Exim and dma stop with the namespace (SIGTERM to each of its processes)."""


def _dma(ns: Namespace, ports: Ports) -> Send:
    ns.run(["sh", "-c", "rm -f /var/spool/dma/*"])
    # dma has one smarthost for everything (its bounces to our sender included), so it
    # meets only the simulator: no timeout or unreachable scenario (its retry limit is
    # compiled in at days).
    conf = f"SMARTHOST 127.0.0.1\nPORT {ports.sim}\nMAILNAME dma.sender.example.org\nNULLCLIENT\n"
    ns.write("/etc/dma/dma.conf", conf)

    def send(scenario: Scenario, data: bytes) -> None:
        # A local submission, as sendmail(1) gets it: LF line ends (dma adds the CRs).
        text = data.decode().replace("\r\n", "\n")
        ns.run(["/usr/sbin/dma", "-f", SENDER, *scenario.rcpts], input=text)

    return send


DRIVERS: dict[str, Driver] = {
    "postfix": Driver(postfix.PACKAGES, _postfix, postfix.stop),
    "exim": Driver(("exim4-daemon-light", "exim4-base", "exim4-config"), _exim, _stop_daemons),
    "dma": Driver(("dma",), _dma, _stop_daemons,
                  ("unknown-user", "mailbox-full", "blocked-ip", "policy-rejection",
                   "content-rejection", "sender-rejected", "helo-rejected", "dmarc-rejected",
                   "message-too-large"), warnings=False),
    "sendmail": Driver(sendmail.PACKAGES, sendmail.setup, sendmail.stop),
    # OpenSMTPD 6.8 holds envelopes for a refused or silent host at its own back-off
    # and never returned them within minutes: no timeout or unreachable scenario.
    "opensmtpd": Driver(opensmtpd.PACKAGES, opensmtpd.setup, opensmtpd.stop,
                        tuple(s.name for s in SCENARIOS
                              if s.name not in ("timeout", "unreachable"))),
    "courier": Driver(courier.PACKAGES, courier.setup, courier.stop),
}  # fmt: skip
MTAS = tuple(DRIVERS)


def capture(mta: str, *, wait: float = 60.0) -> dict[str, Path]:
    """Run one MTA through every scenario it supports; returns scenario → saved file."""
    driver = DRIVERS[mta]
    prefix: Prefix = unpack(mta, list(driver.packages))
    scenarios = [s for s in SCENARIOS if s.name in driver.scenarios]
    wanted = {stem for s in scenarios for stem in s.captures(driver)}
    saved: dict[str, Path] = {}
    with (
        socket.socket() as silent,
        ThreadedIspSimulator(PROFILE, host="127.0.0.1", port=0) as sim,
        Namespace(prefix) as ns,
    ):
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshake; nobody ever greets
        ports = Ports(sim.port, silent.getsockname()[1], _free_port(), _free_port())
        send = driver.setup(ns, ports)
        try:
            for scenario in scenarios:
                send(scenario, message(scenario, mta))
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and len(saved) < len(wanted):
                time.sleep(0.5)
                for received in sim.messages:
                    if received.mail_from or SENDER not in [r.lower() for r in received.rcpt_tos]:
                        continue
                    stem = _stem(received.data, scenarios)
                    if stem in wanted and stem not in saved:
                        path = OUT / f"{mta}-real" / f"{stem}.eml"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(received.data)
                        saved[stem] = path
        finally:
            driver.stop(ns)
    return saved


def _stem(data: bytes, scenarios: list[Scenario]) -> str | None:
    """Which scenario a returned message answers (its first recipient), and whether a warning."""
    text = data.decode("utf-8", "replace").lower()
    for scenario in scenarios:
        # The whole address: "full.mailbox@" must not match inside "x.full.mailbox@".
        if re.search(r"(?<![a-z0-9.+_-])" + re.escape(scenario.rcpts[0].lower()), text):
            # OpenSMTPD 6.8 says "delayed" of an envelope it gave up on ("Envelope expired")
            delayed = "action: delayed" in text and "envelope expired" not in text
            return f"{scenario.name}-delay-warning" if delayed else scenario.name
    return None


def main(argv: list[str] | None = None) -> int:
    """``capture-returns [MTA ...]``: capture every scenario for each MTA (default: all)."""
    parser = argparse.ArgumentParser(prog="capture-returns", description=__doc__.splitlines()[0])
    parser.add_argument("mtas", nargs="*", metavar="MTA", help=f"any of {', '.join(MTAS)}")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for bounces")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.mtas) - set(MTAS)):
        parser.error(f"unknown MTA {', '.join(unknown)}; known: {', '.join(MTAS)}")
    for mta in args.mtas or list(MTAS):
        saved = capture(mta, wait=args.wait)
        driver = DRIVERS[mta]
        wanted = [c for s in SCENARIOS if s.name in driver.scenarios for c in s.captures(driver)]
        missing = [c for c in wanted if c not in saved]
        print(
            f"{mta}: {len(saved)} captured"
            + (f"; none for {', '.join(missing)}" if missing else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
