"""import_csv through the set-based path: what applying each row's decision gives, fast."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from acctpipe.policy.normalise import normalise_scope
from acctpipe.policy.types import SuppressionDecision
from acctpipe.sqlstore.suppressions import SuppressionStore, import_csv
from acctpipe.sqlstore.suppressions._pipeline import run_pipeline
from tests.acctpipe.sqlstore._decisions import T0
from tests.acctpipe.sqlstore.suppressions.test_bulkwrite import _snapshot, _wipe

CLOCK = T0 + timedelta(hours=1)
FORMS = [
    "john@example.com",
    "John@Example.COM",
    "<jane@example.com>",
    '"john doe"@example.com',
    "jürgen@bücher.example",
    "a+tag@xn--bcher-kva.example",
    "  spaced@example.com  ",
    "not an address",
    "@example.com",
    "x@exa_mple.com",
    "x@-bad.example",
    "# a comment",
    "",
    "a" * 65 + "@example.com",
    "dup@example.com",
    "DUP@example.com",
    "user@[192.0.2.1]",
    '"quoted,comma"@example.com',
]


def _file(lines: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in lines:
        writer.writerow([line] if line else [])
    return out.getvalue().encode()


def _careful(store: SuppressionStore, data: bytes, scope: str) -> tuple[list[tuple[int, str]], int]:
    """The reference: each content row's decision applied one by one; the bad rows' notes."""
    bad: list[tuple[int, str]] = []
    decisions: list[SuppressionDecision] = []
    reader = csv.reader(io.StringIO(data.decode()))
    for fields in reader:
        if not fields or not fields[0].strip() or fields[0].lstrip().startswith("#"):
            continue
        try:
            address = store.normalise(fields[0])
        except ValueError as exc:
            bad.append((reader.line_num, str(exc)))
            continue
        decisions.append(
            SuppressionDecision(
                address=address,
                scope=normalise_scope(scope),
                reason="manual",
                event_ids=(),
                decided_at=T0,
                detail="imported list",
            )
        )
    for d in decisions:
        store.apply([d])
    return bad, len(decisions)


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.sampled_from(FORMS), min_size=1, max_size=30).filter(
        lambda ls: "@" in next((x for x in ls if x.strip() and not x.startswith("#")), "")
    ),
    scope=st.sampled_from(["global", "list:news", "Domain:Shop.Example"]),
    batch=st.sampled_from([1, 3, 1000]),
)
def test_a_plain_list_imports_as_its_decisions_apply(
    engine: Engine, lines: list[str], scope: str, batch: int
) -> None:
    """Rows, log, counts and bad-row line numbers equal applying each row's decision."""
    data = _file(lines)
    store = SuppressionStore(engine, clock=lambda: CLOCK)
    _wipe(engine)
    bad, good = _careful(store, data, scope)
    expected = _snapshot(engine)
    _wipe(engine)
    report = import_csv(store, io.BytesIO(data), scope=scope, batch=batch, now=T0)
    assert [(n.line, n.message) for n in report.bad] == bad
    assert report.rows == good + len(bad)
    assert report.added + report.updated + report.unchanged == good
    assert _snapshot(engine) == expected
    again = import_csv(store, io.BytesIO(data), scope=scope, batch=batch, now=T0)
    assert (again.added, again.updated, again.unchanged) == (0, 0, good)


def test_a_headed_and_a_headerless_list_give_the_same_rows(store_engine: Engine) -> None:
    """`email` as a header goes the per-row format path; the same list without it the fast one."""
    lines = ["a@example.com", "B@Example.com", "bad", "jürgen@bücher.example"]
    store = SuppressionStore(store_engine, clock=lambda: CLOCK)
    plain = import_csv(store, io.BytesIO(_file(lines)), now=T0)
    first = _snapshot(store_engine)
    _wipe(store_engine)
    headed = import_csv(store, io.BytesIO(_file(["email", *lines])), now=T0)
    assert _snapshot(store_engine) == first
    assert [(n.line + 1, n.message) for n in plain.bad] == [(n.line, n.message) for n in headed.bad]


@pytest.fixture
def store_engine(engine: Engine) -> Engine:
    """The test's engine (a name that does not shadow the hypothesis test's)."""
    return engine


def test_a_reader_error_reaches_the_caller_and_stops_the_writer() -> None:
    """run_pipeline raises what the reader raised, after writing what came before."""
    written: list[int] = []

    def batches() -> Iterator[int]:
        yield 1
        raise csv.Error("field larger than field limit")

    with pytest.raises(csv.Error, match="field limit"):
        run_pipeline(batches(), written.append)
    assert written == [1]


def test_a_writer_error_stops_the_reader() -> None:
    """When a write fails, the reader thread stops instead of reading the whole input."""
    read = 0
    finished = threading.Event()

    def batches() -> Iterator[int]:
        nonlocal read
        try:
            for i in range(1_000_000):
                read += 1
                yield i
        finally:
            finished.set()

    def write(_: int) -> None:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        run_pipeline(batches(), write)
    assert read < 10


@pytest.mark.slow
def test_a_200k_list_imports_counts_and_reimports_unchanged(engine: Engine) -> None:
    """200,000 addresses (with duplicates): counts kept, the log has one add each, and a
    second import of the file reports every row unchanged."""
    n = 200_000
    data = "".join(f"user{i % 190_000}@domain{i % 1000}.example\n" for i in range(n)).encode()
    store = SuppressionStore(engine)
    report = import_csv(store, io.BytesIO(data), reason="unsubscribe", scope="list:news")
    assert (report.rows, report.added, report.updated, report.unchanged) == (n, 190_000, 0, 10_000)
    assert store.counts() == {("unsubscribe", "list"): 190_000}
    assert store.last_cursor() == 190_000
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar() == 190_000
        missing = conn.execute(text("SELECT count(*) FROM suppressions WHERE lookup_key IS NULL"))
        assert missing.scalar() == 0
    again = import_csv(store, io.BytesIO(data), reason="unsubscribe", scope="list:news")
    assert (again.added, again.updated, again.unchanged) == (0, 0, n)
    assert store.last_cursor() == 190_000
