"""Amazon SES notifications (raw, or inside an SNS envelope; posted or mailed) become reports."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.esp import find_json, read_notification
from classifiers.message import classify_message


def _bounce(btype: str, subtype: str, *recipients: dict[str, str]) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": btype,
            "bounceSubType": subtype,
            "bouncedRecipients": list(recipients),
            "remoteMtaIp": "192.0.2.9",
        },
        "mail": {
            "source": "news@sender.example",
            "messageId": "0100-abc",
            "headers": [{"name": "X-Job", "value": "j1"}],
        },
    }


def _complaint(ftype: str | None, *addresses: str) -> dict[str, Any]:
    complaint: dict[str, Any] = {
        "complainedRecipients": [{"emailAddress": a} for a in addresses],
        "userAgent": "ISP-FBL/1",
        "arrivalDate": "2024-06-28T08:59:40.000Z",
    }
    if ftype is not None:
        complaint["complaintFeedbackType"] = ftype
    return {"notificationType": "Complaint", "complaint": complaint, "mail": {"source": "n@s.ex"}}


def _sns(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses",
        "Message": json.dumps(message),
        "Timestamp": "2024-06-28T09:15:03.120Z",
    }


def _mail(body: str, *, crlf: bool = False) -> bytes:
    text = (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\n"
        "To: ses@sender.example\nSubject: AWS Notification Message\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n" + body + "\n"
    )
    return (text.replace("\n", "\r\n") if crlf else text).encode()


def test_a_base64_body_from_a_forwarder_is_read_too() -> None:
    """A notification whose body was base64-encoded on the way, with no AWS sender, still reads."""
    raw = _bounce("Permanent", "General", USER_UNKNOWN)
    encoded = base64.encodebytes(json.dumps(raw).encode()).decode()
    mail = (
        "From: ops@sender.example\nTo: bounces@sender.example\nSubject: fwd\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n\n" + encoded
    ).encode()
    assert classify_message(mail) == read_notification(raw)


USER_UNKNOWN = {
    "emailAddress": "a@example.com",
    "action": "failed",
    "status": "5.1.1",
    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
}


def test_a_posted_dict_and_its_sns_envelope_give_the_same_report() -> None:
    """The JSON an HTTP endpoint decodes reads the same raw or wrapped in SNS's envelope."""
    raw = _bounce("Permanent", "General", USER_UNKNOWN)
    assert read_notification(raw) == read_notification(_sns(raw))
    report = read_notification(raw)
    assert report is not None
    assert report.kind == "dsn"
    (r,) = report.recipients
    assert (r.address, r.action, r.status, r.cls, r.category) == (
        "a@example.com",
        "failed",
        "5.1.1",
        "hard",
        "bad-mailbox",
    )
    assert r.diag == "smtp; 550 5.1.1 user unknown"
    assert r.remote_mta == "192.0.2.9"
    assert report.extra == {"job_id": "j1", "message_id": "0100-abc"}


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("wrap", [False, True])
def test_a_mailed_notification_reads_like_the_posted_one(crlf: bool, wrap: bool) -> None:
    """SES JSON in a mail body (LF or CRLF, raw or SNS envelope, with a footer) reads the same."""
    raw = _bounce("Permanent", "General", USER_UNKNOWN)
    body = json.dumps(_sns(raw) if wrap else raw, indent=2) + "\n\n--\nTo unsubscribe, visit …"
    assert classify_message(_mail(body, crlf=crlf)) == read_notification(raw)


@pytest.mark.parametrize(
    ("btype", "subtype", "expected"),
    [
        ("Permanent", "General", ("hard", "bad-mailbox")),
        ("Permanent", "NoEmail", ("hard", "bad-mailbox")),
        ("Permanent", "OnAccountSuppressionList", ("hard", "bad-mailbox")),
        ("Transient", "MailboxFull", ("soft", "quota-issues")),
        ("Transient", "General", ("soft", "other")),
        ("Transient", "ContentRejected", ("spam", "content-related")),
        ("Undetermined", "Undetermined", ("unknown", "other")),
        ("", "", ("unknown", "other")),
    ],
)
def test_without_a_diagnostic_the_bounce_type_decides(
    btype: str, subtype: str, expected: tuple[str, str]
) -> None:
    """A bounced recipient with no status or diagnostic is classed by bounceType/bounceSubType."""
    report = read_notification(_bounce(btype, subtype, {"emailAddress": "b@example.com"}))
    assert report is not None
    assert [(r.cls, r.category) for r in report.recipients] == [expected]


def test_a_transient_bounce_is_never_hard_and_the_diagnostic_decides_the_rest() -> None:
    """A Transient 'user unknown' bounce is soft; a Permanent one quoting Spamhaus is spam."""
    transient = read_notification(_bounce("Transient", "General", USER_UNKNOWN))
    blocked = {
        "emailAddress": "c@example.com",
        "diagnosticCode": "smtp; 554 5.7.1 blocked using zen.spamhaus.org",
    }
    permanent = read_notification(_bounce("Permanent", "General", blocked))
    assert transient is not None
    assert permanent is not None
    assert [r.cls for r in transient.recipients] == ["soft"]
    assert [(r.cls, r.category) for r in permanent.recipients] == [("spam", "spam-related")]


@pytest.mark.parametrize(
    ("ftype", "expected"),
    [
        ("abuse", ("abuse", "complaint")),
        (None, ("abuse", "complaint")),
        ("not-spam", ("not-spam", "unknown")),
        ("fraud", ("fraud", "complaint")),
        ("opt-out", ("opt-out", "complaint")),
    ],
)
def test_a_complaint_names_every_complained_recipient_with_its_feedback_type(
    ftype: str | None, expected: tuple[str, str]
) -> None:
    """An SES complaint is an arf report with complaintFeedbackType (abuse when absent)."""
    report = read_notification(_sns(_complaint(ftype, "x@example.com", "Y@Example.COM")))
    assert report is not None
    assert report.kind == "arf"
    assert report.feedback is not None
    assert (report.feedback.type, report.recipients[0].cls) == expected
    assert [r.address for r in report.recipients] == ["x@example.com", "Y@example.com"]
    assert report.feedback.original_mail_from == "n@s.ex"
    assert report.feedback.arrival_date == "2024-06-28T08:59:40.000Z"


def test_other_json_is_not_a_notification() -> None:
    """SES deliveries, other JSON and a mail that only mentions a field name are not reports."""
    assert read_notification({"notificationType": "Delivery", "mail": {}}) is None
    assert read_notification(["notificationType"]) is None
    assert read_notification({"Type": "Notification", "Message": "not json"}) is None
    report = classify_message(_mail('We renamed "notificationType" in {our API}.'))
    assert report.kind == "unknown"


def test_find_json_skips_prose_and_broken_braces() -> None:
    """The objects in a body are found after a forwarder's line and a stray brace."""
    assert find_json('Fwd {oops\n{"a": 1}\n-- \n{"b": [2]} end') == [{"a": 1}, {"b": [2]}]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "notificationType",
                    "eventType",
                    "bounce",
                    "complaint",
                    "bouncedRecipients",
                    "complainedRecipients",
                    "emailAddress",
                    "bounceType",
                    "mail",
                    "headers",
                    "Message",
                    "Type",
                    "TopicArn",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(value=_JSON, kind=st.sampled_from(["Bounce", "Complaint", "DeliveryDelay"]))
def test_malformed_notifications_never_raise(value: object, kind: str) -> None:
    """Whatever shape the JSON has, reading it gives a report or None, never an exception."""
    read_notification(value)
    if isinstance(value, dict):
        read_notification({**value, "notificationType": kind})
        read_notification(_sns({**value, "eventType": kind}))
