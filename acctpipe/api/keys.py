"""API keys: created once, shown once, stored as a SHA-256 digest, checked in constant time.

A key reads ``acp_<key_id>_<secret>``: ``key_id`` (12 characters) is public and
indexes the row; ``secret`` is 32 random bytes in URL-safe base64. Only the
SHA-256 of the whole key is stored. A slow password hash buys nothing here:
the secret has 256 bits of entropy, so the digest cannot be brute-forced, and a
fast digest keeps a check cheap on every request. The comparison is
:func:`hmac.compare_digest`, so timing does not reveal how much of a guess was
right.

Scopes are ordered: ``read`` < ``write`` < ``admin``; a key may do what its
scope and every lower scope allow.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, get_args

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import OperationalError

from acctpipe.sqlstore.engine import BUSY_TIMEOUT_MS
from acctpipe.sqlstore.schema import api_keys
from mta.errors import InvalidValueError, StoreError

__all__ = ["KEY_PREFIX", "ApiKey", "ApiKeyStore", "Scope", "allows"]

Scope = Literal["read", "write", "admin"]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
KEY_PREFIX: Final = "acp_"
_KEY = re.compile(r"acp_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})")
_ALPHABET: Final = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_K = api_keys.c
_log = logging.getLogger(__name__)
_TOUCH_EVERY: Final = timedelta(minutes=1)  # last_used_at is a hint, not an audit log


def allows(have: Scope, need: Scope) -> bool:
    """True when a key with scope ``have`` may do what needs ``need``."""
    return SCOPES.index(have) >= SCOPES.index(need)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    key_id: str
    name: str
    scope: Scope
    created_at: datetime
    rate_limit: int | None = None  # requests per minute; None: the server's default
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        """True once the key has been revoked."""
        return self.revoked_at is not None


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        key_id=row.key_id,
        name=row.name,
        scope=row.scope,
        created_at=row.created_at,
        rate_limit=row.rate_limit,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ApiKeyStore:
    """API keys in the SQL store (table ``api_keys``)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.engine = engine
        self._clock = clock

    def create(
        self, name: str, scope: Scope = "read", *, rate_limit: int | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key; return it and its plaintext (the only time it is ever shown)."""
        if scope not in SCOPES:
            raise InvalidValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
        if not name.strip():
            raise InvalidValueError("a key needs a name (who or what uses it)")
        if rate_limit is not None and rate_limit < 1:
            raise InvalidValueError("rate limit must be at least 1 request per minute")
        key_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        values = {
            "key_id": key_id,
            "name": name.strip(),
            "scope": scope,
            "secret_hash": _digest(plaintext),
            "rate_limit": rate_limit,
            "created_at": self._clock(),
        }
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(api_keys).returning(_K.id), values).scalar_one()
            row = conn.execute(select(api_keys).where(_K.id == new_id)).one()
        return _key(row), plaintext

    def authenticate(self, presented: str) -> ApiKey | None:
        """The live key ``presented`` is, or None (unknown, malformed, wrong or revoked)."""
        match = _KEY.fullmatch(presented.strip())
        if match is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(_K.key_id == match.group(1))).one_or_none()
        if row is None:
            # Compare anyway, so an unknown key_id costs what a wrong secret costs.
            hmac.compare_digest(_digest(presented), "0" * 64)
            return None
        if not hmac.compare_digest(_digest(presented.strip()), row.secret_hash):
            return None
        key = _key(row)
        if key.is_revoked:
            return None
        now = self._clock()
        if key.last_used_at is None or now - key.last_used_at >= _TOUCH_EVERY:
            self._touch(key.id, now)
        return key

    def _touch(self, key_id: int, now: datetime) -> None:
        """Record ``last_used_at``, if that costs no wait: it is a hint, a request must not
        queue for it. On SQLite an import holds the one write lock for seconds at a time;
        waiting there (up to the 30 s busy timeout) held the request and its pooled
        connection, and lookups behind it stalled for minutes. So the attempt does not
        wait for the lock; a later request records the use instead."""
        statement = update(api_keys).where(_K.id == key_id).values(last_used_at=now)
        try:
            with self.engine.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
                    conn.commit()
                try:
                    conn.execute(statement)
                    conn.commit()
                finally:
                    conn.rollback()
                    if sqlite:
                        conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                        conn.commit()
        except (OperationalError, StoreError) as exc:
            _log.debug("last_used_at of key %d not recorded now: %s", key_id, exc)

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Every key (newest first), without secrets."""
        query = select(api_keys).order_by(_K.id.desc())
        if not include_revoked:
            query = query.where(_K.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_key(r) for r in conn.execute(query)]

    def revoke(self, key_id: str) -> bool:
        """Revoke the key with public id ``key_id``; False if there is no live one."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(api_keys)
                .where(_K.key_id == key_id, _K.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        return bool(result.rowcount)

    def count(self) -> int:
        """How many live keys there are."""
        return len(self.list())
