"""Suppressions and the address check: bad input refused, stored bad rows reported, kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.schema import suppressions
from acctpipe.sqlstore.suppressions.store import add_counts
from tests.acctpipe._cli import run_cli

pytestmark = pytest.mark.slow  # every test here starts an MTA

LEGACY = ("john..doe@example.com", "user@exa_mple.com", "bad\ufffd@example.com")


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("user@-bad-.example", "domain label '-bad-' starts or ends with a hyphen"),
        ("user@exa_mple.com", "underscore in domain label 'exa_mple'"),
        ("../../../etc/passwd@example.com", "local part starts or ends with a dot"),
    ],
)
def test_add_refuses_an_address_the_mta_would_refuse(
    tmp_path: Path, address: str, why: str
) -> None:
    """`suppress add` refuses what the MTA's address check refuses, in one line with the reason."""
    db = ("--database-url", f"sqlite:///{tmp_path / 's.sqlite'}")
    added = run_cli("suppress", "add", address, *db)
    assert added.returncode == 1
    first = added.stderr.splitlines()[0]
    assert first.startswith(f"acctpipe: error: invalid address {address!r}: {why}")


def test_import_reports_bytes_that_are_not_utf8_as_a_bad_line(tmp_path: Path) -> None:
    """A line with bytes that are not UTF-8 is a reported bad line, not a U+FFFD address."""
    db = ("--database-url", f"sqlite:///{tmp_path / 's.sqlite'}")
    listed = tmp_path / "list.txt"
    listed.write_bytes(b"good@example.com\nbr\xfcken@example.com\nuser@exa_mple.com\n")
    report = run_cli("suppress", "import", str(listed), "-f", "plain", *db)
    assert report.returncode == 0, report.stderr
    assert "1 added" in report.stdout
    lines = report.stdout.splitlines()
    assert any(line.startswith("  bad: line 2:") and "not valid UTF-8" in line for line in lines)
    assert any(line.startswith("  bad: line 3:") and "underscore" in line for line in lines)


def test_verify_lists_stored_rows_that_fail_and_changes_nothing(tmp_path: Path) -> None:
    """`suppress verify` names every stored row the address check refuses (exit 1), reading in
    batches; the rows stay as they are, still suppress, and can be removed by hand."""
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    db = ("--database-url", url)
    assert run_cli("suppress", "add", "good@example.com", *db).returncode == 0
    clean = run_cli("suppress", "verify", *db)
    assert (clean.returncode, clean.stdout.strip()) == (
        0,
        "0 of 1 stored suppressions fail the address check",
    )
    now = datetime.now(UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # rows written before the check existed
            conn.execute(
                insert(suppressions),
                [
                    {
                        "address": a,
                        "scope": "global",
                        "reason": "hard-bounce",
                        "detail": "",
                        "event_ids": [],
                        "created_at": now,
                        "updated_at": now,
                        "expires_at": None,
                    }
                    for a in LEGACY
                ],
            )
            # An older acctpipe wrote them; the 0003 migration counted them.
            add_counts(conn, {("hard-bounce", "global"): len(LEGACY)})
        report = run_cli("suppress", "verify", "--batch", "2", *db)
        assert report.returncode == 1, report.stderr
        lines = report.stdout.splitlines()
        assert sorted(lines[:-1]) == sorted(
            [
                "bad: john..doe@example.com (global, hard-bounce): local part starts or ends "
                "with a dot or has two in a row (quote it)",
                "bad: user@exa_mple.com (global, hard-bounce): underscore in domain label "
                "'exa_mple' (not allowed in a host name)",
                "bad: bad\ufffd@example.com (global, hard-bounce): contains U+FFFD, the mark "
                "of text that was not valid UTF-8",
            ]
        )
        assert lines[-1] == "3 of 4 stored suppressions fail the address check (left as they are)"
        with engine.connect() as conn:
            stored = sorted(conn.execute(select(suppressions.c.address)).scalars())
        assert stored == sorted([*LEGACY, "good@example.com"])
        assert run_cli("suppress", "check", "user@exa_mple.com", *db).returncode == 0
        removed = run_cli("suppress", "remove", "user@exa_mple.com", *db)
        assert removed.stdout.startswith("removed: user@exa_mple.com"), removed.stderr
    finally:
        engine.dispose()


async def test_a_stored_row_the_check_refuses_still_suppresses_in_the_mta(tmp_path: Path) -> None:
    """The MTA's in-memory suppression list loads rows the address check now refuses under
    their stored key: they still stop mail (nothing is dropped on the way)."""
    from acctpipe.feedback.follower import MtaFollower
    from acctpipe.sqlstore.migrate import open_database
    from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
    from mta.config import parse_config_text
    from mta.delivery.routing import StaticResolver
    from mta.node.runtime import Mta, MtaOptions

    engine = open_database(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                insert(suppressions),
                [
                    {
                        "address": "user@exa_mple.com",
                        "scope": "global",
                        "reason": "hard-bounce",
                        "detail": "",
                        "event_ids": [],
                        "created_at": now,
                        "updated_at": now,
                        "expires_at": None,
                    }
                ],
            )
        mta = Mta(parse_config_text(""), MtaOptions(tmp_path / "mta", resolver=StaticResolver()))
        follower = MtaFollower(mta, SuppressionStore(engine), ThrottleStore(engine))
        await follower.start()
        try:
            assert mta.suppressions.reason("User@EXA_MPLE.com") == "hard-bounce"
        finally:
            await follower.stop()
    finally:
        engine.dispose()
