"""Details of the loop that bit in review: feedback types, domains, pauses, queue-to, backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acctpipe.eventstore import Store
from acctpipe.feedback.follower import overrides
from acctpipe.feedback.loop import PolicyLoop, bounds_from_config
from acctpipe.ingest.loader import Loader
from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import (
    StoredThrottle,
    SuppressionStore,
    ThrottleStore,
    normalise_domain,
)
from mta.config import parse_config_text
from mta.suppression import SuppressionEntry, SuppressionSet

HEADER = "type,timeLogged,orig,rcpt,feedbackType,dsnStatus,dsnDiag,vmta\r\n"
T = "2026-11-25 10:00:00+0000"


@pytest.mark.slow
def test_only_complaint_feedback_types_suppress_and_history_is_not_backfilled(
    tmp_path: Path,
) -> None:
    """abuse/fraud/virus suppress; not-spam, auth-failure and opt-out do not; old rows wait."""
    acct = tmp_path / "acct.csv"
    acct.write_text(HEADER + f"b,{T},n@s.test,old@example.com,,5.1.1,smtp;550 5.1.1 unknown,v\r\n")
    engine = open_database(f"sqlite:///{tmp_path / 's.sqlite'}")
    store = Store.open(tmp_path / "e.duckdb")
    try:
        Loader(store).load(acct)
        suppressions = SuppressionStore(engine)
        loop = PolicyLoop(store.conn, suppressions, ThrottleStore(engine))
        kinds = ["abuse", "fraud", "virus", "not-spam", "auth-failure", "opt-out"]
        with acct.open("a", encoding="utf-8") as f:
            f.writelines(f"f,{T},n@s.test,{k}@example.com,{k},,,v\r\n" for k in kinds)
        Loader(store).load(acct)
        loop.run_once(datetime(2026, 11, 25, 10, 1, tzinfo=UTC))
        suppressed = {s.address: s.reason for s in suppressions.iter_all()}
    finally:
        store.close()
        engine.dispose()
    assert suppressed == {f"{k}@example.com": "complaint" for k in ("abuse", "fraud", "virus")}


def test_sender_domain_scope_matches_idn_and_trailing_dots() -> None:
    """domain:<sender> entries apply however the sender's domain is spelt."""
    s = SuppressionSet(normalise_domain=normalise_domain)
    s.apply([SuppressionEntry("bob@example.net", "domain:xn--bcher-kva.example", "hard-bounce")])
    for sender in ("news@Bücher.example", "news@xn--bcher-kva.example", "news@bücher.example."):
        assert s.reason("bob@example.net", sender=sender, now=0) == "hard-bounce"


def test_a_pause_keeps_the_slow_rate_for_after_it() -> None:
    """A pause decision carrying a rate holds the queue, then leaves it slowed (not full speed)."""
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    decision = ThrottleDecision(
        "gmail.com", "v1", "pause", "spam-block", now, now + timedelta(minutes=15),
        rate=6.4, evidence={"pause_s": 30.0},
    )  # fmt: skip
    (override,) = overrides([StoredThrottle(1, decision)])
    assert override.rate == 6.4
    assert override.paused_until == now.timestamp() + 30
    assert override.expires_at == (now + timedelta(minutes=15)).timestamp()


def test_queue_to_names_take_the_settings_of_their_domains() -> None:
    """A queue-to queue gets its feeding domain's adaptive bounds, not the '*' defaults."""
    config = parse_config_text(
        "<domain yahoo.com>\n queue-to yahoo-all\n adaptive-throttling yes\n"
        " max-msg-rate 10/s\n</domain>\n"
    )
    bounds = bounds_from_config(config)("yahoo-all", "default")
    assert bounds.adaptive
    assert bounds.ceiling == 10.0


def test_a_locked_sql_store_is_retried_on_the_next_run(tmp_path: Path) -> None:
    """A SQL store locked past its busy timeout (SqlStoreUnavailableError) fails one run:
    run_once logs it and returns 0; the next run, the lock gone, acts on the events."""
    import sqlite3
    from typing import Any

    from sqlalchemy import event

    acct = tmp_path / "acct.csv"
    acct.write_text(HEADER + f"f,{T},n@s.test,abuse@example.com,abuse,,,v\r\n")
    path = tmp_path / "s.sqlite"
    engine = open_database(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _impatient(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    engine.dispose()  # new connections, with the short busy timeout
    store = Store.open(tmp_path / "e.duckdb")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        Loader(store).load(acct)
        suppressions = SuppressionStore(engine)
        loop = PolicyLoop(store.conn, suppressions, ThrottleStore(engine), backfill=True)
        holder.execute("BEGIN IMMEDIATE")
        assert loop.run_once(datetime(2026, 11, 25, 10, 1, tzinfo=UTC)) == 0
        holder.execute("ROLLBACK")
        assert loop.run_once(datetime(2026, 11, 25, 10, 1, tzinfo=UTC)) == 1
        suppressed = [s.address for s in suppressions.iter_all()]
    finally:
        holder.close()
        store.close()
        engine.dispose()
    assert suppressed == ["abuse@example.com"]
