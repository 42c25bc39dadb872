"""SendGrid, Mailgun, Postmark and SparkPost event payloads become the same reports as mail."""

from __future__ import annotations

import pytest

from classifiers.esp import read_notification, read_notifications

UNKNOWN_USER = "550 5.1.1 The email account that you tried to reach does not exist."

# (payload, kind, [(address, action, cls, category)], feedback type)
CASES: list[tuple[str, object, str, list[tuple[str, str, str, str]], str]] = [
    (
        "sendgrid bounce",
        {"email": "a@example.com", "event": "bounce", "sg_event_id": "e1", "reason": UNKNOWN_USER},
        "dsn",
        [("a@example.com", "failed", "hard", "bad-mailbox")],
        "",
    ),
    (
        "sendgrid blocked without a reason",
        {"email": "a@example.com", "event": "bounce", "type": "blocked", "sg_event_id": "e1"},
        "dsn",
        [("a@example.com", "failed", "spam", "spam-related")],
        "",
    ),
    (
        "sendgrid spamreport",
        {"email": "a@example.com", "event": "spamreport", "sg_event_id": "e1"},
        "arf",
        [("a@example.com", "", "complaint", "other")],
        "abuse",
    ),
    (
        "sendgrid unsubscribe",
        {"email": "a@example.com", "event": "group_unsubscribe", "sg_message_id": "m"},
        "arf",
        [("a@example.com", "", "complaint", "other")],
        "opt-out",
    ),
    (
        "mailgun permanent failure",
        {
            "event-data": {
                "event": "failed",
                "severity": "permanent",
                "reason": "bounce",
                "recipient": "b@example.com",
                "delivery-status": {"code": 550, "message": UNKNOWN_USER[4:]},
            }
        },
        "dsn",
        [("b@example.com", "failed", "hard", "bad-mailbox")],
        "",
    ),
    (
        "mailgun temporary 'user unknown' is never hard",
        {
            "event-data": {
                "event": "failed",
                "severity": "temporary",
                "recipient": "b@example.com",
                "delivery-status": {"code": 450, "message": "4.1.1 user unknown"},
            }
        },
        "delay",
        [("b@example.com", "delayed", "soft", "bad-mailbox")],
        "",
    ),
    (
        "mailgun complaint",
        {"event-data": {"event": "complained", "recipient": "b@example.com"}},
        "arf",
        [("b@example.com", "", "complaint", "other")],
        "abuse",
    ),
    (
        "postmark soft bounce without details",
        {"RecordType": "Bounce", "Type": "SoftBounce", "Email": "c@example.com"},
        "dsn",
        [("c@example.com", "failed", "soft", "other")],
        "",
    ),
    (
        "postmark hard bounce quoting a 4xx in details",
        {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "Email": "c@example.com",
            "Details": "smtp;452 4.2.2 mailbox full",
        },
        "dsn",
        [("c@example.com", "failed", "soft", "quota-issues")],
        "",
    ),
    (
        "sparkpost bounce class 10",
        [
            {
                "msys": {
                    "message_event": {"type": "bounce", "bounce_class": "10", "rcpt_to": "d@x.ex"}
                }
            }
        ],
        "dsn",
        [("d@x.ex", "failed", "hard", "bad-mailbox")],
        "",
    ),
    (
        "sparkpost block class 51 with its reason",
        {
            "msys": {
                "message_event": {
                    "type": "bounce",
                    "bounce_class": "51",
                    "rcpt_to": "d@x.ex",
                    "raw_reason": "554 5.7.1 rejected: listed at zen.spamhaus.org",
                }
            }
        },
        "dsn",
        [("d@x.ex", "failed", "spam", "spam-related")],
        "",
    ),
    (
        "sparkpost list unsubscribe",
        {"msys": {"unsubscribe_event": {"type": "list_unsubscribe", "rcpt_to": "d@x.ex"}}},
        "arf",
        [("d@x.ex", "", "complaint", "other")],
        "opt-out",
    ),
]


@pytest.mark.parametrize(
    ("payload", "kind", "recipients", "ftype"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_an_esp_event_reads_into_a_report(
    payload: object, kind: str, recipients: list[tuple[str, str, str, str]], ftype: str
) -> None:
    """Each ESP's bounce, delay, complaint or unsubscribe event gives the report mail would."""
    report = read_notification(payload)
    assert report is not None
    assert report.kind == kind, report.reason
    got = [(r.address, r.action, r.cls, r.category) for r in report.recipients]
    assert got == recipients
    assert (report.feedback.type if report.feedback else "") == ftype


@pytest.mark.parametrize(
    "payload",
    [
        {"RecordType": "Bounce", "Type": "AutoResponder", "Email": "c@example.com"},
        {"email": "a@example.com", "event": "open", "sg_event_id": "e1"},
        {"msys": {"message_event": {"type": "bounce", "bounce_class": "60", "rcpt_to": "d@x.ex"}}},
        {"event-data": {"event": "delivered", "recipient": "b@example.com"}},
        {"event": "bounce", "email": "a@example.com"},
    ],
    ids=[
        "postmark-autoresponder",
        "sendgrid-open",
        "sparkpost-auto-reply",
        "mailgun-delivered",
        "no-esp-marker",
    ],
)
def test_events_that_are_not_failures_or_complaints_give_no_report(payload: object) -> None:
    """Opens, deliveries and auto-replies reported by an ESP are not bounces."""
    assert read_notification(payload) is None


def test_a_batch_gives_one_report_per_event_for_the_http_path() -> None:
    """A mixed batch keeps every event for the HTTP path; a mail merges the first family."""
    batch = [
        {"email": "a@example.com", "event": "bounce", "sg_event_id": "1", "reason": UNKNOWN_USER},
        {"email": "b@example.com", "event": "spamreport", "sg_event_id": "2"},
        {
            "email": "c@example.com",
            "event": "deferred",
            "sg_event_id": "3",
            "response": "421 later",
        },
    ]
    assert [r.kind for r in read_notifications(batch)] == ["dsn", "arf", "delay"]
    merged = read_notification(batch)
    assert merged is not None
    assert merged.kind == "dsn"
    assert [(r.address, r.action) for r in merged.recipients] == [
        ("a@example.com", "failed"),
        ("c@example.com", "delayed"),
    ]


def _mandrill(event: str, **msg: object) -> dict[str, object]:
    return {
        "event": event,
        "_id": "ev1",
        "ts": 1741168800,
        "msg": {"email": "m@example.com", **msg},
    }


@pytest.mark.parametrize(
    ("payload", "kind", "recipients", "ftype"),
    [
        (
            _mandrill("hard_bounce", bounce_description="bad_mailbox", diag="smtp;" + UNKNOWN_USER),
            "dsn",
            [("m@example.com", "failed", "hard", "bad-mailbox")],
            "",
        ),
        (
            _mandrill("hard_bounce", bounce_description="invalid_domain", diag=""),
            "dsn",
            [("m@example.com", "failed", "hard", "bad-domain")],
            "",
        ),
        (
            _mandrill("soft_bounce", bounce_description="general", diag="smtp;550 5.1.1 unknown"),
            "dsn",
            [("m@example.com", "failed", "soft", "bad-mailbox")],
            "",
        ),
        (
            _mandrill(
                "deferral",
                smtp_events=[
                    {"type": "deferred", "diag": "451 4.3.0 try later"},
                    {"type": "deferred", "diag": "452 4.2.2 Mailbox full"},
                ],
            ),
            "delay",
            [("m@example.com", "delayed", "soft", "quota-issues")],
            "",
        ),
        (_mandrill("spam"), "arf", [("m@example.com", "", "complaint", "other")], "abuse"),
        (_mandrill("unsub"), "arf", [("m@example.com", "", "complaint", "other")], "opt-out"),
        (
            _mandrill("reject", reject={"reason": "hard-bounce"}),
            "dsn",
            [("m@example.com", "failed", "hard", "bad-mailbox")],
            "",
        ),
    ],
    ids=[
        "hard-diag",
        "hard-description",
        "soft-never-hard",
        "deferral-last",
        "spam",
        "unsub",
        "reject",
    ],
)
def test_mandrill_events_read_into_reports(
    payload: object, kind: str, recipients: list[tuple[str, str, str, str]], ftype: str
) -> None:
    """Mandrill: the diag decides, then bounce_description, then the event; a soft bounce is
    never hard; a deferral's last reply decides; spam/unsub are complaints."""
    report = read_notification(payload)
    assert report is not None
    assert report.kind == kind, report.reason
    assert [(r.address, r.action, r.cls, r.category) for r in report.recipients] == recipients
    assert (report.feedback.type if report.feedback else "") == ftype


@pytest.mark.parametrize(
    "payload",
    [
        _mandrill("send"),
        _mandrill("open"),
        _mandrill("reject", reject={"reason": "test-mode-limit"}),
        {"event": "hard_bounce", "email": "m@example.com"},
    ],
    ids=["send", "open", "reject-own-rule", "no-msg"],
)
def test_mandrill_events_that_are_not_failures_give_no_report(payload: object) -> None:
    """Sends, opens and Mandrill's own rejections are not bounces."""
    assert read_notification(payload) is None


def test_mandrill_form_body_in_a_mail_is_decoded() -> None:
    """The raw form body Mandrill posts (``mandrill_events=<url-encoded JSON>``) in a mail."""
    from urllib.parse import quote_plus

    from classifiers.message import classify_message

    events = '[{"event":"spam","_id":"1","ts":1,"msg":{"email":"f@example.com"}}]'
    raw = (
        "From: hooks@relay.sender.example\nTo: fbl@sender.example\nSubject: Mandrill\n"
        "Content-Type: application/x-www-form-urlencoded\n\nmandrill_events=" + quote_plus(events)
    ).encode()
    report = classify_message(raw)
    assert report.kind == "arf"
    assert [r.address for r in report.recipients] == ["f@example.com"]
