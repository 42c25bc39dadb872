"""Parsers for compound directive values (the simple grammars are in ``values``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Final

from mta.acct.fields import RECORD_TYPES, RecordType, is_known_field
from mta.config.model import HttpAccess, Route, SourceHost
from mta.config.values import parse_address, parse_bool, parse_int, parse_network
from mta.errors import InvalidValueError

__all__ = [
    "RECORD_TYPE_NAMES",
    "parse_address_pattern",
    "parse_admin_key",
    "parse_date",
    "parse_domain_key",
    "parse_domain_macro",
    "parse_email",
    "parse_enum",
    "parse_float",
    "parse_host_names",
    "parse_http_access",
    "parse_list",
    "parse_name",
    "parse_pickup_line",
    "parse_record_fields",
    "parse_records",
    "parse_route",
    "parse_source_host",
    "parse_string",
    "unquote",
]

# Accounting record types (mta.acct.fields.RECORD_TYPES) and the long names PowerMTA
# also accepts in `records`.
RECORD_TYPE_NAMES: Final[Mapping[str, RecordType]] = {
    **{code: code for code in RECORD_TYPES},
    "delivery": "d", "delivered": "d",
    "bounce": "b", "bounced": "b",
    "transient": "t",
    "transient-queue": "tq",
    "feedback-loop": "f", "feedback": "f",
    "remote-bounce": "rb",
    "remote-status": "rs",
    "receipt": "r", "received": "r",
}  # fmt: skip

_NAME_TOKEN = re.compile(r"\{?[A-Za-z0-9][A-Za-z0-9_.@*{}-]*\}?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def unquote(text: str) -> str:
    """Strip one pair of surrounding double quotes, undoing ``\\"`` escapes inside."""
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return s


def parse_string(text: str) -> str:
    """Any text; surrounding quotes are removed."""
    return unquote(text)


def parse_name(text: str) -> str:
    """A single name token (vmta, pool, pattern list, ``{source}``)."""
    s = unquote(text)
    if not _NAME_TOKEN.fullmatch(s):
        raise InvalidValueError(f"expected a single name, got {text!r}")
    return s


def parse_email(text: str) -> str:
    """An e-mail address such as ``postmaster@example.com``."""
    s = unquote(text)
    if not _EMAIL.fullmatch(s):
        raise InvalidValueError(f"expected an e-mail address, got {text!r}")
    return s


# An address-list entry: "/" pattern "/" ["i"] — the pattern runs to the last "/", so
# a slash inside it needs no escape (addresses rarely hold one). Flags other than
# "i" are refused: matching is always case-insensitive (RFC 5321 §2.4 domains are;
# local parts in practice).
_ADDRESS_REGEX = re.compile(r"/(?P<body>.*)/(?P<flags>i?)", re.DOTALL)


def parse_address_pattern(text: str) -> tuple[str, bool]:
    """``address /regex/`` or ``address user@domain`` → (pattern or address, is_regex).

    A regex must compile (Python ``re``, case-insensitive); a literal must be one
    e-mail address and is lower-cased, since it is compared case-insensitively.
    """
    s = unquote(text)
    m = _ADDRESS_REGEX.fullmatch(s)
    if m is None:
        if s.startswith("/"):
            raise InvalidValueError(f"expected /regex/ or an e-mail address, got {text!r}")
        return parse_email(s).strip("<>").lower(), False
    body = m.group("body")
    if not body:
        raise InvalidValueError("empty /regex/ would match every address")
    try:
        re.compile(body, re.IGNORECASE)
    except re.error as exc:
        raise InvalidValueError(f"bad regular expression /{body}/: {exc}") from None
    return body, True


def parse_float(text: str) -> float:
    """A positive decimal number (scale factors)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise InvalidValueError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise InvalidValueError(f"must be a positive number, got {text!r}")
    return value


def parse_date(text: str) -> date:
    """An ISO date (``2026-11-01``)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValueError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def parse_enum(*choices: str) -> Callable[[str], str]:
    """A parser accepting one of ``choices`` (case-insensitive)."""

    def parse(text: str) -> str:
        low = text.strip().lower()
        if low not in choices:
            raise InvalidValueError(f"expected one of {', '.join(choices)}; got {text!r}")
        return low

    return parse


def parse_list(text: str) -> tuple[str, ...]:
    """Items separated by commas and/or white space."""
    items = tuple(p for p in re.split(r"[\s,]+", text.strip()) if p)
    if not items:
        raise InvalidValueError("expected one or more items")
    return items


def parse_source_host(text: str) -> SourceHost:
    """``smtp-source-host IP [HOSTNAME]``."""
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise InvalidValueError("expected an IP address and a host name")
    ip = parts[0]
    parse_network(ip)  # validates the address
    if "/" in ip:
        raise InvalidValueError(f"expected a single address, not a network: {ip!r}")
    return SourceHost(ip, parts[1] if len(parts) == 2 else None)


def parse_http_access(text: str) -> HttpAccess:
    """``http-access ADDR/CIDR none|monitor|admin``."""
    parts = text.split()
    if len(parts) != 2:
        raise InvalidValueError("expected an address (or CIDR) and a level: none, monitor or admin")
    level = parse_enum("none", "monitor", "admin")(parts[1])
    return HttpAccess(parse_network(parts[0]), level)


def parse_host_names(text: str) -> tuple[str, ...]:
    """``http-mgmt-host-names NAME[,NAME…]``: DNS names, compared case-insensitively."""
    names = tuple(n.lower().rstrip(".") for n in parse_list(text))
    for name in names:
        if not re.fullmatch(
            r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", name
        ):
            raise InvalidValueError(f"not a host name: {name!r}")
    return names


def parse_admin_key(text: str) -> str:
    """``http-admin-key KEY`` or ``sha256:HEX``; stored as ``sha256:HEX`` either way."""
    key = unquote(text.strip())
    if key.lower().startswith("sha256:"):
        digest = key[7:].lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise InvalidValueError("expected sha256: and 64 hexadecimal digits")
        return f"sha256:{digest}"
    if len(key) < 16:
        raise InvalidValueError("a key of at least 16 characters is needed (or sha256:HEX)")
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def parse_domain_key(text: str) -> tuple[str, str, str]:
    """``domain-key SELECTOR,DOMAIN,KEYFILE`` (PowerMTA separates with commas)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise InvalidValueError(
            "expected SELECTOR,DOMAIN,KEYFILE (three parts separated by commas)"
        )
    return parts[0], parts[1].lower(), unquote(parts[2])


def parse_domain_macro(text: str) -> tuple[str, tuple[str, ...]]:
    """``domain-macro NAME d1, d2, …``."""
    name, _, rest = text.strip().partition(" ")
    if not name or not rest.strip():
        raise InvalidValueError(
            "expected a macro name followed by domains, e.g. ms hotmail.com,live.com"
        )
    # Macro names are case-insensitive, like the domains they stand for.
    return parse_name(name).lower(), tuple(d.lower() for d in parse_list(rest))


def parse_pickup_line(text: str) -> tuple[str, str | None]:
    """PowerMTA's ``pickup DIR [BADDIR]``."""
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise InvalidValueError("expected a pickup directory and optionally a bad-mail directory")
    return parts[0], parts[1] if len(parts) == 2 else None


def parse_records(text: str) -> tuple[str, ...]:
    """``records d,b,t`` — record types (long names such as ``delivery`` accepted)."""
    out: list[str] = []
    for item in parse_list(text):
        code = RECORD_TYPE_NAMES.get(item.lower())
        if code is None:
            raise InvalidValueError(f"unknown record type {item!r} (use {', '.join(RECORD_TYPES)})")
        if code not in out:
            out.append(code)
    return tuple(out)


def parse_record_fields(text: str) -> tuple[str, tuple[str, ...]]:
    """``record-fields TYPE field,field,…`` (``*`` means the default set)."""
    kind, _, rest = text.strip().partition(" ")
    code = RECORD_TYPE_NAMES.get(kind.lower())
    if code is None:
        raise InvalidValueError(f"unknown record type {kind!r}")
    fields = parse_list(rest)
    unknown = [f for f in fields if f != "*" and not is_known_field(f)]
    if unknown:
        raise InvalidValueError(f"unknown accounting field {unknown[0]!r} (see docs/accounting.md)")
    return code, fields


def parse_route(text: str) -> tuple[Route, ...]:
    """``route HOST[:PORT] [priority=N] [backup=yes]``; also PowerMTA's ``smtp-hosts`` list.

    Hosts are ``host``, ``host:port``, ``[1.2.3.4]``, ``[1.2.3.4]:2526`` or ``[::1]:25``,
    separated by commas and/or spaces; the options (acctpipe's) apply to every host.
    """
    hosts: list[str] = []
    options: list[str] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if item:
            (options if "=" in item or item == "backup" else hosts).append(item)
    if not hosts:
        raise InvalidValueError("expected a host[:port]")
    priority, backup = 10, False
    for opt in options:
        key, sep, value = opt.partition("=")
        if key == "backup" and not sep:
            backup = True
        elif key == "backup":
            backup = parse_bool(value)
        elif key == "priority" and sep:
            priority = parse_int(value, maximum=1000)
        else:
            raise InvalidValueError(
                f"unknown route option {opt[:40]!r} (use priority=N or backup=yes)"
            )
    for host in hosts:
        if host.lower().startswith("lookup-mx:"):
            raise InvalidValueError("lookup-mx hosts are not supported; name the hosts instead")
    return tuple(Route(parse_address(h, default_port=25), priority, backup) for h in hosts)
