"""ThrottleController: each rule acts on its burst, pauses back off, ramps climb to normal."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import pytest

from acctpipe.policy.throttle import PairBounds, ThrottleController, load_throttle_rules
from acctpipe.policy.types import Event, ThrottleDecision
from mta.config.effective import effective_settings
from mta.config.loader import parse_config_text
from mta.config.values import parse_rate
from tests.acctpipe.policy._events import (
    BARE_421,
    BLOCKED_554,
    DEFER_421,
    GMAIL_4728,
    QUEUE_BLOCKED,
    RATE_LIMIT_TEXT,
    at,
    bounds,
    event,
)

PAIR = {"queue": "example.com", "vmta": "v1"}
# A final failure that is not the recipient's fault: the message expired on the path.
EXPIRED = {
    "status": "4.4.7",
    "diag": "smtp;451 4.4.7 Delivery time expired",
    "cls": "soft",
    "category": "message-expired",
    "fault": "network",
}


def rows(
    type_: str,
    n: int,
    start: float = 0.0,
    spacing: float = 1.0,
    reply: Mapping[str, str] | None = None,
) -> list[Event]:
    """``n`` events of one kind for the test pair, ``spacing`` seconds apart from ``start``.

    Ids depend only on the arguments (``t@12.5#0``), so two runs build equal events.
    """
    return [
        event(
            type_,
            start + i * spacing,
            reply,
            rcpt=f"u{i}@example.com",
            event_id=f"{type_}@{start + i * spacing:g}#{i}",
            **PAIR,
        )
        for i in range(n)
    ]


def decide(
    c: ThrottleController, seconds: float, b: PairBounds | None = None
) -> list[ThrottleDecision]:
    """Decisions at T0 + ``seconds`` with test bounds."""
    chosen = b or bounds()
    return c.decide(at(seconds), lambda queue, vmta: chosen)


def complaints(n: int, start: float = 0.0) -> list[Event]:
    """``n`` FBL reports: no queue, no vmta, attributed by the recipient's domain."""
    return [event("f", start + i, rcpt=f"c{i}@Example.com", cls="complaint") for i in range(n)]


BURSTS = [
    ("spam-block", "pause", "b", BLOCKED_554, 3),
    ("queue-spam-block", "pause", "tq", QUEUE_BLOCKED, 2),
    ("rate-limited-4.7.28", "slow", "t", GMAIL_4728, 3),
    ("rate-limit-text", "slow", "t", RATE_LIMIT_TEXT, 3),
    ("deferral-burst", "slow", "t", DEFER_421, 5),
    ("deferral-burst-421", "slow", "t", BARE_421, 5),
    ("not-the-recipient", "slow", "b", EXPIRED, 5),
]


@pytest.mark.parametrize(("rule", "action", "type_", "reply", "threshold"), BURSTS)
def test_each_default_rule_fires_at_its_threshold_and_not_below(
    rule: str, action: str, type_: str, reply: dict[str, str], threshold: int
) -> None:
    """A burst of exactly the threshold acts with that rule; one event fewer does nothing."""
    below = ThrottleController()
    below.observe(rows(type_, threshold - 1, reply=reply))
    assert decide(below, threshold + 1) == []

    c = ThrottleController()
    burst = rows(type_, threshold, reply=reply)
    c.observe(burst)
    [decision] = decide(c, threshold + 1)
    assert (decision.queue, decision.vmta, decision.rule, decision.action) == (
        "example.com",
        "v1",
        rule,
        action,
    )
    assert decision.evidence["count"] == threshold
    assert set(decision.event_ids) <= {e.event_id for e in burst}
    assert 0 < len(decision.event_ids) <= 5
    assert decision.decided_at == at(threshold + 1)


def test_soft_failures_that_are_the_recipients_fault_do_not_slow_the_pair() -> None:
    """Full mailboxes say nothing about our sending: they are evidence against addresses."""
    c = ThrottleController()
    full = {"status": "5.2.2", "diag": "smtp;552 5.2.2 Mailbox full", "cls": "soft"}
    c.observe(rows("b", 10, reply=full | {"category": "quota-issues", "fault": "recipient"}))
    assert decide(c, 11) == []


def test_complaint_rate_fires_on_ratio_with_enough_volume() -> None:
    """3 complaints per 1000 delivered in an hour slow the pair; 2, or 999 delivered, do not."""
    cases = [(1000, 3, True), (1000, 2, False), (999, 3, False)]
    for delivered, reported, fires in cases:
        c = ThrottleController()
        c.observe(rows("d", delivered, spacing=3.0))
        c.observe(complaints(reported, start=100))
        decisions = decide(c, 3000)
        assert bool(decisions) is fires, (delivered, reported)
        if fires:
            [decision] = decisions
            assert (decision.rule, decision.action, decision.vmta) == (
                "complaint-rate",
                "slow",
                "v1",
            )
            assert decision.evidence["ratio"] == pytest.approx(0.003)
            assert decision.evidence["volume"] == delivered


def test_first_slow_starts_below_the_observed_attempt_rate() -> None:
    """A pair sending 20 msg/s (ceiling 30) that meets deferrals is set to 0.5 x 20 = 10 msg/s."""
    c = ThrottleController()
    c.observe(rows("d", 600, spacing=0.05))  # 20/s for 30 s
    c.observe(rows("t", 5, start=25, reply=DEFER_421))
    [decision] = decide(c, 30)
    assert decision.rate == pytest.approx(0.5 * 605 / 30, rel=0.05)
    assert decision.evidence["attempt_rate"] == pytest.approx(605 / 30, rel=0.05)
    assert decision.expires_at == at(30 + 900)
    assert "→" in decision.detail


def test_one_burst_acts_once_and_a_new_burst_compounds() -> None:
    """Deciding again without new events does nothing; a fresh burst halves the rate again."""
    c = ThrottleController()
    c.observe(rows("t", 5, reply=DEFER_421))
    [first] = decide(c, 5)
    assert decide(c, 6) == []
    c.observe(rows("t", 5, start=10, reply=DEFER_421))
    [second] = decide(c, 15)
    assert first.rate is not None
    assert second.rate == pytest.approx(first.rate * 0.5)
    assert second.evidence["previous_rate"] == first.rate


def test_rates_never_go_below_the_floor() -> None:
    """Repeated bursts compound down to the floor (0.1 msg/s) and no further."""
    c = ThrottleController()
    rates = []
    for n in range(20):
        c.observe(rows("t", 5, start=n * 10, reply=DEFER_421))
        rates += [d.rate for d in decide(c, n * 10 + 6)]
    assert min(r for r in rates if r is not None) == pytest.approx(0.1)


def test_pause_grows_by_the_scale_factor_and_caps_at_backoff_max() -> None:
    """Blocks after each pause pause again: 30 s, 60 s, 100 s (capped), 100 s."""
    b = bounds(backoff_min=30, backoff_max=100, scale_factor=2)
    c = ThrottleController()
    t = 0.0
    lengths = []
    for _ in range(4):
        c.observe(rows("b", 3, start=t, reply=BLOCKED_554))
        [decision] = decide(c, t + 3, b)
        assert decision.action == "pause"
        length = (decision.expires_at - decision.decided_at).total_seconds()
        lengths.append(length)
        assert decision.evidence["pause_s"] == length
        # Blocks logged during the pause (stragglers) do not extend it.
        c.observe(rows("b", 3, start=t + 4, reply=BLOCKED_554))
        assert decide(c, t + 8, b) == []
        t += 3 + length + 1
    assert lengths == [30, 60, 100, 100]


def test_clean_delivery_after_a_pause_resets_the_backoff_level() -> None:
    """After a pause, 30 s of clean deliveries make the next block start again at backoff-min."""
    b = bounds(backoff_min=30, backoff_max=1000, scale_factor=2)
    c = ThrottleController()
    c.observe(rows("b", 3, reply=BLOCKED_554))
    assert [d.evidence["pause_s"] for d in decide(c, 3, b)] == [30]
    c.observe(rows("d", 40, start=40))
    assert decide(c, 80, b) == []  # clean: nothing to publish, the level is reset
    c.observe(rows("b", 3, start=90, reply=BLOCKED_554))
    assert [d.evidence["pause_s"] for d in decide(c, 93, b)] == [30]


def _ramp_to_normal(c: ThrottleController, b: PairBounds, start: float) -> list[ThrottleDecision]:
    out: list[ThrottleDecision] = []
    t = start
    while not out or out[-1].action != "normal":
        c.observe(rows("d", 30, start=t, spacing=1.0))
        t += 31
        out += decide(c, t, b)
        assert t < start + 3600, out
    return out


def test_ramp_climbs_back_to_the_ceiling_then_normal() -> None:
    """A slowed pair that delivers cleanly gains 10% of its ceiling per 30 s, then is lifted."""
    b = bounds(ceiling=30)
    c = ThrottleController()
    c.observe(rows("d", 300, spacing=0.1))  # 10 msg/s
    c.observe(rows("t", 5, start=25, reply=DEFER_421))
    [slow] = decide(c, 30, b)
    assert slow.rate is not None
    assert slow.rate < 10
    steps = _ramp_to_normal(c, b, 31)
    assert [d.action for d in steps[:-1]] == ["ramp"] * (len(steps) - 1)
    rates = [d.rate or 0.0 for d in steps[:-1]]
    assert rates == sorted(rates)
    assert all(0 < r < 30 for r in rates)
    assert steps[0].rate == pytest.approx(slow.rate + 3.0)
    assert steps[-1].rate is None
    assert steps[-1].rule == "clean-ramp"
    assert "override lifted" in steps[-1].detail
    assert "rate: configured" in c.explain("example.com", "v1")


def test_ramp_with_an_unlimited_ceiling_returns_to_the_rate_before_the_slow() -> None:
    """Unlimited pairs ramp back to the rate they ran at before slowing, then go normal."""
    b = bounds(ceiling=math.inf)
    c = ThrottleController()
    c.observe(rows("d", 200, spacing=0.1))  # 10 msg/s
    c.observe(rows("t", 5, start=15, reply=DEFER_421))
    [slow] = decide(c, 20, b)
    assert slow.rate == pytest.approx(5.25, rel=0.05)
    steps = _ramp_to_normal(c, b, 21)
    assert steps[-1].action == "normal"
    assert all(d.rate is None or d.rate < 10.6 for d in steps)


def test_no_ramp_while_failures_keep_coming() -> None:
    """A failure matching a slow rule within the ramp window blocks the next step."""
    c = ThrottleController()
    c.observe(rows("t", 5, reply=DEFER_421))
    decide(c, 5)
    c.observe(rows("d", 40, start=10))
    c.observe(rows("t", 1, start=45, reply=DEFER_421))  # one deferral: below threshold, not clean
    assert decide(c, 50) == []
    assert decide(c, 74) == []  # 29 s since the deferral
    assert [d.action for d in decide(c, 76)] == ["ramp"]  # 31 s, deliveries at 46-49 s


def test_adaptive_off_gets_no_decisions_and_drops_state() -> None:
    """Pairs whose configuration says adaptive-throttling no are never slowed, paused or ramped."""
    c = ThrottleController()
    c.observe(rows("t", 5, reply=DEFER_421))
    c.observe(rows("b", 3, reply=BLOCKED_554))
    assert decide(c, 10, bounds(adaptive=False)) == []
    assert "rate: configured" in c.explain("example.com", "v1")
    assert "adaptive off" in c.explain("example.com", "v1")


def test_an_override_expires_when_nothing_renews_it() -> None:
    """After its duration a slow no longer holds (the MTA dropped it): no ramp from a stale rate."""
    c = ThrottleController()
    c.observe(rows("t", 5, reply=DEFER_421))
    [slow] = decide(c, 5)
    later = (slow.expires_at - at(0)).total_seconds() + 1
    c.observe(rows("d", 30, start=later))
    assert decide(c, later + 40) == []
    assert "rate: configured" in c.explain("example.com", "v1")


def test_pair_is_queue_or_recipient_domain_and_vmta() -> None:
    """Rows without a queue count for their recipient's domain (or queue_of's answer)."""
    c = ThrottleController(
        queue_of=lambda domain: "microsoft" if domain == "hotmail.com" else domain
    )
    assert c.pair_of(event("t", rcpt="a@Hotmail.COM", vmta="v2")) == ("microsoft", "v2")
    assert c.pair_of(event("t", rcpt="a@Example.org")) == ("example.org", "")
    assert c.pair_of(event("tq", queue="gmail.com", vmta="v1")) == ("gmail.com", "v1")
    assert c.pair_of(event("tq")) is None
    c.observe([event("tq"), event("r", rcpt="a@example.org")])
    assert c.pairs() == ()


@pytest.mark.slow
def test_memory_is_bounded_however_many_events_a_pair_sees() -> None:
    """A million events for one pair leave a few hundred counters, not a million rows."""

    pair = {"queue": "example.com", "vmta": "v1"}

    def stream() -> Iterator[Event]:
        for second in range(1000):
            when = at(second)
            for i in range(second * 1000, second * 1000 + 1000):
                if i % 50:
                    yield Event(str(i), "d", when, **pair)
                else:
                    yield Event(str(i), "t", when, **pair, **DEFER_421)

    c = ThrottleController()
    c.observe(stream())
    size = c.state_size()
    assert size < 2000, size
    assert c.pairs() == (("example.com", "v1"),)
    decisions = decide(c, 1000)
    assert [d.rule for d in decisions] == ["deferral-burst"]


def test_idle_pairs_are_forgotten_after_a_day() -> None:
    """A pair with nothing counted, nothing in force and no recent decision is dropped."""
    c = ThrottleController()
    c.observe(rows("d", 10))
    decide(c, 10)
    assert c.pairs() == (("example.com", "v1"),)
    decide(c, 4000)
    assert c.pairs() == ()
    c.observe(rows("t", 5, start=5000, reply=DEFER_421))
    decide(c, 5005)
    decide(c, 5005 + 3600 * 2)  # override expired, windows empty, decision kept for a day
    assert c.pairs() == (("example.com", "v1"),)
    decide(c, 5005 + 86400 + 1)
    assert c.pairs() == ()


def test_explain_shows_state_rules_evidence_and_events() -> None:
    """explain names the override, the rule that set it, its evidence and sample event ids."""
    c = ThrottleController()
    burst = rows("t", 5, reply=DEFER_421)
    c.observe(burst)
    decide(c, 5)
    text = c.explain("example.com", "v1")
    assert text.splitlines()[0] == "example.com / v1"
    assert "ceiling 30 msg/s" in text
    assert "rule deferral-burst" in text
    assert "count=5" in text
    assert burst[-1].event_id in text
    assert "no recent events" in c.explain("example.org", "v9")


def test_same_calls_give_the_same_decisions() -> None:
    """Two controllers fed the same events and times decide and explain identically."""

    def run() -> tuple[list[ThrottleDecision], str]:
        c = ThrottleController()
        out: list[ThrottleDecision] = []
        for n in range(10):
            c.observe(rows("d", 20, start=n * 40))
            c.observe(rows("t", 5 if n % 3 == 0 else 1, start=n * 40 + 5, reply=DEFER_421))
            c.observe(rows("b", 3 if n == 7 else 0, start=n * 40 + 6, reply=BLOCKED_554))
            out += decide(c, n * 40 + 35)
        return out, c.explain("example.com", "v1")

    assert run() == run()


def test_now_must_be_timezone_aware() -> None:
    """decide refuses a naive datetime."""
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone-aware"):
        ThrottleController().decide(datetime(2026, 5, 1), lambda q, v: bounds())  # noqa: DTZ001


def test_bounds_come_from_the_mta_configuration() -> None:
    """PairBounds.from_settings reads max-msg-rate, adaptive-throttling and backoff-*."""
    config = parse_config_text(
        "<domain example.com>\nmax-msg-rate 600/m\nadaptive-throttling yes\n"
        "backoff-min 1m\nbackoff-max 2h\nbackoff-scale-factor 2\n</domain>\n"
    )
    settings = effective_settings(config, "example.com").settings
    assert PairBounds.from_settings(settings) == PairBounds(10.0, True, 60.0, 7200.0, 2.0)
    warm = PairBounds.from_settings(settings, warmup=parse_rate("3600/h"))
    assert warm.ceiling == 1.0
    other = PairBounds.from_settings(effective_settings(config, "example.org").settings)
    assert (other.ceiling, other.adaptive) == (math.inf, False)


def test_unlimited_pair_without_attempts_slows_from_the_failures_own_rate() -> None:
    """With no attempt seen and no ceiling, a slow starts from the matching rows' rate."""
    c = ThrottleController()
    c.observe(rows("tq", 3, reply=RATE_LIMIT_TEXT))
    [decision] = decide(c, 5, bounds(ceiling=math.inf))
    assert decision.rate == pytest.approx(0.1)  # 3 in 60 s x 0.5 = 0.025, raised to the floor
    assert "unlimited →" in decision.detail


def test_ramp_by_a_fixed_step_rate() -> None:
    """A ramp rule with step-rate adds that many msg/s per clean window."""
    rules = load_throttle_rules(
        '[[throttle.rule]]\nid = "slow-ramp"\ntypes = ["d"]\ncount = 1\nwindow = "30s"\n'
        'action = "ramp"\nstep-rate = 0.5\nduration = "5m"\n'
    )
    assert rules.get("clean-ramp") is not None
    c = ThrottleController(rules)
    c.observe(rows("t", 5, reply=DEFER_421))
    [slow] = decide(c, 5)
    c.observe(rows("d", 30, start=6))
    [step] = decide(c, 36)
    assert step.rule == "slow-ramp"
    assert step.rate == pytest.approx((slow.rate or 0) + 0.5)


def test_backoff_level_resets_after_a_whole_backoff_max_without_blocks() -> None:
    """A pair not blocked for backoff-max starts again at backoff-min, even without deliveries."""
    b = bounds(backoff_min=10, backoff_max=100, scale_factor=3)
    c = ThrottleController()
    c.observe(rows("b", 3, reply=BLOCKED_554))
    assert [d.evidence["pause_s"] for d in decide(c, 3, b)] == [10]
    c.observe(rows("b", 3, start=300, reply=BLOCKED_554))
    assert [d.evidence["pause_s"] for d in decide(c, 303, b)] == [10]


@pytest.mark.slow
def test_caches_stay_bounded_with_ever_new_diagnostics_and_domains() -> None:
    """Per-message diagnostics and many domains do not grow the match and queue caches forever."""
    c = ThrottleController()
    c.observe(
        Event(str(i), "t", at(0), rcpt=f"u@d{i}.example", status="4.7.0", diag=f"421 id {i}")
        for i in range(10_500)
    )
    assert len(c._effects) <= 10_000
    assert len(c._queues) <= 10_000
