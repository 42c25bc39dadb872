"""The accuracy benchmark's scoring: what counts as detected, found, right and wrong."""

from __future__ import annotations

from benchmarks.accuracy import Score, format_table, score_message
from classifiers.types import MessageReport, RecipientReport


def _row(kind: str, recipients: str) -> dict[str, str]:
    return {"file": "fam/x.eml", "kind": kind, "recipients": recipients}


def _rcpt(address: str, cls: str, fault: str = "recipient") -> RecipientReport:
    return RecipientReport(address, "failed", "5.1.1", "", "", "bad-mailbox", cls, "r", fault)  # type: ignore[arg-type]


def test_a_missed_bounce_counts_against_detection_and_recall() -> None:
    """An expected DSN read as unknown: not detected, its recipient not found."""
    row = _row("dsn", "a@example.com|hard|bad-mailbox|recipient")
    s = score_message(row, MessageReport("unknown", (), None, "no", "none", {}))
    assert (s.reports, s.detected, s.addresses, s.found, s.class_right) == (1, 0, 1, 0, 0)
    assert s.misses == ["fam/x.eml: a@example.com expected hard, got None"]


def test_addresses_compare_case_insensitively_and_a_wrong_hard_costs_precision() -> None:
    """A found address in another case counts; a soft called hard lowers hard precision."""
    row = _row(
        "dsn", "A@Example.com|soft|quota-issues|recipient;b@example.com|hard|bad-mailbox|recipient"
    )
    report = MessageReport(
        "dsn",
        (_rcpt("a@example.com", "hard"), _rcpt("b@example.com", "hard", "sender")),
        None,
        "",
        "d",
        {},
    )
    s = score_message(row, report)
    assert (s.found, s.class_right, s.called_hard, s.hard_right) == (2, 1, 2, 1)
    assert (s.failures, s.fault_right) == (2, 1)


def test_the_table_has_a_line_per_family_and_dashes_where_nothing_was_expected() -> None:
    """A family without complaints shows '-' in the complaint column."""
    total = Score(messages=1, reports=1, detected=1, addresses=1, found=1)
    table = format_table(total, {"fam": total})
    assert table.splitlines()[1].startswith("fam")
    assert table.splitlines()[-1].split()[:3] == ["all", "1", "1.000"]
    assert "-" in table.splitlines()[-1]
