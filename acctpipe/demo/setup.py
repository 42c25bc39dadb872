"""``acctpipe demo``, step one: the data directory, the certificate, the DKIM key, the config.

Everything the demo writes lives under one data directory, marked as the
demo's by a file (:data:`MARKER`). A second demo wipes the first one's files;
a directory holding anything else is refused, never touched.

The configuration is the packaged ``examples/demo.conf`` (PowerMTA syntax),
written as ``acctpipe.conf`` with two changes (:func:`render_config`): each
destination's ``route`` points at the port its simulated receiver really got,
and the listener's certificate paths become absolute.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from acctpipe._proc import pid_alive
from acctpipe.errors import DemoDirError
from acctpipe.sim.profile import IspProfile, Replies
from acctpipe.sim.profiles import BUILTIN_PROFILES
from mta.config.values import parse_rate
from mta.delivery.signing import generate_key
from mta.errors import ConfigError, InvalidValueError
from mta.tls import make_self_signed

__all__ = [
    "DKIM_DOMAIN",
    "DKIM_SELECTOR",
    "MARKER",
    "RECEIVER_NOTES",
    "DemoDirError",
    "DemoFiles",
    "api_port",
    "demo_profiles",
    "parse_api_listen",
    "prepare_data_dir",
    "render_config",
    "write_files",
]

MARKER: Final = ".acctpipe-demo"
"""The file that says a directory holds a demo's state (and may be wiped by the next one)."""

DKIM_SELECTOR: Final = "demo2026"
DKIM_DOMAIN: Final = "shop.example"
HOST_NAME: Final = "mta.shop.example"


@dataclass(frozen=True, slots=True)
class DemoFiles:
    """What :func:`write_files` wrote, and the facts the demo prints about it."""

    config: Path
    cert: Path
    key: Path
    dkim_key: Path
    dkim_txt: str  # the DNS TXT record a receiver would look up


def _is_running(pid: int) -> bool:
    return pid != os.getpid() and pid_alive(pid)


def prepare_data_dir(data_dir: Path) -> bool:
    """Make ``data_dir`` an empty demo directory; return whether a previous demo was wiped.

    Raises :class:`DemoDirError` when it is not a directory, holds files that are
    not a demo's, or a demo with ``--serve`` is still running in it.
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise DemoDirError(f"--data-dir {data_dir} exists and is not a directory")
    where = data_dir.resolve()
    if where in (Path.cwd().resolve(), Path.home().resolve(), Path(where.anchor)):
        # The demo wipes its directory on the next run: never one a person works in.
        raise DemoDirError(
            f"--data-dir {data_dir} is the current, home or root directory; "
            "give the demo a directory of its own (default: demo-data)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = list(data_dir.iterdir())
    if not entries:
        (data_dir / MARKER).write_text("acctpipe demo\n", encoding="utf-8")
        return False
    if not (data_dir / MARKER).is_file():
        raise DemoDirError(
            f"--data-dir {data_dir} is not empty and was not written by acctpipe demo; "
            "choose another directory (the demo wipes its own data directory on every run)"
        )
    state = data_dir / "node.json"
    with contextlib.suppress(OSError, ValueError, TypeError):
        pid = int(json.loads(state.read_text(encoding="utf-8"))["pid"])
        if _is_running(pid):
            raise DemoDirError(
                f"a demo is still running in {data_dir} (pid {pid}); stop it first (Ctrl-C)"
            )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (data_dir / MARKER).write_text("acctpipe demo\n", encoding="utf-8")
    return True


def write_files(data_dir: Path, routes: Mapping[str, tuple[str, int]]) -> DemoFiles:
    """Write the certificate, the DKIM key and the configuration into ``data_dir``.

    ``routes`` maps each destination domain to the (host, port) of its receiver.
    """
    root = data_dir.resolve()
    cert, key = root / "tls" / "cert.pem", root / "tls" / "key.pem"
    make_self_signed(HOST_NAME, ("127.0.0.1",)).write(cert, key)
    pem, signing = generate_key(DKIM_SELECTOR, DKIM_DOMAIN, "ed25519-sha256")
    dkim = root / "dkim" / f"{DKIM_DOMAIN}.pem"
    dkim.parent.mkdir(parents=True, exist_ok=True)
    dkim.write_bytes(pem)
    dkim.chmod(0o600)
    config = root / "acctpipe.conf"
    template = resources.files("acctpipe").joinpath("examples/demo.conf")
    config.write_text(
        render_config(template.read_text(encoding="utf-8"), root, routes), encoding="utf-8"
    )
    return DemoFiles(config, cert, key, dkim, signing.txt_record)


_TLS_FILES: Final = ("tls-certificate", "tls-private-key")


def render_config(template: str, base: Path, routes: Mapping[str, tuple[str, int]]) -> str:
    """``template`` with the ``route`` of each domain in ``routes`` replaced, and the
    listener's relative ``tls-certificate`` / ``tls-private-key`` made absolute under ``base``.

    Line by line, keeping comments and layout; a domain of ``routes`` whose block
    has no ``route`` line raises ValueError.
    """
    out: list[str] = []
    domain: str | None = None
    routed: set[str] = set()
    for line in template.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0].startswith("<domain"):
            domain = words[1].rstrip(">").lower() if len(words) > 1 else None
        elif words and words[0] == "</domain>":
            domain = None
        elif words and words[0] == "route" and domain is not None and domain in routes:
            host, port = routes[domain]
            line = line.replace(words[1], f"{host}:{port}", 1)
            routed.add(domain)
        elif len(words) > 1 and words[0] in _TLS_FILES and not Path(words[1]).is_absolute():
            line = line.replace(words[1], str(base / words[1]), 1)
        out.append(line)
    if missing := sorted(set(routes) - routed):
        raise InvalidValueError(f"no route line to rewrite for {', '.join(missing)}")
    return "\n".join(out) + "\n"


# The receivers. Rates are per client IP, as the providers apply them. The outlook-like
# one accepts less than the config lets us send (60/s) and answers the excess with
# Microsoft's "451 4.7.500 Server busy", a deferral that keeps the session open: the
# feedback loop has to slow that queue down. The yahoo-like one refuses a full mailbox
# for good (552), the others defer it (452) as Gmail and Outlook do.
_OUTLOOK_BUSY: Final = "451 4.7.500 Server busy. Please try again later from [{ip}]. (S77719)"
_YAHOO_FULL: Final = "552 5.2.2 <{rcpt}> Mailbox full - over quota"
DOMAINS: Final = ("gmail.example", "outlook.example", "yahoo.example", "blocked.example")
RECEIVER_NOTES: Final = {
    "gmail.example": "gmail-like: 400 msg/s per IP; 550 unknown, 452 full (deferred)",
    "outlook.example": "outlook-like: 12 msg/s per IP, then 451 4.7.500 Server busy",
    "yahoo.example": "yahoo-like: 200 msg/s per IP; 550 unknown, 552 full (bounced)",
    "blocked.example": "a gateway that blocklists our IPs: 554 5.7.1 at RCPT",
}
"""One line per receiver, for the demo's table (kept beside the profiles it describes)."""


def demo_profiles(*, starttls: bool = True) -> dict[str, IspProfile]:
    """The simulated receiver of each destination domain of the demo."""
    base = BUILTIN_PROFILES
    outlook = base["outlook"]
    yahoo = base["yahoo"]
    profiles = {
        "gmail.example": dataclasses.replace(
            base["gmail"], max_connections_per_ip=20, message_rate=parse_rate("400/s")
        ),
        "outlook.example": dataclasses.replace(
            outlook,
            connection_rate=None,
            message_rate=parse_rate("12/s"),
            message_burst=12,
            replies=dataclasses.replace(outlook.replies, message_rate=_OUTLOOK_BUSY),
        ),
        "yahoo.example": dataclasses.replace(
            yahoo,
            message_rate=parse_rate("200/s"),
            replies=dataclasses.replace(yahoo.replies, mailbox_full=_YAHOO_FULL),
        ),
        "blocked.example": dataclasses.replace(
            base["blocker"],
            hostname="mx.blocked.sim.test",
            block_stage="rcpt",
            replies=Replies(banner="ESMTP corporate gateway"),
        ),
    }
    return {d: dataclasses.replace(p, starttls=starttls) for d, p in profiles.items()}


def parse_api_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8025`` or ``[::1]:8025`` → (host, port); the demo serves loopback only.

    Raises :class:`~mta.errors.ConfigError` for anything else.
    """
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--api-listen {text!r}: expected HOST:PORT such as 127.0.0.1:8025")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"--api-listen {text!r}: the demo's API (and its admin key) stays on loopback; "
            "use 127.0.0.1 or ::1"
        )
    return host, int(port)


def api_port(host: str, port: int) -> int:
    """``port`` if it can be bound on ``host`` now, else 0 (any free port)."""
    if port == 0:
        return 0
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port
