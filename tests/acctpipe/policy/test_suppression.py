"""decide_suppressions: hard and complaints for good, repeated soft for a while, spam never."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from acctpipe.policy.suppression import (
    decide_suppressions,
    default_suppression_policy,
    history_addresses,
    human_duration,
)
from acctpipe.policy.types import Event
from tests.acctpipe.policy._events import T0, at, event

POLICY = default_suppression_policy()
DAY = 86400.0
QUOTA = {"cls": "soft", "category": "quota-issues", "status": "4.2.2"}


def hard(seconds: float = 0.0, rcpt: str = "ann@example.com", **fields: str) -> Event:
    """A 550 5.1.1 bounce."""
    reply = {"cls": "hard", "category": "bad-mailbox", "status": "5.1.1"}
    return event("b", seconds, reply | fields, rcpt=rcpt)


def soft(seconds: float, rcpt: str = "bob@example.net", type_: str = "b", **fields: str) -> Event:
    """A soft final failure (a full mailbox)."""
    return event(type_, seconds, QUOTA | fields, rcpt=rcpt)


def test_hard_bounce_suppresses_for_good_globally() -> None:
    """A hard ``b`` suppresses the normalised address in the global scope, without expiry."""
    bounce = hard(rcpt="Ann@Example.COM")
    [decision] = decide_suppressions([bounce], {}, POLICY, at(10))
    assert decision.address == "ann@example.com"  # the store's form (acctpipe.policy.normalise)
    assert (decision.scope, decision.reason) == ("global", "hard-bounce")
    assert decision.expires_at is None
    assert decision.event_ids == (bounce.event_id,)
    assert decision.decided_at == at(10)
    assert decision.notify is False
    assert decision.detail == "1 hard bounce 5.1.1 (bad-mailbox)"


def test_async_hard_bounce_counts_but_a_transient_row_does_not() -> None:
    """An ``rb`` of class hard suppresses; a ``t`` row never does (it is one attempt)."""
    rb = event("rb", rcpt="ann@example.com", cls="hard", category="bad-mailbox")
    t = event("t", rcpt="cy@example.com", cls="hard", category="bad-mailbox")
    decisions = decide_suppressions([rb, t], {}, POLICY, T0)
    assert [(d.address, d.event_ids) for d in decisions] == [("ann@example.com", (rb.event_id,))]


@pytest.mark.parametrize(
    ("scope", "fields", "expected"),
    [
        ("sender-domain", {"sender": "news@Mail.Shop.example"}, "domain:mail.shop.example"),
        ("sender-domain", {"sender": ""}, "global"),
        ("job", {"job_id": "spring-sale"}, "list:spring-sale"),
        ("job", {"job_id": ""}, "global"),
    ],
)
def test_hard_bounce_scope_is_configurable(
    scope: str, fields: dict[str, str], expected: str
) -> None:
    """Scope sender-domain gives domain:<sender domain>, job gives list:<job id>, else global."""
    policy = replace(POLICY, hard_scope=scope)  # type: ignore[arg-type]
    [decision] = decide_suppressions([hard(0.0, **fields)], {}, policy, T0)
    assert decision.scope == expected


def test_complaint_suppresses_for_good_and_notifies() -> None:
    """An ``f`` record (or any complaint-class row) suppresses for good with notify=True."""
    fbl = event("f", rcpt="dee@example.org")
    arf = event("rb", rcpt="eve@example.org", cls="complaint")
    decisions = decide_suppressions([fbl, arf], {}, POLICY, T0)
    assert [(d.address, d.reason, d.notify, d.expires_at) for d in decisions] == [
        ("dee@example.org", "complaint", True, None),
        ("eve@example.org", "complaint", True, None),
    ]
    assert decisions[0].detail == "1 complaint (feedback-loop report)"
    quiet = replace(POLICY, complaint_notify=False)
    assert not decide_suppressions([fbl], {}, quiet, T0)[0].notify


def test_one_decision_per_address_and_scope_complaint_first() -> None:
    """A complaint outranks a hard bounce for the same address; ids are not mixed."""
    bounce, fbl = hard(1, rcpt="ann@example.com"), event("f", 2, rcpt="<Ann@EXAMPLE.com>")
    [decision] = decide_suppressions([bounce, fbl], {}, POLICY, T0)
    assert (decision.reason, decision.event_ids) == ("complaint", (fbl.event_id,))


def test_two_hard_bounces_are_one_decision_naming_both() -> None:
    """Repeated hard bounces of one address make one decision listing every event, in time order."""
    late, early = hard(5), hard(1)
    [decision] = decide_suppressions([late, early], {}, POLICY, T0)
    assert decision.event_ids == (early.event_id, late.event_id)
    assert decision.detail.startswith("2 hard bounces")


def test_spam_and_unknown_failures_never_suppress() -> None:
    """The receiver refusing *us* (spam) or an unreadable failure says nothing about the address."""
    rows = [
        event(t, s, rcpt="fay@example.com", cls=c, category="spam-related")
        for t in ("b", "rb", "t")
        for c in ("spam", "unknown")
        for s in range(6)
    ]
    assert decide_suppressions(rows, {}, POLICY, at(10)) == []


def test_five_soft_bounces_in_seven_days_suppress_for_thirty_days() -> None:
    """The fifth soft bounce within 7 days (none delivered since) suppresses for 30 days."""
    history = [soft(n * DAY) for n in range(4)]
    fifth = soft(4 * DAY)
    now = at(4 * DAY + 60)
    [decision] = decide_suppressions([fifth], {"bob@example.net": history}, POLICY, now)
    assert decision.reason == "soft-bounce-repeated"
    assert decision.event_ids == tuple(e.event_id for e in [*history, fifth])
    assert decision.expires_at == fifth.time + timedelta(days=30)
    assert decision.detail == "5 soft bounces in 7 days (quota-issues)"
    assert decision.notify is False


@pytest.mark.parametrize("fault", ["network", "our-host", "sender", "content", "unknown"])
def test_only_soft_failures_that_are_the_recipients_fault_count(fault: str) -> None:
    """Timeouts or refusals of our host, however many, never suppress the address."""
    history = [soft(n * DAY, fault=fault) for n in range(4)]
    now = at(4 * DAY + 60)
    assert (
        decide_suppressions([soft(4 * DAY, fault=fault)], {"bob@example.net": history}, POLICY, now)
        == []
    )
    recipient = [soft(n * DAY, fault="recipient") for n in range(4)]
    [decision] = decide_suppressions(
        [soft(4 * DAY, fault="recipient")], {"bob@example.net": recipient}, POLICY, now
    )
    assert decision.reason == "soft-bounce-repeated"


def test_four_soft_bounces_are_not_enough() -> None:
    """Below the count nothing happens."""
    history = [soft(n * DAY) for n in range(3)]
    assert (
        decide_suppressions([soft(3 * DAY)], {"bob@example.net": history}, POLICY, at(4 * DAY))
        == []
    )


def test_failures_older_than_the_window_do_not_count() -> None:
    """A failure 8 days before ``now`` is outside the 7-day window."""
    history = [soft(0), *(soft(n * DAY) for n in range(5, 8))]
    now = at(8 * DAY + 1)
    assert decide_suppressions([soft(8 * DAY)], {"bob@example.net": history}, POLICY, now) == []


def test_a_delivery_resets_the_count() -> None:
    """Failures before the latest delivery to the address no longer count."""
    before = [soft(n * 3600) for n in range(4)]
    delivered = event("d", 5 * 3600, rcpt="<Bob@Example.NET>")
    after = soft(6 * 3600)
    history = {"bob@example.net": [*before, delivered]}
    assert decide_suppressions([after], history, POLICY, at(7 * 3600)) == []
    # The same failures without the delivery suppress.
    assert decide_suppressions([after], {"bob@example.net": before}, POLICY, at(7 * 3600))


def test_transient_rows_do_not_count_by_default_but_can() -> None:
    """A ``t`` is one retry of a queued message: five of them suppress only when configured."""
    retries = [soft(n * 600, type_="t") for n in range(5)]
    assert decide_suppressions(retries, {}, POLICY, at(3600)) == []
    counting = replace(POLICY, soft_records=("b", "rb", "t"))
    assert len(decide_suppressions(retries, {}, counting, at(3600))) == 1


def test_soft_categories_filter() -> None:
    """With ``categories``, only soft failures of those categories count."""
    rows = [soft(n, category="bad-connection") for n in range(5)]
    only_quota = replace(POLICY, soft_categories=("quota-issues",))
    assert decide_suppressions(rows, {}, only_quota, at(10)) == []
    assert decide_suppressions(rows, {}, POLICY, at(10))


def test_history_without_new_failures_decides_nothing() -> None:
    """Old failures alone (a batch with only a delivery elsewhere) make no soft decision."""
    history = {"bob@example.net": [soft(n) for n in range(6)]}
    batch = [event("d", 10, rcpt="zed@example.net")]
    assert decide_suppressions(batch, history, POLICY, at(20)) == []


def test_history_overlapping_the_batch_is_counted_once() -> None:
    """Rows already stored appear in both batch and history; they count once."""
    rows = [soft(n) for n in range(4)]
    decisions = decide_suppressions(rows, {"bob@example.net": rows}, POLICY, at(10))
    assert decisions == []


def test_decay_weighs_old_failures_less() -> None:
    """With a half-life, failures days apart weigh less than five; clustered ones reach it."""
    policy = replace(POLICY, soft_half_life=timedelta(days=1))
    spread = [soft(n * DAY) for n in range(5)]
    assert decide_suppressions(spread[-1:], {"bob@example.net": spread}, policy, at(4 * DAY)) == []
    clustered = [soft(n * 60) for n in range(5)]
    [decision] = decide_suppressions(clustered, {}, policy, at(300))
    assert "weight 5.00" in decision.detail
    assert "half-life 1 day" in decision.detail


def test_soft_scope_groups_failures_and_deliveries_per_scope() -> None:
    """With a per-job scope, each job counts its own failures and resets on its own deliveries."""
    policy = replace(POLICY, soft_scope="job")
    rows = [soft(n, job_id="a") for n in range(5)] + [soft(n, job_id="b") for n in range(4)]
    [decision] = decide_suppressions(rows, {}, policy, at(10))
    assert decision.scope == "list:a"


def test_history_addresses_are_the_normalised_soft_recipients() -> None:
    """The caller fetches history only for recipients of counting soft failures, normalised."""
    batch = [soft(0, rcpt="Bob@Example.NET"), hard(0), event("d", rcpt="cy@example.com")]
    batch.append(soft(0, rcpt="dan@example.net", type_="t"))
    batch.append(soft(0, rcpt="not an address"))
    assert history_addresses(batch, POLICY) == ("bob@example.net",)


def test_now_must_be_timezone_aware() -> None:
    """A naive ``now`` is refused: event times are timezone-aware."""
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_suppressions([], {}, POLICY, datetime(2026, 5, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=7), "7 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=36), "36 h"),
        (timedelta(minutes=90), "90 min"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(seconds=1.5), "1.5 s"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    """Durations in details read the way people write them."""
    assert human_duration(delta) == text


def test_decision_times_use_the_given_now() -> None:
    """decided_at is ``now``: the policy reads no clock."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert decide_suppressions([hard()], {}, POLICY, now)[0].decided_at == now


def test_rows_whose_recipient_is_not_an_address_are_skipped() -> None:
    """A hard bounce or complaint to an unreadable recipient decides nothing and does not raise."""
    rows = [hard(rcpt="not an address"), event("f", rcpt=""), hard(rcpt="x@")]
    assert decide_suppressions(rows, {}, POLICY, T0) == []
