"""ESP notification bodies, written from each provider's documented format."""

from __future__ import annotations

SES_BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "gone@example.net",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": (
                    "smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown"
                ),
            }
        ],
        "timestamp": "2026-12-06T10:00:00.000Z",
        "reportingMTA": "dsn; a8-1.smtp-out.eu-west-1.amazonses.com",
    },
    "mail": {
        "source": "news@sender.example",
        "messageId": "0102018c-ses-bounce",
        "headers": [{"name": "X-Job", "value": "winter-sale"}],
    },
}

SES_COMPLAINT = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "angry@example.org"}],
        "complaintFeedbackType": "abuse",
        "userAgent": "Example-FBL/1.0",
        "arrivalDate": "2026-12-06T09:00:00.000Z",
    },
    "mail": {"source": "news@sender.example", "messageId": "0102018c-ses-complaint"},
}

SENDGRID_BATCH = [
    {
        "email": "nobody@example.com",
        "timestamp": 1765000000,
        "event": "bounce",
        "type": "bounce",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        "sg_event_id": "sg-bounce-1",
        "sg_message_id": "m1.filter",
    },
    {"email": "happy@example.com", "timestamp": 1765000001, "event": "delivered",
     "sg_event_id": "sg-delivered-1", "sg_message_id": "m2.filter"},
    {"email": "fed-up@example.com", "timestamp": 1765000002, "event": "spamreport",
     "sg_event_id": "sg-spam-1", "sg_message_id": "m3.filter"},
]  # fmt: skip

MAILGUN_FAILED = {
    "event": "failed",
    "id": "mg-event-1",
    "severity": "permanent",
    "reason": "bounce",
    "recipient": "missing@example.com",
    "delivery-status": {
        "code": 550,
        "enhanced-code": "5.1.1",
        "message": "5.1.1 The email account that you tried to reach does not exist.",
        "mx-host": "mx.example.com",
    },
    "message": {"headers": {"message-id": "mg-1@sender.example"}},
}

POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Email": "void@example.com",
    "From": "news@sender.example",
    "Description": "The server was unable to deliver your message (ex: unknown user).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
    "MessageID": "pm-1",
    "BouncedAt": "2026-12-06T10:00:00Z",
}

SPARKPOST_BATCH = [
    {"msys": {"message_event": {"type": "bounce", "event_id": "sp-1", "bounce_class": "10",
                                "rcpt_to": "absent@example.com",
                                "raw_reason": "550 5.1.1 <absent@example.com>: user unknown",
                                "error_code": "550", "message_id": "sp-m1"}}},
    {"msys": {"message_event": {"type": "spam_complaint", "event_id": "sp-2", "fbtype": "abuse",
                                "rcpt_to": "cross@example.com", "message_id": "sp-m2"}}},
]  # fmt: skip
