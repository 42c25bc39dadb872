"""Sendmail 8 as a peer MTA: a generated ``sendmail.cf`` routing by domain to loopback ports.

Debian's ``sendmail-bin`` is unpacked with ``sendmail-cf`` (the m4 macro tree)
and ``m4`` itself, so the configuration is generated from a ``.mc`` the way a
Sendmail administrator writes one: ``OSTYPE(linux)``, no canonification (no
DNS at all), a queue lifetime of seconds (``confTO_QUEUERETURN``) and, in
ruleset 98 (``LOCAL_RULE_0``), one rule per routed domain handing it to a mailer
of its own whose ``A=TCP $h PORT`` names the loopback port, since Sendmail's
mailertable has no port syntax. Nothing listens: messages are submitted on the
command line (``-odi``: delivered at once, refusals returned at once) and the
queue is run by hand (``-q``) once the lifetime has passed.

Sendmail canonifies its own host name at start-up through the resolver; the
namespace's ``/etc/resolv.conf`` points at 127.0.0.1 and its ``/etc/hosts``
names the host, so no query ever leaves loopback.

Wire format of what it returns (``Returned mail: see transcript for details``)::

    --6B6KkEKc018049.1796589974/mta.sender.test

    The original message was received at Sun, 6 Dec 2026 20:46:14 GMT
    from root@localhost

       ----- The following addresses had permanent fatal errors -----
    unknown.one@isp.test
        (reason: 550 5.1.1 <unknown.one@isp.test>: Recipient address rejected: User unknown)
"""

from __future__ import annotations

from collections.abc import Mapping

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

__all__ = ["PACKAGES", "capture_routes", "configure", "make_mc", "setup", "stop"]

PACKAGES = ("sendmail-bin", "sendmail-base", "sendmail-cf", "m4")
SENDMAIL = "/usr/libexec/sendmail/sendmail"
CF_DIR = "/usr/share/sendmail/cf/"
ETC = "/etc/mail"
QUEUE = "/var/spool/mqueue"


def make_mc(
    routes: Mapping[str, tuple[str, int]], *, hostname: str, queue_lifetime: int, listen: int
) -> str:
    """The ``.mc`` source: every domain in ``routes`` goes to its (loopback host, port)."""
    lines = [
        "divert(-1)",
        "# acctpipe real-MTA capture: generated, do not edit",
        "divert(0)dnl",
        "VERSIONID(`acctpipe capture')dnl",
        "OSTYPE(`linux')dnl",
        "define(`confCF_VERSION', `acctpipe')dnl",
        f"define(`confDOMAIN_NAME', `{hostname}')dnl",
        f"define(`QUEUE_DIR', `{QUEUE}')dnl",
        f"define(`ALIAS_FILE', `{ETC}/aliases')dnl",
        f"define(`STATUS_FILE', `{ETC}/statistics')dnl",
        f"define(`confSERVICE_SWITCH_FILE', `{ETC}/service.switch')dnl",
        "define(`confHOST_STATUS_DIRECTORY', `')dnl",
        "define(`confHOSTS_FILE', `/etc/hosts')dnl",
        "define(`confDONT_PROBE_INTERFACES', `True')dnl",
        "define(`confCHECK_ALIASES', `False')dnl",
        "define(`confDELIVERY_MODE', `background')dnl",
        f"define(`confTO_QUEUERETURN', `{queue_lifetime}s')dnl",
        "define(`confTO_QUEUEWARN', `2s')dnl",
        "define(`confTO_CONNECT', `5s')dnl",
        "define(`confTO_ICONNECT', `5s')dnl",
        "define(`confTO_INITIAL', `10s')dnl",
        "define(`confRUN_AS_USER', `root')dnl",
        "FEATURE(`nocanonify')dnl",
        "FEATURE(`no_default_msa')dnl",
        "FEATURE(`accept_unresolvable_domains')dnl",
        "FEATURE(`promiscuous_relay')dnl",  # loopback only: the listener is on 127.0.0.1
        f"DAEMON_OPTIONS(`Family=inet, Name=MTA, Port={listen}, Addr=127.0.0.1')dnl",
        f"define(`confPID_FILE', `{ETC}/sendmail.pid')dnl",
        "MAILER(`local')dnl",
        "MAILER(`smtp')dnl",
        "MAILER_DEFINITIONS",
    ]
    for i, (_domain, (_host, port)) in enumerate(sorted(routes.items())):
        lines.append(
            f"Mroute{i},\t\tP=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, "
            f"E=\\r\\n, L=990,\n\t\tT=DNS/RFC822/SMTP,\n\t\tA=TCP $h {port}"
        )
    lines.append("LOCAL_RULE_0")
    for i, (domain, (host, _port)) in enumerate(sorted(routes.items())):
        lines.append(f"R$* < @ {domain} $* > $*\t$#route{i} $@ [{host}] $: $1 < @ {domain} > $3")
    return "\n".join(lines) + "\n"


def capture_routes(ports: Ports) -> dict[str, tuple[str, int]]:
    """The capture's routing: failures and returned mail to the simulator, two dead ends."""
    return {
        "example.net": ("127.0.0.1", ports.sim),
        "sender.example.org": ("127.0.0.1", ports.sim),
        "slow.example.net": ("127.0.0.1", ports.silent),
        "down.example.net": ("127.0.0.1", ports.closed),
    }


def setup(ns: Namespace, ports: Ports, *, queue_lifetime: int = QUEUE_LIFETIME) -> Sender:
    """Configure and start Sendmail (listener on ``ports.mta``, queue run every 2 s)."""
    configure(ns, capture_routes(ports), hostname=HOSTNAME, queue_lifetime=queue_lifetime,
              listen=ports.mta)  # fmt: skip
    ns.run([SENDMAIL, "-C", f"{ETC}/sendmail.cf", "-bd", "-q2s"])
    return lambda scenario, data: smtp_send(ports.mta, SENDER, scenario.rcpts, data)


def stop(ns: Namespace) -> None:
    """Stop the daemon (the namespace kills any straggler on close)."""
    ns.run(["sh", "-c", f"kill $(head -1 {QUEUE}/../sendmail.pid) 2>/dev/null || true"],
           check=False)  # fmt: skip


def configure(
    ns: Namespace,
    routes: Mapping[str, tuple[str, int]],
    *,
    hostname: str,
    queue_lifetime: int,
    listen: int,
) -> None:
    """Write the .mc, generate sendmail.cf with m4, prepare the queue and the resolver."""
    write_etc(ns, hostname)
    mc = make_mc(routes, hostname=hostname, queue_lifetime=queue_lifetime, listen=listen)
    ns.write(f"{ETC}/acctpipe.mc", mc)
    ns.write(f"{ETC}/service.switch", "hosts\tfiles\naliases\tfiles\npasswd\tfiles\n")
    ns.write(f"{ETC}/aliases", "")
    cf = ns.run(["m4", f"-D_CF_DIR_={CF_DIR}", f"{CF_DIR}m4/cf.m4", f"{ETC}/acctpipe.mc"])
    ns.write(f"{ETC}/sendmail.cf", cf.stdout)
    ns.run(["sh", "-c", f"rm -rf {QUEUE} && mkdir -p {QUEUE} && chmod 700 {QUEUE}"])
