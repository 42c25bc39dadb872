"""Who may use the management endpoint: PowerMTA's ``http-access ADDR LEVEL``.

The decision is pure (an address and the configured entries in, a level out);
:class:`AccessMiddleware` is the thin ASGI adapter that applies it to every
request before any route runs, so unknown paths and the OpenAPI document are
guarded too — as PowerMTA guards its whole management port.

* The most specific matching network wins (longest prefix), like ``<source>``;
  between equally specific entries the first one configured wins.
* ``GET``/``HEAD``/``OPTIONS`` need ``monitor``; anything else (``POST``) needs
  ``admin``. ``none`` — or no matching entry — is refused with 403.
* With no ``http-access`` entries at all, loopback clients (127.0.0.0/8, ::1)
  are ``admin`` and everybody else ``none``: a fresh install is usable from the
  host itself and closed to the world.

Before the level, the middleware applies the browser checks of
:mod:`mta.mgmt.guard` (a ``Host`` we answer to, else 421; no cross-site
state change, else 403), and after it, for admin actions, the
``http-admin-key`` (else 401).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Final, Literal

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mta.config.model import HttpAccess
from mta.mgmt.guard import SAFE_METHODS, cross_site_reason, has_admin_key, is_allowed_host
from mta.mgmt.problem import problem_response

__all__ = ["LEVELS", "AccessMiddleware", "Level", "access_level", "is_sufficient", "required_level"]

Level = Literal["none", "monitor", "admin"]
LEVELS: Final[tuple[Level, ...]] = ("none", "monitor", "admin")  # weakest first
_CHALLENGE: Final = 'Basic realm="acctpipe-mta", charset="UTF-8"'


def _as_level(text: str) -> Level:
    # The config schema only admits these three; anything else grants nothing.
    for level in LEVELS:
        if level == text:
            return level
    return "none"


def access_level(entries: tuple[HttpAccess, ...], client_ip: str | None) -> Level:
    """The level ``client_ip`` has under ``entries`` (``none`` when nothing matches)."""
    if client_ip is None:
        return "none"
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return "none"  # not an IP (e.g. a test client's name): nothing can match
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
        address = address.ipv4_mapped
    if not entries:
        return "admin" if address.is_loopback else "none"
    best: HttpAccess | None = None
    for entry in entries:
        network = entry.network
        if address.version != network.version or address not in network:
            continue
        if best is None or network.prefixlen > best.network.prefixlen:
            best = entry
    return "none" if best is None else _as_level(best.level)


def required_level(method: str) -> Level:
    """The level an HTTP method needs: reads are ``monitor``, changes are ``admin``."""
    return "monitor" if method.upper() in SAFE_METHODS else "admin"


def is_sufficient(have: Level, need: Level) -> bool:
    """Does ``have`` grant at least ``need``?"""
    return LEVELS.index(have) >= LEVELS.index(need)


def _no_names() -> tuple[str, ...]:
    return ()


def _no_key() -> str | None:
    return None


class AccessMiddleware:
    """ASGI middleware refusing, as a problem, what a request may not do (see module doc).

    ``get_access``, ``get_host_names`` and ``get_admin_key`` (the key's
    ``sha256:HEX``) are called on every request, so a config reload applies at once.
    """

    def __init__(
        self,
        app: ASGIApp,
        get_access: Callable[[], tuple[HttpAccess, ...]],
        get_host_names: Callable[[], tuple[str, ...]] = _no_names,
        get_admin_key: Callable[[], str | None] = _no_key,
    ) -> None:
        self.app = app
        self.get_access = get_access
        self.get_host_names = get_host_names
        self.get_admin_key = get_admin_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``scope['client']`` against the current entries, then pass the request on."""
        if scope["type"] != "http":  # lifespan: nothing to guard
            await self.app(scope, receive, send)
            return
        response = self._refusal(scope)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        server = scope.get("server")
        if not is_allowed_host(
            headers.get("host"), server[0] if server else None, self.get_host_names()
        ):
            shown = headers.get("host", "")[:100]
            return problem_response(
                421,
                f"this management port does not answer to host {shown!r} "
                "(add the name to http-mgmt-host-names)",
            )
        client = scope.get("client")
        client_ip = client[0] if client else None
        have = access_level(self.get_access(), client_ip)
        need = required_level(scope["method"])
        if not is_sufficient(have, need):
            return problem_response(
                403, f"client {client_ip or '(unknown)'} has access level {have!r}; {need!r} needed"
            )
        reason = cross_site_reason(scope["method"], headers)
        if reason is not None:
            return problem_response(403, reason)
        if need == "admin" and not has_admin_key(
            headers.get("authorization"), self.get_admin_key()
        ):
            return problem_response(
                401,
                "this action needs the http-admin-key: send 'Authorization: Bearer KEY' "
                "(or HTTP Basic with the key as the password)",
                headers={"WWW-Authenticate": _CHALLENGE},
            )
        return None
