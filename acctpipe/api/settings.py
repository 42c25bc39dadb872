"""What the HTTP API is built from: its settings and the services it serves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from acctpipe.analytics.sandbox import SqlSandbox
    from acctpipe.analytics.source import EventSource
    from acctpipe.api._slots import QuerySlots
    from acctpipe.api.keys import ApiKeyStore
    from acctpipe.api.mtalink import MtaLink
    from acctpipe.esp import EspIntake
    from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
    from acctpipe.webhooks.store import WebhookStore

__all__ = ["ApiSettings", "Services"]

DEFAULT_RATE_LIMIT: Final = 1200  # requests per minute per key


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Limits and knobs of the API (defaults suit one node)."""

    rate_limit: int = DEFAULT_RATE_LIMIT  # per key per minute, unless the key says otherwise
    auth_failures_per_minute: int = 30  # bad keys per client address, then 429
    key_cache_seconds: float = 5.0  # a revoked key stops working within this
    sql_max_rows: int = 10_000
    sql_max_bytes: int = 16 << 20  # of result rows as JSON; past it the rows are cut
    sql_timeout: float = 10.0
    sql_concurrency: int = 4  # reports and SQL queries at once; more answer 429
    sql_per_key: int = 2  # of those, one key at most (always fewer than sql_concurrency)
    sql_memory_limit: int = 512 << 20  # per SQL worker process (DuckDB's memory_limit)
    sql_threads: int = 1  # DuckDB threads per SQL worker process
    sql_snapshot_max_age: float = 5.0  # seconds; /v1/sql reads a copy at most this old
    feed_max_limit: int = 10_000
    feed_max_wait: float = 30.0  # long-poll ceiling, seconds
    feed_poll_interval: float = 0.2  # how often a waiting feed request looks again
    sse_heartbeat: float = 15.0
    bulk_batch: int = 5_000  # suppressions per transaction in a bulk request
    bulk_max_bytes: int = 1 << 30  # a bulk body over this is refused (413): ~10M rows
    secure_cookies: bool = False  # set the dashboard cookie Secure (behind HTTPS)
    node: str = "acctpipe"


@dataclass(slots=True)
class Services:
    """The stores and links the routes use; ``events``/``webhooks``/``mta`` may be absent."""

    engine: Engine
    suppressions: SuppressionStore
    throttles: ThrottleStore
    keys: ApiKeyStore
    webhooks: WebhookStore | None = None
    events: EventSource | None = None
    mta: MtaLink | None = None
    esp: EspIntake | None = None  # POST /v1/esp/{provider}: where ESP notifications go
    settings: ApiSettings = field(default_factory=ApiSettings)
    # Extra readiness checks by component name: each returns None when healthy,
    # else one line saying what is wrong (acctpipe run adds the MTA, the tailer...).
    checks: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    # Reports and SQL queries in flight (set by create_app from settings.sql_concurrency).
    query_slots: threading.BoundedSemaphore | None = None
    # The same slots counted per API key (set by create_app from settings.sql_per_key).
    key_slots: QuerySlots | None = None
    # Where /v1/sql runs user SQL (set by create_app when there is an event store).
    sql: SqlSandbox | None = None
