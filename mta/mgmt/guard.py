"""Browser-borne attacks on the management port: DNS rebinding, CSRF, a missing admin key.

``http-access`` decides by the client's address, and a browser on an allowed
host *is* at an allowed address: a page from any site can make it send
requests to ``127.0.0.1``. Three pure checks close that (the ASGI adapter is
:class:`mta.mgmt.access.AccessMiddleware`):

* :func:`is_allowed_host` — the ``Host`` header must name the address the
  client connected to, ``localhost``, or one of ``http-mgmt-host-names``. A
  rebinding attack reaches us under the attacker's DNS name, so it is refused
  (421) before anything is read.
* :func:`cross_site_reason` — a request that changes state (anything but
  GET/HEAD/OPTIONS) is refused (403) when the browser says it came from another
  site (``Sec-Fetch-Site`` other than ``same-origin``/``none``) or carries an
  ``Origin`` that is not this very host — ``Origin: null`` included. Clients
  that send neither (curl, the API's MTA link) are not browsers and pass.
* :func:`has_admin_key` — with ``http-admin-key`` set, admin actions must also
  present the key, as ``Authorization: Bearer KEY`` or HTTP Basic with the key
  as the password (any user name); compared by SHA-256 digest in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

__all__ = ["SAFE_METHODS", "cross_site_reason", "has_admin_key", "host_name", "is_allowed_host"]

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# RFC 9110 Host = uri-host [ ":" port ]; uri-host here is a reg-name or an IP literal
# (bracketed for IPv6). Deliberately strict: no userinfo, no percent-encoding.
_HOST: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?")


def host_name(host: str) -> str | None:
    """The host part of a ``Host`` header value, lower-cased, brackets removed (None: invalid)."""
    found = _HOST.fullmatch(host.strip())
    if found is None:
        return None
    return found.group(1).strip("[]").lower().rstrip(".")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text  # not a literal (an in-process test client's name): compared as text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket names IPv4 peers ::ffff:a.b.c.d
    return address


def is_allowed_host(host: str | None, server: str | None, names: tuple[str, ...]) -> bool:
    """Does the ``Host`` header ``host`` name this server (address ``server``) or a known name?"""
    if host is None:
        return False
    name = host_name(host)
    if name is None:
        return False
    if name == "localhost" or name in names:
        return True
    return server is not None and _address(name) == _address(server.lower())


def cross_site_reason(method: str, headers: Mapping[str, str]) -> str | None:
    """Why a state-changing request looks cross-site (None: it does not, or it is a read)."""
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request (Sec-Fetch-Site) may not change anything"
    origin = headers.get("origin")
    if origin is None:
        return None
    parts = urlsplit(origin)
    host = headers.get("host", "").lower()
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != host:
        return f"a request from origin {origin[:100]!r} may not change anything"
    return None


def _presented(authorization: str) -> str | None:
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def has_admin_key(authorization: str | None, digest: str | None) -> bool:
    """Does ``authorization`` carry the key whose ``sha256:HEX`` is ``digest`` (None: no key)?"""
    if digest is None:
        return True
    key = _presented(authorization or "")
    if key is None:
        return False
    given = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return hmac.compare_digest(given, digest)
