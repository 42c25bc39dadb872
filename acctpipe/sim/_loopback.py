"""This project only listens and sends on loopback (127.0.0.0/8, ::1): one check for it."""

from __future__ import annotations

import ipaddress

from mta.errors import ConfigError

__all__ = ["parse_listen", "require_loopback"]


def require_loopback(host: str) -> None:
    """Raise :class:`ConfigError` unless ``host`` is ``localhost`` or a loopback IP literal."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"{host!r} is not a loopback address: the ISP simulator only listens and sends "
            "on 127.0.0.0/8 or ::1"
        )


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:2526`` or ``[::1]:2526`` → (host, port), loopback only."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{text!r}: expected HOST:PORT such as 127.0.0.1:2526")
    host = host.strip("[]")
    require_loopback(host)
    return host, int(port_text)
