"""Webhook subscriptions and the outbox, as the CLI and the HTTP API see them.

:class:`WebhookStore` creates, changes and deletes subscriptions (and rotates
their secrets), lists outbox messages and their attempts, replays messages and
reports the backlog. Writing messages is the :class:`~acctpipe.webhooks.Outbox`'s
job; delivering them the :class:`~acctpipe.webhooks.WebhookWorker`'s.

**Replay keeps the webhook-id.** A replayed message is the same message: same
``msg_id`` (the ``webhook-id`` header) and the same body, with a fresh
``webhook-timestamp`` and signature. A receiver that deduplicates on
``webhook-id`` will treat a replay as a duplicate and drop it — replay is for
receivers that lost or failed to process a message, not for forcing a
reprocess of one they acknowledged.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypedDict
from urllib.parse import urlsplit

from sqlalchemy import Engine, and_, func, insert, not_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from acctpipe.redact import redact_url
from acctpipe.sqlstore.schema import webhook_attempts, webhook_messages, webhook_subscriptions
from acctpipe.webhooks._tx import utcnow, writing
from acctpipe.webhooks.events import EVENT_TYPES
from acctpipe.webhooks.filters import validate_filter
from acctpipe.webhooks.model import (
    MESSAGE_STATUSES,
    Attempt,
    Message,
    MessageStatus,
    SigningSecret,
    Subscription,
    UnknownSubscriptionError,
    secrets_to_json,
    subscription_from_row,
)
from acctpipe.webhooks.signing import new_secret, validate_secret
from mta.errors import BadFilterError, InvalidSubscriptionError, InvalidValueError

__all__ = ["WebhookStats", "WebhookStore", "validate_event_types", "validate_url"]

_S = webhook_subscriptions.c
_M = webhook_messages.c
_A = webhook_attempts.c
_MAX_PAGE: Final = 1000


class WebhookStats(TypedDict):
    """The outbox backlog: messages per status, how many are due, the oldest pending one."""

    pending: int
    delivered: int
    dead: int
    cancelled: int
    due: int  # pending and next_attempt_at <= now
    oldest_pending_age_seconds: float  # now - created_at of the oldest pending; 0.0 if none


def validate_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else ValueError.

    The error shows the URL without its user name and password; a URL whose
    userinfo is ``***`` is refused, since it is one we showed redacted.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InvalidSubscriptionError(
            f"webhook URL must be http:// or https://, not {redact_url(url)!r}"
        )
    if not parts.hostname:
        raise InvalidSubscriptionError(f"webhook URL has no host: {redact_url(url)!r}")
    if parts.netloc.rpartition("@")[0] == "***":
        raise InvalidSubscriptionError(
            "webhook URL has a redacted user name and password (***@): give the real ones"
        )
    return url.strip()


def validate_event_types(event_types: Iterable[str]) -> tuple[str, ...]:
    """The event types, checked and deduplicated (ValueError on an unknown one or none)."""
    if isinstance(event_types, str):
        event_types = [event_types]
    chosen: list[str] = []
    for name in event_types:
        if name != "*" and name not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            raise InvalidSubscriptionError(
                f"unknown event type {name!r}: one of {known}, or '*' for all"
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidSubscriptionError("a subscription needs at least one event type ('*' for all)")
    return tuple(chosen)


class WebhookStore:
    """Subscriptions and outbox messages on an engine from :mod:`acctpipe.sqlstore`."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self._clock = clock

    # -- subscriptions ----------------------------------------------------------------

    def create(
        self,
        url: str,
        event_types: Iterable[str],
        *,
        filter: Mapping[str, Any] | None = None,
        description: str = "",
        secret: str | None = None,
        enabled: bool = True,
    ) -> Subscription:
        """A new subscription; its secret is ``secret`` or a new one (``.secret`` shows it).

        ValueError (with a message a user can act on) for a URL that is not
        http(s), an unknown event type, a bad filter or a malformed secret.
        """
        now = self._clock()
        values = {
            "url": validate_url(url),
            "event_types": list(validate_event_types(event_types)),
            "filter": validate_filter(filter),
            "secrets": secrets_to_json(
                (SigningSecret(validate_secret(secret) if secret else new_secret()),)
            ),
            "description": description,
            "enabled": enabled,
            "created_at": now,
            "updated_at": now,
        }
        with writing(self.engine) as conn:
            new_id = conn.execute(insert(webhook_subscriptions).returning(_S.id), values)
            return self._get(conn, int(new_id.scalar_one()))

    def _get(self, conn: Connection, subscription_id: int) -> Subscription:
        row = conn.execute(select(webhook_subscriptions).where(_S.id == subscription_id)).first()
        if row is None:
            raise UnknownSubscriptionError(subscription_id)
        return subscription_from_row(row)

    def _live(self, conn: Connection, subscription_id: int) -> Subscription:
        found = self._get(conn, subscription_id)
        if found.deleted_at is not None:
            raise UnknownSubscriptionError(subscription_id)
        return found

    def get(self, subscription_id: int) -> Subscription | None:
        """The subscription (deleted ones too, with ``deleted_at``), or None."""
        with self.engine.connect() as conn:
            try:
                return self._get(conn, subscription_id)
            except UnknownSubscriptionError:
                return None

    def list(self, *, include_deleted: bool = False) -> builtins.list[Subscription]:
        """Every subscription by id (without deleted ones unless ``include_deleted``)."""
        query = select(webhook_subscriptions).order_by(_S.id)
        if not include_deleted:
            query = query.where(_S.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return [subscription_from_row(r) for r in conn.execute(query)]

    def update(
        self,
        subscription_id: int,
        *,
        url: str | None = None,
        event_types: Iterable[str] | None = None,
        filter: Mapping[str, Any] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Subscription:
        """Change the fields given (None: keep; ``filter={}`` clears the filter).

        UnknownSubscriptionError if it does not exist or was deleted. Messages
        already in the outbox keep their body; a disabled subscription's
        pending messages are cancelled when the worker reaches them.
        """
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = validate_url(url)
        if event_types is not None:
            values["event_types"] = list(validate_event_types(event_types))
        if filter is not None:
            values["filter"] = validate_filter(filter)
        if description is not None:
            values["description"] = description
        if enabled is not None:
            values["enabled"] = enabled
        with writing(self.engine) as conn:
            self._live(conn, subscription_id)
            values["updated_at"] = self._clock()
            conn.execute(update(webhook_subscriptions).where(_S.id == subscription_id), values)
            return self._get(conn, subscription_id)

    def delete(self, subscription_id: int) -> int:
        """Soft-delete: disable it, set ``deleted_at``, cancel its pending messages (count).

        Deleting a deleted subscription again changes nothing and returns 0;
        UnknownSubscriptionError if the id never existed.
        """
        with writing(self.engine) as conn:
            found = self._get(conn, subscription_id)
            if found.deleted_at is not None:
                return 0
            now = self._clock()
            conn.execute(
                update(webhook_subscriptions)
                .where(_S.id == subscription_id)
                .values(enabled=False, deleted_at=now, updated_at=now)
            )
            cancelled = conn.execute(
                update(webhook_messages)
                .where(_M.subscription_id == subscription_id, _M.status == "pending")
                .values(status="cancelled", locked_until=None, locked_by=None)
            )
            return int(cancelled.rowcount)

    def rotate_secret(self, subscription_id: int, *, grace: timedelta = timedelta(hours=24)) -> str:
        """Make a new secret the current one; return it. The old ones sign until now+grace.

        During the grace period every delivery carries one signature per secret
        (new first), so receivers can switch to the new secret whenever they
        like; ``grace=timedelta(0)`` drops the old secrets at once.
        """
        if grace < timedelta(0):
            raise InvalidValueError("grace must not be negative")
        with writing(self.engine) as conn:
            found = self._live(conn, subscription_id)
            now = self._clock()
            until = now + grace
            kept = tuple(
                SigningSecret(s.secret, min(s.expires_at or until, until))
                for s in found.secrets
                if grace and s.is_valid(now)
            )
            fresh = new_secret()
            conn.execute(
                update(webhook_subscriptions)
                .where(_S.id == subscription_id)
                .values(secrets=secrets_to_json((SigningSecret(fresh), *kept)), updated_at=now)
            )
            return fresh

    # -- messages ---------------------------------------------------------------------

    def messages(
        self,
        *,
        status: MessageStatus | None = None,
        subscription_id: int | None = None,
        event_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[Message]:
        """Up to ``limit`` (≤ 1000) messages by id, strictly after ``after_id``.

        Keyset pagination: pass the last ``id`` of a page to get the next.
        ``since`` (inclusive) and ``until`` (exclusive) bound ``created_at``.
        """
        if status is not None and status not in MESSAGE_STATUSES:
            raise BadFilterError(f"unknown status {status!r}: one of {', '.join(MESSAGE_STATUSES)}")
        query = select(webhook_messages).order_by(_M.id).limit(max(1, min(limit, _MAX_PAGE)))
        if status is not None:
            query = query.where(_M.status == status)
        if subscription_id is not None:
            query = query.where(_M.subscription_id == subscription_id)
        if event_type is not None:
            query = query.where(_M.event_type == event_type)
        if since is not None:
            query = query.where(_M.created_at >= since)
        if until is not None:
            query = query.where(_M.created_at < until)
        if after_id is not None:
            query = query.where(_M.id > after_id)
        with self.engine.connect() as conn:
            return [Message(**r._mapping) for r in conn.execute(query)]

    def message(self, msg_id: str) -> Message | None:
        """The message with this ``webhook-id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(webhook_messages).where(_M.msg_id == msg_id)).first()
        return None if row is None else Message(**row._mapping)

    def attempts(self, msg_id: str) -> builtins.list[Attempt]:
        """Every delivery attempt of message ``msg_id``, oldest first."""
        query = (
            select(webhook_attempts)
            .join(webhook_messages, _M.id == _A.message_id)
            .where(_M.msg_id == msg_id)
            .order_by(_A.attempted_at, _A.id)
        )
        with self.engine.connect() as conn:
            return [Attempt(**r._mapping) for r in conn.execute(query)]

    def replay(
        self,
        msg_ids: Sequence[str] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        subscription_id: int | None = None,
    ) -> int:
        """Queue messages for delivery again, whatever their status; return how many.

        Selects by ``msg_ids`` and/or ``created_at`` in [``since``, ``until``) and/or
        ``subscription_id`` (at least one). Each becomes ``pending``, due now, with
        a fresh retry budget — and keeps its ``msg_id`` and body (see the module
        docstring). Skipped: messages of deleted subscriptions, and messages a
        worker is delivering right now (their lease has not expired).
        """
        conditions: builtins.list[ColumnElement[bool]] = []
        if msg_ids is not None:
            conditions.append(_M.msg_id.in_(builtins.list(msg_ids)))
        if since is not None:
            conditions.append(_M.created_at >= since)
        if until is not None:
            conditions.append(_M.created_at < until)
        if subscription_id is not None:
            conditions.append(_M.subscription_id == subscription_id)
        if not conditions:
            raise BadFilterError(
                "say which messages to replay: ids, a time range or a subscription"
            )
        with writing(self.engine) as conn:
            now = self._clock()
            live = select(_S.id).where(_S.deleted_at.is_(None))
            in_flight = and_(_M.status == "pending", _M.locked_until > now)
            result = conn.execute(
                update(webhook_messages)
                .where(*conditions, _M.subscription_id.in_(live), not_(in_flight))
                .values(
                    status="pending",
                    next_attempt_at=now,
                    attempts=0,
                    locked_until=None,
                    locked_by=None,
                    delivered_at=None,
                )
            )
            return int(result.rowcount)

    def stats(self) -> WebhookStats:
        """Counts by status, the number due now, and the age of the oldest pending message."""
        now = self._clock()
        with self.engine.connect() as conn:
            grouped = select(_M.status, func.count()).group_by(_M.status)
            counts: dict[str, int] = {str(k): int(v) for k, v in conn.execute(grouped)}
            due, oldest = conn.execute(
                select(
                    func.count().filter(_M.next_attempt_at <= now),
                    func.min(_M.created_at),
                ).where(_M.status == "pending")
            ).one()
        return WebhookStats(
            pending=int(counts.get("pending", 0)),
            delivered=int(counts.get("delivered", 0)),
            dead=int(counts.get("dead", 0)),
            cancelled=int(counts.get("cancelled", 0)),
            due=int(due or 0),
            oldest_pending_age_seconds=(
                max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
            ),
        )
