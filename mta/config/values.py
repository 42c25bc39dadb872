"""Value grammars of the PowerMTA configuration language.

Every parser here takes the raw text of one directive's value and returns a typed
value or raises :class:`ValueError` with a message fit to follow
``path:line: <section>:``. They are pure: no files, no clocks.

Grammar (ours, written after PowerMTA's documented forms)::

    duration = "never" / 1*( 1*DIGIT [ unit ] )     ; "4d12h", "30m", "5" (= seconds)
    unit     = "s" / "m" / "h" / "d" / "w"           ; also sec/min/hour/day/week, plurals
    rate     = "unlimited" / 1*DIGIT "/" [ 1*DIGIT ] per
    per      = unit-word                             ; "30/s", "2000/h", "10/minute", "100/5m"
    size     = "unlimited" / 1*DIGIT [ "K" / "M" / "G" / "T" ] [ "B" ]   ; binary multiples
    bool     = "yes" / "no" / "true" / "false" / "on" / "off" / "1" / "0"
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass

from mta.errors import InvalidValueError

__all__ = [
    "Address",
    "Rate",
    "format_duration",
    "parse_address",
    "parse_bool",
    "parse_duration",
    "parse_duration_list",
    "parse_int",
    "parse_network",
    "parse_rate",
    "parse_size",
    "quote_token",
]

_UNIT_SECONDS: dict[str, int] = {}
for _names, _secs in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "week", "weeks"), 7 * 86400),
):
    for _n in _names:
        _UNIT_SECONDS[_n] = _secs

# One "<number><unit>" piece of a duration; a bare number is seconds (PowerMTA's
# scan-interval 5). Deliberately lenient: spaces between pieces are allowed.
_DURATION_PIECE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$", re.IGNORECASE)
_SIZE_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TRUE = frozenset({"yes", "true", "on", "1"})
_FALSE = frozenset({"no", "false", "off", "0"})


def parse_bool(text: str) -> bool:
    """Parse ``yes``/``no`` (and true/false, on/off, 1/0)."""
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidValueError(f"expected yes or no, got {quote_token(text)}")


def parse_int(
    text: str,
    *,
    minimum: int | None = 0,
    maximum: int | None = None,
    unlimited: int | None = None,
) -> int:
    """Parse a whole number in ``minimum..maximum``; ``unlimited`` maps to the given sentinel.

    ``minimum=None`` leaves the range to the caller (the schema's bounds check it).
    """
    low = text.strip().lower()
    if unlimited is not None and low == "unlimited":
        return unlimited
    if not re.fullmatch(r"[+-]?\d{1,30}", low):
        raise InvalidValueError(f"expected a whole number, got {quote_token(text)}")
    value = int(low)
    if minimum is not None and value < minimum:
        raise InvalidValueError(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidValueError(f"must be at most {maximum}, got {value}")
    return value


def parse_duration(
    text: str, *, allow_never: bool = False, shown: str | None = None
) -> float | None:
    """Parse a duration into seconds; ``never`` gives ``None`` where allowed.

    ``shown`` is the text errors quote (the whole value a duration is part of).
    """
    whole = quote_token(text if shown is None else shown)
    low = text.strip().lower()
    if low == "never":
        if allow_never:
            return None
        raise InvalidValueError("'never' is not allowed here")
    if not low:
        raise InvalidValueError("expected a duration such as 30s, 5m, 24h or 4d12h")
    total = 0.0
    pos = 0
    while pos < len(low):
        m = _DURATION_PIECE.match(low, pos)
        if m is None or m.end() == pos:
            raise InvalidValueError(
                f"expected a duration such as 30s, 5m, 24h or 4d12h, got {whole}"
            )
        number, unit = m.groups()
        if unit not in _UNIT_SECONDS and unit != "":
            raise InvalidValueError(
                f"unknown time unit {quote_token(unit, 20)} in {whole} (use s, m, h, d or w)"
            )
        total += float(number) * _UNIT_SECONDS.get(unit, 1)
        pos = m.end()
        while pos < len(low) and low[pos] == " ":
            pos += 1
    return total


def format_duration(seconds: float) -> str:
    """``388800`` → ``4d12h``; ``90`` → ``1m30s``."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    if rest == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)


def parse_duration_list(text: str) -> tuple[float, ...]:
    """Parse a comma-separated retry schedule such as ``1h,3h,6h,12h``."""
    parts = [p for p in (s.strip() for s in text.split(",")) if p]
    if not parts:
        raise InvalidValueError("expected one or more durations separated by commas")
    out: list[float] = []
    for part in parts:
        seconds = parse_duration(part)
        assert seconds is not None  # never is refused above
        out.append(seconds)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` events per ``per_seconds``; ``count`` of ``inf`` means unlimited."""

    count: float
    per_seconds: float

    @property
    def per_second(self) -> float:
        """Events per second (``inf`` when unlimited)."""
        return self.count / self.per_seconds

    @property
    def is_unlimited(self) -> bool:
        """Whether this rate places no limit."""
        return math.isinf(self.count)

    def __str__(self) -> str:
        if self.is_unlimited:
            return "unlimited"
        for name, secs in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if self.per_seconds == secs:
                return f"{self.count:g}/{name}"
        return f"{self.count:g}/{self.per_seconds:g}s"


UNLIMITED = Rate(math.inf, 1.0)


def parse_rate(text: str) -> Rate:
    """Parse ``30/s``, ``2000/h``, ``10/minute``, ``100/5m`` or ``unlimited``."""
    low = text.strip().lower()
    if low == "unlimited":
        return UNLIMITED
    count_text, sep, per_text = low.partition("/")
    if not sep:
        raise InvalidValueError(
            f"expected a rate such as 30/s, 2000/h or 10/minute, got {quote_token(text)}"
        )
    try:
        count = float(count_text.strip())
    except ValueError:
        raise InvalidValueError(f"rate {quote_token(text)} must start with a number") from None
    if count < 0 or math.isnan(count) or math.isinf(count):
        raise InvalidValueError(f"rate {quote_token(text)} must be a finite number >= 0")
    per_text = per_text.strip()
    if per_text and per_text[0].isalpha():
        per_text = "1" + per_text
    per = parse_duration(per_text, shown=text) if per_text else None
    if not per:
        raise InvalidValueError(f"rate {quote_token(text)} needs a positive period after '/'")
    return Rate(count, per)


def parse_size(text: str) -> int | None:
    """Parse ``100M``, ``50k``, ``2G`` or a byte count (binary multiples); ``unlimited`` → None."""
    low = text.strip().lower()
    if low == "unlimited":
        return None
    m = _SIZE.match(low)
    if m is None:
        raise InvalidValueError(
            f"expected a size such as 100M, 512K or 2G, got {quote_token(text)}"
        )
    return int(float(m.group(1)) * _SIZE_MULT[m.group(2)])


@dataclass(frozen=True, slots=True)
class Address:
    """A host and optional port, as written in ``smtp-listener`` or ``route``."""

    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host


_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")


def quote_token(text: str, limit: int = 60) -> str:
    """``text`` quoted for an error message: escaped, and cut to ``limit`` characters.

    Errors show the offending token only, and never much of it: a line of a file
    that is not a configuration (``include /etc/shadow``) must not be echoed back.
    """
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _parse_port(text: str, whole: str, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not text.isdigit() or len(text) > 5 or not low <= int(text) < 65536:
        raise InvalidValueError(
            f"bad port {quote_token(text)} in {quote_token(whole)} ({low}-65535)"
        )
    return int(text)


def _bracketed_host(inner: str, whole: str) -> str:
    """The host inside ``[…]``: an IPv4 or IPv6 address (RFC 5321's ``IPv6:`` tag allowed)
    or a host name, which PowerMTA brackets to mean "this host, no MX lookup"."""
    host = inner[5:] if inner[:5].lower() == "ipv6:" else inner
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if ":" not in host and _HOST_NAME.fullmatch(host):
        return host
    raise InvalidValueError(
        f"bad bracketed address {quote_token(whole)} (an IP address or a host name)"
    )


def parse_address(
    text: str, *, default_port: int | None = None, allow_zero_port: bool = False
) -> Address:
    """Parse ``host[:port]``, ``[address-or-host][:port]`` or PowerMTA's ``0/0:25``.

    The bracketed form is PowerMTA's for a literal address (``[127.0.0.1]:2526``,
    ``[::1]:25``, ``[IPv6:::1]``) or a host used as is. ``allow_zero_port``: a
    listener's port 0 means "any free port" (tests, demos).
    """
    raw = text.strip()
    if not raw:
        raise InvalidValueError("expected host[:port]")
    if raw.startswith("["):
        inner, close, rest = raw[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise InvalidValueError(
                f"bad bracketed address {quote_token(text)} (write [ADDRESS]:PORT)"
            )
        port = _parse_port(rest[1:], raw, allow_zero=allow_zero_port) if rest else default_port
        return Address(_bracketed_host(inner, raw), port)
    if raw.count(":") > 1:  # a bare IPv6 address has no port
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            raise InvalidValueError(f"bad address {quote_token(raw)} (write [IPv6]:PORT)") from None
        return Address(raw, default_port)
    host, sep, port_text = raw.partition(":")
    port = _parse_port(port_text, raw, allow_zero=allow_zero_port) if sep else default_port
    if host == "0/0":
        host = "0.0.0.0"  # noqa: S104 - PowerMTA's spelling of "every IPv4 address"
    if not _HOST_NAME.fullmatch(host):
        raise InvalidValueError(f"bad host name or address {quote_token(host)}")
    return Address(host, port)


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse a source match: an address, a CIDR, or PowerMTA's ``0/0`` (everything)."""
    raw = text.strip()
    if raw in ("0/0", "*"):
        return ipaddress.ip_network("0.0.0.0/0")
    try:
        return ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise InvalidValueError(
            f"expected an address or CIDR such as 10.0.0.0/8, got {quote_token(text)}"
        ) from None
