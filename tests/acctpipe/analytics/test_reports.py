"""Named reports: their numbers equal the same counts computed from the rows in Python."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from acctpipe.analytics import (
    REPORTS,
    ReportParameterError,
    SharedStore,
    UnknownReportError,
    run_report,
    throttle_history,
)
from acctpipe.analytics.result import QueryResult
from acctpipe.eventstore import Store
from acctpipe.policy.types import ThrottleAction, ThrottleDecision
from acctpipe.sqlstore.suppressions import ThrottleStore
from classifiers.fault import FAULTS
from mta.errors import InputDataError
from tests.acctpipe.analytics._data import NOW, SYNTHETIC, Row, build, raw_events, stats

_COUNTED = ("d", "b", "rb", "t", "tq", "f")


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture
def shared(events_db: Path) -> Iterator[SharedStore]:
    """The events database opened by its writer, read through a SharedStore."""
    store = Store.open(events_db)
    yield SharedStore(store)
    store.close()


@pytest.fixture(scope="module")
def rows(events_db: Path) -> list[Row]:
    """Every stored event, for the Python oracle."""
    return raw_events(events_db)


def _records(result: QueryResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _by_pair(rows: list[Row], since: datetime) -> dict[tuple[str | None, str | None], Any]:
    groups: dict[tuple[str | None, str | None], list[Row]] = defaultdict(list)
    for row in rows:
        if row.type in _COUNTED and since <= row.at <= NOW:
            groups[(row.domain, row.vmta)].append(row)
    return {key: stats(members) for key, members in groups.items()}


def _pairs(result: QueryResult) -> dict[tuple[str | None, str | None], Any]:
    return {(r.pop("rcpt_domain"), r.pop("vmta")): pytest.approx(r) for r in _records(result)}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_returns_its_documented_columns(shared: SharedStore, name: str) -> None:
    """Each report's result has exactly the columns it declares, in order."""
    result = run_report(shared, name, now=NOW)
    assert tuple(result.columns) == REPORTS[name].columns
    assert result.rows
    json.dumps(result.as_dict(), allow_nan=False)


def test_delivery_by_domain_counts_the_window(shared: SharedStore, rows: list[Row]) -> None:
    """Per domain and vmta, the counts and rates are those of the last `days` days' rows."""
    result = run_report(shared, "delivery-by-domain", {"days": 3}, now=NOW)
    assert _pairs(result) == _by_pair(rows, NOW - timedelta(days=3))
    attempted = [r["attempted"] for r in _records(result)]
    assert attempted == sorted(attempted, reverse=True)
    assert not result.truncated


def test_delivery_by_domain_filters_and_limits(shared: SharedStore, rows: list[Row]) -> None:
    """``domain`` (any case) and ``vmta`` narrow the rows; ``limit`` cuts and says so."""
    since = NOW - timedelta(days=7)
    result = run_report(
        shared, "delivery-by-domain", {"domain": " GMAIL.com ", "vmta": "vmta-a"}, now=NOW
    )
    expected = {k: v for k, v in _by_pair(rows, since).items() if k == ("gmail.com", "vmta-a")}
    assert _pairs(result) == expected
    limited = run_report(shared, "delivery-by-domain", {"limit": "2"}, now=NOW)
    assert len(limited.rows) == 2
    assert limited.truncated


def test_user_values_are_bound_not_spliced(shared: SharedStore) -> None:
    """A domain carrying SQL is just a domain nobody mails: no rows, no error."""
    result = run_report(shared, "delivery-by-domain", {"domain": "x' OR 1=1 --"}, now=NOW)
    assert result.rows == []


def test_today_counts_since_utc_midnight(shared: SharedStore, rows: list[Row]) -> None:
    """``today`` is delivery-by-domain from 00:00 UTC to now."""
    midnight = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC)
    result = run_report(shared, "today", now=NOW)
    assert _pairs(result) == _by_pair(rows, midnight)


def test_rates_by_day_has_every_day_of_the_window(shared: SharedStore, rows: list[Row]) -> None:
    """One row per UTC day, empty days as zeros, each day's counts those of its rows."""
    result = run_report(shared, "rates-by-day", {"days": 14}, now=NOW)
    days = [r["day"] for r in _records(result)]
    first = NOW.date() - timedelta(days=13)
    assert days == [first + timedelta(days=n) for n in range(14)]
    for record in _records(result):
        day = record.pop("day")
        members = [r for r in rows if r.type in _COUNTED and r.at.astimezone(UTC).date() == day]
        assert record == pytest.approx(stats(members)), day
    empty = _records(result)[0]
    assert (empty["attempted"], empty["delivery_rate"]) == (0, None)


def test_rates_by_day_agree_with_the_daily_view(shared: SharedStore) -> None:
    """Summed over domains, daily_domain_stats has the same counts as rates-by-day."""
    result = run_report(shared, "rates-by-day", {"days": 14}, now=NOW)
    with shared.connect() as conn:
        view = conn.execute(
            "SELECT day, sum(attempted), sum(delivered), sum(bounced), sum(hard_bounces),"
            " sum(soft_bounces), sum(spam_blocks), sum(deferrals), sum(complaints)"
            " FROM daily_domain_stats GROUP BY day"
        ).fetchall()
    by_day = {row[0]: tuple(int(v) for v in row[1:]) for row in view}
    for record in _records(result):
        counts = tuple(record[c] for c in REPORTS["rates-by-day"].columns[1:9])
        assert by_day.get(record["day"], (0,) * 8) == counts


def test_top_diagnostics_ranks_the_most_frequent(shared: SharedStore, rows: list[Row]) -> None:
    """Diagnostics of bounces and deferrals, most frequent first, with their class."""
    result = run_report(shared, "top-diagnostics", {"limit": 100}, now=NOW)
    expected: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in rows:
        if row.type in ("b", "rb", "t", "tq") and NOW - timedelta(days=7) <= row.at:
            expected[(row.diag, row.status, row.cls, row.category)] += 1
    found = {
        (r["dsn_diag"], r["dsn_status"], r["bounce_class"], r["bounce_category"]): r["events"]
        for r in _records(result)
    }
    assert found == expected
    counts = [r["events"] for r in _records(result)]
    assert counts == sorted(counts, reverse=True)
    for record in _records(result):
        assert record["events"] == record["bounces"] + record["deferrals"]


def test_top_diagnostics_say_whose_fault_each_diagnostic_is(shared: SharedStore) -> None:
    """Each diagnostic row says whether the recipient, our sender, our host or the path failed."""
    result = run_report(shared, "top-diagnostics", {"limit": 100}, now=NOW)
    records = _records(result)
    assert records
    assert {r["fault"] for r in records} <= set(FAULTS)
    by_class = {r["bounce_class"]: r["fault"] for r in records if r["bounce_class"] == "hard"}
    assert set(by_class.values()) <= {"recipient"}


def test_top_diagnostics_filters_by_class(shared: SharedStore) -> None:
    """``bounce_class`` keeps only that class; ``limit`` cuts the list."""
    result = run_report(shared, "top-diagnostics", {"bounce_class": "hard"}, now=NOW)
    assert {r["bounce_class"] for r in _records(result)} == {"hard"}
    short = run_report(shared, "top-diagnostics", {"limit": 1}, now=NOW)
    assert len(short.rows) == 1
    assert short.truncated


def test_ingest_status_shows_offsets_quarantine_and_lag(
    shared: SharedStore, rows: list[Row], events_db: Path
) -> None:
    """The followed file's committed offset is its size; lag is now minus the newest event."""
    (record,) = _records(run_report(shared, "ingest-status", now=NOW))
    csv_file = events_db.parent / "acct-2026-11-25.csv"
    newest = max(r.at for r in rows)
    assert record["path"] == str(csv_file)
    assert (record["kind"], record["status"]) == ("accounting", "active")
    assert record["offset"] == record["size_seen"] == csv_file.stat().st_size
    assert record["bytes_behind"] == 0
    assert record["rows"] == SYNTHETIC + 3
    assert record["quarantined"] == 1
    assert record["newest_time_logged"] == newest
    assert record["seconds_behind"] == pytest.approx((NOW - newest).total_seconds())


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("delivery-by-domain", {"days": 0}, "days: must be between 1 and 366, got 0"),
        ("delivery-by-domain", {"days": 367}, "days: must be between 1 and 366"),
        ("delivery-by-domain", {"days": "week"}, "days: must be an integer"),
        ("delivery-by-domain", {"days": True}, "days: must be an integer"),
        ("delivery-by-domain", {"limit": 10_001}, "limit: must be between 1 and 10000"),
        ("delivery-by-domain", {"domain": 5}, "domain: must be text"),
        ("delivery-by-domain", {"domain": "x" * 256}, "domain: longer than 255"),
        ("delivery-by-domain", {"sql": "DROP"}, "sql: unknown parameter"),
        ("top-diagnostics", {"bounce_class": "bogus"}, "must be one of hard, soft, spam"),
        ("ingest-status", {"days": 1}, "days: unknown parameter (allowed: limit)"),
    ],
)
def test_bad_parameters_are_refused_before_the_query(
    tmp_path: Path, name: str, params: dict[str, object], message: str
) -> None:
    """Unknown, mistyped or out-of-bounds parameters raise an input error naming them."""

    class Unopenable:
        def connect(self) -> Any:
            raise AssertionError("the database must not be opened for bad parameters")

    with pytest.raises(ReportParameterError) as caught:
        run_report(Unopenable(), name, params, now=NOW)
    assert message in str(caught.value)
    assert isinstance(caught.value, InputDataError)


def test_parameters_from_a_query_string_are_converted() -> None:
    """Text values (as in ``?days=5&domain=``) become ints; empty text means the default."""
    bound = REPORTS["delivery-by-domain"].bind({"days": "5", "domain": "", "limit": " 7 "})
    assert bound == {"days": 5, "domain": None, "vmta": None, "limit": 7}


def test_an_unknown_report_lists_the_known_ones(shared: SharedStore) -> None:
    """Asking for a report that does not exist names the ones that do."""
    with pytest.raises(UnknownReportError) as caught:
        run_report(shared, "nope")
    assert caught.value.known == sorted(REPORTS)
    assert "delivery-by-domain" in str(caught.value)


def test_now_must_be_timezone_aware(shared: SharedStore) -> None:
    """A naive ``now`` is refused: windows are instants in UTC."""
    with pytest.raises(ValueError, match="timezone-aware"):
        run_report(shared, "today", now=datetime(2026, 11, 25))  # noqa: DTZ001


def _decision(queue: str, vmta: str, action: ThrottleAction, minutes: int) -> ThrottleDecision:
    at = NOW - timedelta(minutes=minutes)
    return ThrottleDecision(
        queue=queue,
        vmta=vmta,
        action=action,
        rule="deferral-burst",
        decided_at=at,
        expires_at=at + timedelta(minutes=30),
        rate=5.0,
        max_smtp_out=2,
        evidence={"deferrals": 12.0},
        event_ids=("1:100",),
        detail="12 deferrals in 60 s",
    )


def test_throttle_history_reads_decisions_newest_first(engine: Engine) -> None:
    """Throttle decisions come back newest first, filtered by queue, vmta and since."""
    store = ThrottleStore(engine)
    ids = [
        store.record(_decision("gmail.com", "vmta-a", "slow", 50)),
        store.record(_decision("gmail.com", "vmta-b", "pause", 40)),
        store.record(_decision("yahoo.com", "vmta-a", "slow", 30)),
        store.record(_decision("gmail.com", "vmta-a", "ramp", 10)),
    ]
    everything = throttle_history(engine)
    assert [r[0] for r in everything.rows] == [ids[3], ids[2], ids[1], ids[0]]
    assert len(everything.types) == len(everything.columns)
    first = dict(zip(everything.columns, everything.json_rows()[0], strict=True))
    assert first["action"] == "ramp"
    assert first["decided_at"] == (NOW - timedelta(minutes=10)).isoformat()
    assert first["evidence"] == {"deferrals": 12.0}
    assert first["event_ids"] == ["1:100"]
    gmail = throttle_history(engine, queue="gmail.com", since=NOW - timedelta(minutes=45))
    assert [r[0] for r in gmail.rows] == [ids[3], ids[1]]
    pair = throttle_history(engine, queue="gmail.com", vmta="vmta-a", limit=1)
    assert [r[0] for r in pair.rows] == [ids[3]]
    assert pair.truncated


def test_throttle_history_checks_its_arguments(engine: Engine) -> None:
    """A limit out of bounds or a naive ``since`` is an input error."""
    with pytest.raises(ReportParameterError, match="limit"):
        throttle_history(engine, limit=0)
    with pytest.raises(ReportParameterError, match="since"):
        throttle_history(engine, since=datetime(2026, 1, 1))  # noqa: DTZ001
