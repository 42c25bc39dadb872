"""Verdicts kept across batches: the same verdict as classifying afresh, bounded, per table."""

from __future__ import annotations

import polars as pl

from acctpipe.ingest import events_frame
from acctpipe.ingest.bulk import parse_block
from acctpipe.ingest.verdicts import Verdicts
from classifiers import load_rules
from classifiers.vector import OUTPUT_COLUMNS, classify_frame
from mta.acct import DEFAULT_HEADER
from tests.acctpipe._acct import header, rows

DIAGS = [
    "smtp;550 5.1.1 The email account that you tried to reach does not exist",
    "smtp;421 4.7.0 Our system has detected an unusual rate of mail, deferred",
    None,
    "smtp;552 5.2.2 Mailbox full",
    "smtp;550 5.1.1 The email account that you tried to reach does not exist",
    "",
]
STATUSES = ["5.1.1", "4.7.0", "5.0.0", None, "5.1.1", "4.0.0"]


def _fresh(diags: list[str | None], statuses: list[str | None]) -> pl.DataFrame:
    frame = pl.DataFrame({"d": diags, "s": statuses}, schema={"d": pl.String, "s": pl.String})
    return classify_frame(frame, diag="d", status="s").select(OUTPUT_COLUMNS)


def test_each_row_gets_what_classifying_afresh_gives() -> None:
    verdicts = Verdicts()
    got = verdicts.of(pl.Series(DIAGS, dtype=pl.String), pl.Series(STATUSES), None)
    assert got.equals(_fresh(DIAGS, STATUSES))
    assert len(verdicts) == 5  # distinct (diag, status) pairs, null counted as ""


def test_later_batches_reuse_known_pairs_and_add_new_ones() -> None:
    verdicts = Verdicts()
    verdicts.of(pl.Series(DIAGS[:2]), pl.Series(STATUSES[:2]), None)
    later = ["smtp;451 4.7.1 Greylisted", DIAGS[0]]
    got = verdicts.of(pl.Series(later), pl.Series(["4.7.1", "5.1.1"]), None)
    assert got.equals(_fresh(later, ["4.7.1", "5.1.1"]))
    assert len(verdicts) == 3


def test_a_new_table_starts_over_and_the_limit_bounds_memory() -> None:
    verdicts = Verdicts(limit=3)
    verdicts.of(pl.Series(DIAGS), pl.Series(STATUSES), None)
    table = load_rules(
        '[[rule]]\nid = "mine"\ntext = "mailbox full"\nclass = "hard"\ncategory = "bad-mailbox"\n'
    )
    got = verdicts.of(pl.Series([DIAGS[3]]), pl.Series([""]), table)
    assert got.get_column("bounce_rule").to_list() == ["mine"]
    assert len(verdicts) == 1
    verdicts.of(pl.Series(["a", "b", "c"]), pl.Series(["", "", ""]), table)
    assert len(verdicts) == 3  # over the limit: started over with this batch's pairs


def test_events_frame_fills_the_verdicts_it_is_given() -> None:
    block = parse_block(DEFAULT_HEADER, len(header()), rows(0, 8))
    assert block is not None
    verdicts = Verdicts()  # empty, so falsy: it must still be the one filled
    frame, _ = events_frame([block], "acct.csv", 1, verdicts=verdicts)
    assert len(verdicts) > 0
    again, _ = events_frame([block], "acct.csv", 1, verdicts=verdicts)
    assert again.equals(frame)


def test_long_diagnostics_are_bounded_by_bytes_too() -> None:
    verdicts = Verdicts(limit_bytes=100)
    verdicts.of(pl.Series(["x" * 60, "y" * 30]), pl.Series(["", ""]), None)
    assert len(verdicts) == 2
    verdicts.of(pl.Series(["z" * 60]), pl.Series([""]), None)
    assert len(verdicts) == 1  # 150 bytes would be over: started over
