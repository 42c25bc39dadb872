"""What an ISP mails back: DSNs (RFC 3464) and ARF feedback reports (RFC 5965), as bytes.

Both are pure functions of their arguments (the date is passed in), so the same
inputs always give the same bytes, and the classifiers can be tested on them.

DSN layout (RFC 3464 §2, RFC 6522)::

    multipart/report; report-type=delivery-status
    ├── text/plain                      human-readable explanation
    ├── message/delivery-status         per-message fields, blank line, per-recipient fields
    └── text/rfc822-headers | message/rfc822   the returned original

ARF layout (RFC 5965 §2)::

    multipart/report; report-type=feedback-report
    ├── text/plain                      human-readable
    ├── message/feedback-report         Feedback-Type, User-Agent, Version, Original-*, …
    └── message/rfc822 | text/rfc822-headers   the reported original (headers at least)
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.utils import format_datetime

__all__ = ["make_arf", "make_dsn", "split_original"]

# reply-line = Reply-code SP [ enhanced-status SP ] text    (RFC 5321 §4.2, RFC 3463 §2)
_REPLY = re.compile(r"^(?P<code>[245]\d\d)[ -](?:(?P<status>[245]\.\d{1,3}\.\d{1,3})\s)?")
_CRLF = "\r\n"


def split_original(original: bytes) -> tuple[bytes, bytes]:
    """The original's header block and body, line endings made CRLF (RFC 5322 §2.1)."""
    text = re.sub(rb"\r?\n", b"\r\n", original)
    head, sep, body = text.partition(b"\r\n\r\n")
    return (head + b"\r\n", body) if sep else (text.rstrip(b"\r\n") + b"\r\n", b"")


def _token(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def _attachment(original: bytes, include_body: bool, extra_headers: str = "") -> bytes:
    head, body = split_original(original)
    head = extra_headers.encode() + head
    if include_body:
        return b"Content-Type: message/rfc822\r\n\r\n" + head + b"\r\n" + body
    return b"Content-Type: text/rfc822-headers\r\n\r\n" + head


def _report(headers: list[str], report_type: str, parts: list[bytes], boundary: str) -> bytes:
    out = [h + _CRLF for h in headers]
    out.append("MIME-Version: 1.0" + _CRLF)
    out.append(
        f'Content-Type: multipart/report; report-type={report_type};{_CRLF}\tboundary="{boundary}"'
        + _CRLF
    )
    data = "".join(out).encode() + b"\r\nThis is a MIME-formatted message.\r\n"
    for part in parts:
        data += f"\r\n--{boundary}\r\n".encode() + part.rstrip(b"\r\n") + b"\r\n"
    return data + f"\r\n--{boundary}--\r\n".encode()


def make_dsn(
    original: bytes,
    *,
    recipient: str,
    reply: str,
    reporting_mta: str,
    to_addr: str,
    date: datetime,
    include_body: bool = False,
) -> bytes:
    """A non-delivery (5xx), delay (4xx) or delivery (2xx) report for one recipient.

    ``reply`` is the receiver's SMTP reply (``"550 5.1.1 user unknown"``); it becomes
    the ``Diagnostic-Code`` and, with its enhanced status, the ``Status``.
    """
    m = _REPLY.match(reply)
    code = m.group("code") if m else "550"
    status = (m.group("status") if m else None) or f"{code[0]}.0.0"
    action = {"2": "delivered", "4": "delayed"}.get(code[0], "failed")
    token = _token(original, recipient, reply, reporting_mta)
    when = format_datetime(date)
    subject = {
        "failed": "Undelivered Mail Returned to Sender",
        "delayed": "Delayed Mail (still being retried)",
        "delivered": "Successful Mail Delivery Report",
    }[action]
    human = (
        f"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is the mail system at host {reporting_mta}.\r\n\r\n"
        f"Your message to <{recipient}> could not be delivered ({action}).\r\n"
        f"The mail system said: {reply}\r\n"
    ).encode()
    status_part = (
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\n"
        f"Arrival-Date: {when}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; {reporting_mta}\r\n"
        f"Diagnostic-Code: smtp; {reply}\r\n"
        f"Last-Attempt-Date: {when}\r\n"
    ).encode()
    headers = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{to_addr}>",
        f"Subject: {subject}",
        f"Date: {when}",
        f"Message-ID: <dsn.{token}@{reporting_mta}>",
        "Auto-Submitted: auto-replied",
    ]
    parts = [human, status_part, _attachment(original, include_body)]
    return _report(headers, "delivery-status", parts, f"=_dsn_{token}")


def make_arf(
    original: bytes,
    *,
    reporting_domain: str,
    to_addr: str,
    date: datetime,
    feedback_type: str = "abuse",
    original_mail_from: str = "",
    original_rcpt_to: str = "",
    source_ip: str = "",
    user_agent: str = "acctpipe-sim/1.0",
    include_body: bool = True,
) -> bytes:
    """A feedback report about ``original`` (a complaint, for ``abuse``).

    An empty ``original_rcpt_to`` leaves the recipient out, as ISPs that redact
    it do; the classifier must then recover it from our ``X-Acctpipe-Rcpt``
    header or the VERP return path in the attached original. ``original_mail_from``
    is also stamped as the original's ``Return-Path`` if it has none.
    """
    token = _token(original, reporting_domain, feedback_type, original_rcpt_to)
    when = format_datetime(date)
    fields = [f"Feedback-Type: {feedback_type}", f"User-Agent: {user_agent}", "Version: 1"]
    if original_mail_from:
        fields.append(f"Original-Mail-From: <{original_mail_from}>")
    if original_rcpt_to:
        fields.append(f"Original-Rcpt-To: <{original_rcpt_to}>")
    fields.append(f"Arrival-Date: {when}")
    if source_ip:
        fields.append(f"Source-IP: {source_ip}")
    fields.append(f"Reported-Domain: {reporting_domain}")
    human = (
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is an email abuse report for an email message received from IP {source_ip or '-'}"
        f" on {when}.\r\n"
    ).encode()
    report_part = (
        "Content-Type: message/feedback-report\r\n\r\n" + _CRLF.join(fields) + _CRLF
    ).encode()
    head, _ = split_original(original)
    has_return_path = re.search(rb"(?im)^return-path:", head) is not None
    stamp = f"Return-Path: <{original_mail_from}>\r\n" if original_mail_from else ""
    attached = _attachment(original, include_body, "" if has_return_path else stamp)
    headers = [
        f"From: <feedback@{reporting_domain}>",
        f"To: <{to_addr}>",
        f"Subject: Email Feedback Report for IP {source_ip or 'unknown'}",
        f"Date: {when}",
        f"Message-ID: <arf.{token}@{reporting_domain}>",
    ]
    return _report(headers, "feedback-report", [human, report_part, attached], f"=_arf_{token}")
