"""Signed CRM webhooks with a transactional outbox (see docs/webhooks.md).

* :mod:`~acctpipe.webhooks.events` — event types and their payloads;
* :class:`Outbox` — writes messages in the transaction of the decision
  (``change_hook`` for :class:`~acctpipe.sqlstore.suppressions.SuppressionStore`,
  ``throttle_hook`` for :class:`~acctpipe.sqlstore.suppressions.ThrottleStore`, ``publish``);
* :class:`WebhookStore` — subscriptions, secrets, messages, replay, backlog stats;
* :class:`WebhookWorker` — delivery with leases, retries, dead letters;
* :func:`sign_headers` — the Standard Webhooks headers of one attempt.
"""

from acctpipe.webhooks.events import (
    EVENT_TYPES,
    EventType,
    WebhookEvent,
    sample_event,
    summary_event,
    suppression_events,
    throttle_event,
)
from acctpipe.webhooks.filters import FILTER_FIELDS, filter_matches, validate_filter
from acctpipe.webhooks.model import (
    MESSAGE_STATUSES,
    Attempt,
    Message,
    MessageStatus,
    SigningSecret,
    Subscription,
    UnknownSubscriptionError,
)
from acctpipe.webhooks.outbox import Outbox, new_msg_id
from acctpipe.webhooks.signing import SECRET_PREFIX, USER_AGENT, new_secret, sign_headers
from acctpipe.webhooks.store import WebhookStats, WebhookStore, validate_event_types, validate_url
from acctpipe.webhooks.worker import DEFAULT_SCHEDULE, WebhookWorker

__all__ = [
    "DEFAULT_SCHEDULE",
    "EVENT_TYPES",
    "FILTER_FIELDS",
    "MESSAGE_STATUSES",
    "SECRET_PREFIX",
    "USER_AGENT",
    "Attempt",
    "EventType",
    "Message",
    "MessageStatus",
    "Outbox",
    "SigningSecret",
    "Subscription",
    "UnknownSubscriptionError",
    "WebhookEvent",
    "WebhookStats",
    "WebhookStore",
    "WebhookWorker",
    "filter_matches",
    "new_msg_id",
    "new_secret",
    "sample_event",
    "sign_headers",
    "summary_event",
    "suppression_events",
    "throttle_event",
    "validate_event_types",
    "validate_filter",
    "validate_url",
]
