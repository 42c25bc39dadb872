"""The DuckDB schema, as versioned DDL migrations (DESIGN.md contract 4).

Analysts write SQL against these tables and views, so they are an API:
``docs/schema.md`` documents every column and ``tests/snapshots/duckdb-schema.sql``
pins the DDL. A change is a new entry appended to :data:`MIGRATIONS`, never an
edit of an old one; :func:`migrate` applies the missing ones in order, each in
its own transaction with its ``schema_version`` row.
"""

from __future__ import annotations

from typing import Final

import duckdb

from acctpipe.eventstore.rates import daily_stats_sql
from mta.errors import StoreError

__all__ = ["EVENT_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "current_version", "migrate"]

# (snake_case column, DuckDB type, PowerMTA field it comes from or "" if derived)
# The columns migration 1 created, as it shipped (migrations are never edited).
_V1_EVENT_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("type", "VARCHAR NOT NULL", "type"),
    ("time_logged", "TIMESTAMPTZ", "timeLogged"),
    ("time_queued", "TIMESTAMPTZ", "timeQueued"),
    ("orig", "VARCHAR", "orig"),
    ("rcpt", "VARCHAR", "rcpt"),
    ("rcpt_domain", "VARCHAR", ""),
    ("orcpt", "VARCHAR", "orcpt"),
    ("dsn_action", "VARCHAR", "dsnAction"),
    ("dsn_status", "VARCHAR", "dsnStatus"),
    ("dsn_diag", "VARCHAR", "dsnDiag"),
    ("dsn_mta", "VARCHAR", "dsnMta"),
    ("bounce_cat", "VARCHAR", "bounceCat"),
    ("bounce_class", "VARCHAR", ""),
    ("bounce_category", "VARCHAR", ""),
    ("bounce_rule", "VARCHAR", ""),
    ("src_type", "VARCHAR", "srcType"),
    ("src_mta", "VARCHAR", "srcMta"),
    ("dlv_type", "VARCHAR", "dlvType"),
    ("dlv_source_ip", "VARCHAR", "dlvSourceIp"),
    ("dlv_destination_ip", "VARCHAR", "dlvDestinationIp"),
    ("dlv_esmtp_available", "VARCHAR", "dlvEsmtpAvailable"),
    ("dlv_size", "BIGINT", "dlvSize"),
    ("vmta", "VARCHAR", "vmta"),
    ("job_id", "VARCHAR", "jobId"),
    ("env_id", "VARCHAR", "envId"),
    ("queue", "VARCHAR", "queue"),
    ("vmta_pool", "VARCHAR", "vmtaPool"),
    ("feedback_type", "VARCHAR", "feedbackType"),
    ("format", "VARCHAR", "format"),
    ("user_agent", "VARCHAR", "userAgent"),
    ("reporting_mta", "VARCHAR", "reportingMta"),
    ("reported_domain", "VARCHAR", "reportedDomain"),
    ("arrival_date", "TIMESTAMPTZ", "arrivalDate"),
    ("source_ip", "VARCHAR", "sourceIp"),
    ("time_imprinted", "TIMESTAMPTZ", "timeImprinted"),
    ("time_first_attempt", "TIMESTAMPTZ", "timeFirstAttempt"),
    ("total_seconds_queued", "BIGINT", "totalSecondsQueued"),
    ("dlv_tls_protocol", "VARCHAR", "dlvTlsProtocol"),
    ("dlv_tls_cipher", "VARCHAR", "dlvTlsCipher"),
    ("extra", "VARCHAR", ""),
    ("file_id", "BIGINT NOT NULL", ""),
    ("source_file", "VARCHAR NOT NULL", ""),
    ("source_offset", "BIGINT NOT NULL", ""),
)

EVENT_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    *_V1_EVENT_COLUMNS,
    # Migration 4: whose fault a failure is (classifiers.fault), appended by ALTER TABLE.
    ("fault", "VARCHAR", ""),
)
"""The ``events`` table, in column order: name, DuckDB type, source field."""

_EVENTS = ",\n    ".join(f"{name} {kind}" for name, kind, _ in _V1_EVENT_COLUMNS)

_V1: Final = (
    """CREATE TABLE files (
    file_id BIGINT PRIMARY KEY,
    path VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    device UBIGINT NOT NULL,
    inode UBIGINT NOT NULL,
    fingerprint VARCHAR NOT NULL,
    fingerprint_len INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    header VARCHAR[],
    status VARCHAR NOT NULL,
    size_seen BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    newest_time_logged TIMESTAMPTZ,
    first_seen TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
)""",
    f"CREATE TABLE events (\n    {_EVENTS}\n)",
    """CREATE TABLE rejects (
    time_logged TIMESTAMPTZ NOT NULL,
    remote_ip VARCHAR,
    remote_port INTEGER,
    helo VARCHAR,
    mail_from VARCHAR,
    rcpt VARCHAR,
    command VARCHAR,
    reply VARCHAR,
    reason VARCHAR,
    auth_user VARCHAR,
    listener VARCHAR,
    file_id BIGINT NOT NULL,
    source_file VARCHAR NOT NULL,
    source_offset BIGINT NOT NULL
)""",
    """CREATE TABLE quarantine (
    file_id BIGINT NOT NULL,
    source_file VARCHAR NOT NULL,
    source_offset BIGINT NOT NULL,
    length BIGINT NOT NULL,
    raw BLOB NOT NULL,
    reason VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
)""",
)

# Migration 1's text, kept as it shipped (migrations are never edited): its bounce_rate
# counted only `b` rows. Migration 3 redefines both views from acctpipe.eventstore.rates.
_V1_STATS: Final = """
    count(*) FILTER (WHERE type = 'd') AS delivered,
    count(*) FILTER (WHERE type IN ('b', 'rb')) AS bounced,
    count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'hard') AS hard_bounces,
    count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'soft') AS soft_bounces,
    count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'spam') AS spam_blocks,
    count(*) FILTER (WHERE type IN ('t', 'tq')) AS deferrals,
    count(*) FILTER (WHERE type = 'f') AS complaints,
    count(*) FILTER (WHERE type IN ('d', 'b')) AS attempted,
    delivered / nullif(attempted, 0) AS delivery_rate,
    count(*) FILTER (WHERE type = 'b') / nullif(attempted, 0) AS bounce_rate,
    complaints / nullif(delivered, 0) AS complaint_rate"""

_VIEWS: Final = (
    f"""CREATE VIEW daily_domain_stats AS
SELECT CAST(timezone('UTC', time_logged) AS DATE) AS day, rcpt_domain,{_V1_STATS}
FROM events
GROUP BY ALL""",  # noqa: S608 - constant text, no input spliced
    f"""CREATE VIEW daily_vmta_stats AS
SELECT CAST(timezone('UTC', time_logged) AS DATE) AS day, vmta,{_V1_STATS}
FROM events
GROUP BY ALL""",  # noqa: S608 - constant text, no input spliced
    """CREATE VIEW top_bounce_diagnostics AS
SELECT bounce_class, bounce_category, bounce_rule, dsn_status, dsn_diag,
    count(*) AS events, count(DISTINCT rcpt_domain) AS domains,
    min(time_logged) AS first_seen, max(time_logged) AS last_seen
FROM events WHERE type IN ('b', 't', 'tq', 'rb')
GROUP BY ALL
ORDER BY events DESC""",
    """CREATE VIEW complaints AS
SELECT time_logged, rcpt, rcpt_domain, orig, feedback_type, user_agent, reporting_mta,
    reported_domain, arrival_date, source_ip, vmta, job_id, env_id, source_file, source_offset
FROM events WHERE type = 'f'""",
    """CREATE VIEW ingest_lag AS
SELECT file_id, path, kind, status, "offset", size_seen,
    greatest(size_seen - "offset", 0) AS bytes_behind, rows, quarantined,
    newest_time_logged, updated_at,
    date_diff('millisecond', newest_time_logged, updated_at) / 1000.0 AS lag_seconds
FROM files
ORDER BY updated_at DESC""",
)

_V2_FEEDBACK: Final = (
    # How far the feedback loop has read the events table (by rowid: events are only
    # ever appended, so rowids grow in commit order). Its decisions are idempotent, so
    # a crash between deciding and saving this only makes it look at a batch again.
    """CREATE TABLE feedback_progress (
    name VARCHAR PRIMARY KEY,
    last_rowid BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
)""",
)

_V3_RATES: Final = tuple(
    # One definition of every count and rate (acctpipe.eventstore.rates), the one the reports,
    # the dashboard and /metrics use: bounce_rate is (b + rb) / attempted, by class too.
    f"CREATE OR REPLACE VIEW daily_{by}_stats AS\n{daily_stats_sql(column)}"
    for by, column in (("domain", "rcpt_domain"), ("vmta", "vmta"))
)

_V4_FAULT: Final = (
    # Whose fault each failure is (recipient, sender, our-host, network, content,
    # unknown), set at ingest from the classification; NULL for rows ingested before.
    "ALTER TABLE events ADD COLUMN fault VARCHAR",
    """CREATE OR REPLACE VIEW top_bounce_diagnostics AS
SELECT bounce_class, bounce_category, bounce_rule, dsn_status, dsn_diag,
    count(*) AS events, count(DISTINCT rcpt_domain) AS domains,
    min(time_logged) AS first_seen, max(time_logged) AS last_seen, fault
FROM events WHERE type IN ('b', 't', 'tq', 'rb')
GROUP BY ALL
ORDER BY events DESC""",
)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    ("CREATE SEQUENCE file_ids START 1", *_V1, *_VIEWS),
    _V2_FEEDBACK,
    _V3_RATES,
    _V4_FAULT,
)
"""Migration ``n`` (1-based) is ``MIGRATIONS[n - 1]``: its DDL statements in order."""

SCHEMA_VERSION: Final = len(MIGRATIONS)


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the database behind ``conn`` (0 when empty)."""
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: duckdb.DuckDBPyConnection) -> int:
    """Bring the database up to :data:`SCHEMA_VERSION`; return the version it was at.

    Raises :class:`~mta.errors.StoreError` for a database newer than this program.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version"
        " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    start = current_version(conn)
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {start} is newer than this acctpipe ({SCHEMA_VERSION})"
        )
    for version in range(start + 1, SCHEMA_VERSION + 1):
        conn.begin()
        try:
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return start
