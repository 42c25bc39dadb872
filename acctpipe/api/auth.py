"""Who may call the API: the key on a request, its scope, and its rate limit.

A key travels as ``Authorization: Bearer acp_…`` or ``X-API-Key: acp_…`` (and,
on the routes that take it, as the password of HTTP basic auth: an ESP such as
Amazon SNS can send no header of its own, only ``https://user:KEY@host/…``). The
dashboard's browser session carries it in an HttpOnly cookie, which is honoured
for GET and HEAD only: a cookie rides along on cross-site requests, so it must
never be enough to change anything (no CSRF by construction).

Failures, as problem+json: no key → 401 (with ``WWW-Authenticate``); an unknown,
wrong or revoked key → 401; a key whose scope is too low → 403; a key over its
rate → 429 with ``Retry-After``. A client address that has presented more than
``ApiSettings.auth_failures_per_minute`` bad keys (bursts of 10) gets 429 with
``Retry-After`` for any key it has not used successfully lately, without the key
being looked up, until its budget refills.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from acctpipe.api._ratelimit import FailureLimiter, RateLimiter
from acctpipe.api.keys import ApiKey, ApiKeyStore, Scope, allows
from acctpipe.api.settings import Services

__all__ = [
    "COOKIE_NAME",
    "RATE_TAKEN",
    "Authenticator",
    "basic_password",
    "client_address",
    "header_token",
    "presented_key",
    "require",
    "services",
]

COOKIE_NAME: Final = "acctpipe_key"
# Set in the request's state (to the key's id) by whoever already spent this request's
# rate-limit token (the fast lookup path, before falling back to the route).
RATE_TAKEN: Final = "rate_limit_taken"
DEFAULT_AUTH_FAILURES: Final = 30  # bad keys per minute per client address
_CACHE_LIMIT: Final = 10_000
_VOUCHED_FOR: Final = 600.0  # seconds a key that worked is looked up despite its address's limit
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer acp_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="Dashboard session")
_UNAUTHENTICATED: Final = {"WWW-Authenticate": 'Bearer realm="acctpipe"'}
# Basic first: SNS sends its URL's credentials only once challenged for them.
_UNAUTHENTICATED_BASIC: Final = {"WWW-Authenticate": 'Basic realm="acctpipe", Bearer'}


class Authenticator:
    """Checks keys against the store, remembering good ones for ``ttl`` seconds.

    The cache is keyed by the key's digest, so no plaintext key is kept; a
    revoked key stops working within ``ttl``. Unknown keys are not cached (a
    stream of garbage must not grow memory); they are counted against the
    client's address in ``failures`` instead. A key that worked in the last ten
    minutes is still looked up while its address is limited, so a good client
    sharing an address (NAT) with a key-guessing one keeps working.
    """

    def __init__(
        self,
        keys: ApiKeyStore,
        *,
        ttl: float,
        limiter: RateLimiter,
        failures: FailureLimiter | None = None,
    ) -> None:
        self.keys = keys
        self.ttl = ttl
        self.limiter = limiter
        self.failures = FailureLimiter(DEFAULT_AUTH_FAILURES) if failures is None else failures
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._vouched: dict[str, float] = {}  # digest → until when a lookup bypasses the limit
        self._lock = threading.Lock()

    async def check(self, presented: str, client: str | None = None) -> ApiKey | None:
        """The live key ``presented`` is, or None (a failure counted against ``client``).

        Raises a 429 HTTPException, before looking the key up, while ``client``
        is over its budget of failed authentications.
        """
        digest = _digest(presented)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            vouched = self._vouched.get(digest, 0.0) > now
        if hit is not None and hit[1] > now:
            return hit[0]
        address = client or "unknown"
        wait = 0.0 if vouched else self.failures.wait(address)
        if wait > 0:
            raise HTTPException(
                429,
                f"too many unknown or revoked API keys from {address}; retry later",
                headers={"Retry-After": RateLimiter.retry_after(wait)},
            )
        key = await run_in_threadpool(self.keys.authenticate, presented)
        with self._lock:
            if key is None:
                self._vouched.pop(digest, None)
            else:
                if len(self._vouched) >= _CACHE_LIMIT:
                    self._vouched.clear()
                self._vouched[digest] = now + _VOUCHED_FOR
        if key is None:
            self.failures.failed(address)
        elif self.ttl > 0:
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[digest] = (key, now + self.ttl)
        return key

    def cached(self, presented: str) -> ApiKey | None:
        """The key ``presented`` is if :meth:`check` verified it less than ``ttl`` ago, else
        None (nothing looked up, nothing counted: ask :meth:`check`)."""
        digest = _digest(presented)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        return hit[0] if hit is not None and hit[1] > now else None


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()


def client_address(request: Request) -> str:
    """The address a request came from (the socket's, never a forwarded header)."""
    return request.client.host if request.client else "unknown"


def presented_key(request: Request) -> str | None:
    """The key a request carries: Bearer, X-API-Key, or (GET/HEAD only) the cookie."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    header = request.headers.get("x-api-key")
    if header:
        return header
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(COOKIE_NAME) or None
    return None


async def header_token(request: Request) -> str | None:
    """The key in a request's headers, read as :func:`require` reads it: ``Authorization:
    Bearer``, else ``X-API-Key`` (None when neither holds one)."""
    bearer = await _bearer(request)
    return bearer.credentials if bearer is not None else await _header(request)


async def services(request: Request) -> Services:
    """The app's :class:`Services` (a FastAPI dependency).

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread
    pool, and a hop to a thread to read an attribute cost more than the lookup it
    served (measured with ``benchmarks.api_lookup``).
    """
    found: Services = request.app.state.services
    return found


def basic_password(request: Request) -> str | None:
    """The password of an ``Authorization: Basic`` header (the user name is ignored)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def require(scope: Scope, *, basic: bool = False) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting keys with at least ``scope``; it returns the key.

    With ``basic``, the key may also come as the password of HTTP basic auth,
    and a request without a key is challenged for it (``WWW-Authenticate: Basic``).
    """
    unauthenticated = _UNAUTHENTICATED_BASIC if basic else _UNAUTHENTICATED

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
        cookie: Annotated[str | None, Security(_cookie)],
    ) -> ApiKey:
        token = bearer.credentials if bearer is not None else header
        if token is None and basic:
            token = basic_password(request)
        if token is None and request.method in ("GET", "HEAD"):
            token = cookie
        if not token:
            raise HTTPException(
                401,
                "an API key is required: send 'Authorization: Bearer acp_…' "
                "(create one with: acctpipe apikey create NAME)",
                headers=unauthenticated,
            )
        auth: Authenticator = request.app.state.authenticator
        key = await auth.check(token, client_address(request))
        if key is None:
            raise HTTPException(401, "unknown or revoked API key", headers=unauthenticated)
        request.state.key_id = key.key_id
        if not allows(key.scope, scope):
            raise HTTPException(
                403, f"this key has scope {key.scope!r}; this needs {scope!r} or higher"
            )
        settings = request.app.state.services.settings  # (services() is a dependency)
        state = request.scope.get("state") or {}
        if state.pop(RATE_TAKEN, None) == key.key_id:
            return key  # the fast lookup path took this request's token, then fell back
        wait = auth.limiter.take(key.key_id, key.rate_limit or settings.rate_limit)
        if wait > 0:
            raise HTTPException(
                429,
                f"rate limit of {key.rate_limit or settings.rate_limit} requests per minute "
                "exceeded for this key",
                headers={"Retry-After": RateLimiter.retry_after(wait)},
            )
        return key

    return dependency
