"""Synthetic but realistic accounting records: a campaign's mix of outcomes.

Used by ``acctpipe demo`` and the benchmarks so both exercise the same data:
mostly deliveries, some deferrals (rate limits, greylisting, full mailboxes),
hard and policy bounces with quoted, comma- and newline-bearing diagnostics, and
a few feedback-loop reports. Seeded, so runs are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from classifiers import BounceCategory
from classifiers.status import parse_enhanced_status
from mta.acct import DEFAULT_HEADER, AccountingWriter

__all__ = ["synthetic_records", "write_synthetic_accounting"]

_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "example.net", "mail.example.org", "web.de")
_VMTAS = ("vmta-a", "vmta-b", "vmta-c", "vmta-d")
_DELIVERED = (
    "smtp;250 2.0.0 OK 1764056627 a1si123456qkb.12 - gsmtp",
    "smtp;250 ok dirdel",
    "smtp;250 2.6.0 <m@example.com> [InternalId=1234] Queued mail for delivery",
)
_TRANSIENT = (
    "smtp;421 4.7.0 [192.0.2.10] Our system has detected an unusual rate of mail, deferred",
    "smtp;451 4.7.1 Greylisted, please try again later",
    'smtp;452 4.2.2 The email account that you tried to reach is over quota, "try later"',
    "smtp;421 4.4.2 connection timed out",
)
_BOUNCED = (
    "smtp;550 5.1.1 The email account that you tried to reach does not exist",
    "smtp;554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org",
    'smtp;550 5.7.1 Message rejected, "spam" content, see https://example.net/why',
    "smtp;552 5.2.2 Mailbox full\nRemote diagnostic continues on a second line",
)
_CATEGORIES: Final[tuple[BounceCategory, ...]] = (
    "bad-mailbox",
    "spam-related",
    "policy-related",
    "quota-issues",
    "other",
)


def _record(rng: random.Random, i: int, now: datetime) -> dict[str, object]:
    kind = rng.choices(("d", "t", "b", "f"), weights=(70, 15, 12, 3))[0]
    domain = rng.choice(_DOMAINS)
    vmta = rng.choice(_VMTAS)
    record: dict[str, object] = {
        "type": kind,
        "timeLogged": now + timedelta(seconds=i // 50),
        "timeQueued": now + timedelta(seconds=i // 50 - rng.randint(1, 600)),
        "orig": f"bounces+{rng.randint(1, 10**6)}@news.example.com",
        "rcpt": f"user{rng.randint(1, 10**7)}@{domain}",
        "jobId": f"job-{rng.randint(1, 500)}",
        "vmta": vmta,
        "queue": f"{domain}/{vmta}",
        "vmtaPool": "pool-main",
    }
    if kind == "f":
        record |= {
            "feedbackType": "abuse",
            "format": "arf",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
            "reportingMta": "dns; mta1.example.net",
            "reportedDomain": "news.example.com",
            "arrivalDate": now,
            "sourceIp": "192.0.2.10",
        }
        return record
    diag = rng.choice({"d": _DELIVERED, "t": _TRANSIENT, "b": _BOUNCED}[kind])
    record |= {
        "dsnAction": {"d": "relayed", "t": "delayed", "b": "failed"}[kind],
        "dsnStatus": parse_enhanced_status(diag.partition(";")[2]) or {"d": "2.0.0"}.get(kind, ""),
        "dsnDiag": diag,
        "dsnMta": f"mx{rng.randint(1, 4)}.{domain} (198.51.100.{rng.randint(1, 254)})",
        "bounceCat": rng.choice(_CATEGORIES) if kind != "d" else "",
        "srcType": "smtp",
        "srcMta": "app1.example.com (10.0.0.5)",
        "dlvType": "smtp",
        "dlvSourceIp": "192.0.2.10",
        "dlvDestinationIp": f"198.51.100.{rng.randint(1, 254)}",
        "dlvEsmtpAvailable": "PIPELINING,8BITMIME,SIZE,STARTTLS",
        "dlvSize": rng.randint(2_000, 80_000),
    }
    return record


_EPOCH = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def synthetic_records(rows: int, seed: int = 20261125) -> Iterator[dict[str, object]]:
    """Yield ``rows`` accounting records (d/t/b/f mix), reproducibly for a ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    for i in range(rows):
        yield _record(rng, i, _EPOCH)


def write_synthetic_accounting(path: Path, rows: int, seed: int = 20261125) -> int:
    """Write a header and ``rows`` synthetic records to ``path``; return the bytes written."""
    with path.open("wb") as stream:
        writer = AccountingWriter(stream, DEFAULT_HEADER)
        for record in synthetic_records(rows, seed):
            writer.write(record)
    return path.stat().st_size
