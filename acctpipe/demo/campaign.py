"""``acctpipe demo``: the campaign — who gets mail, the messages, and injecting them over SMTP.

A campaign is a seeded, reproducible list of recipients across the demo's
destination domains, with a few percent of addresses that do not exist
(``unknown-…``: a 550 5.1.1 hard bounce) and of mailboxes that are full
(``full-…``: 452 at most receivers, 552 at the yahoo-like one). The campaign
tool sends one recipient per message, over several concurrent STARTTLS
connections to the MTA's listener, as a real application would.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from typing import Final, Literal

import aiosmtplib

__all__ = [
    "JOB_ID",
    "SENDER",
    "Campaign",
    "InjectStats",
    "Recipient",
    "build_campaign",
    "inject",
    "message_for",
]

SENDER: Final = "news@shop.example"
JOB_ID: Final = "spring-sale-2026"
Kind = Literal["ok", "unknown", "full"]

# Shares of the list per destination (what a consumer list looks like, roughly).
DOMAIN_WEIGHTS: Final[Mapping[str, float]] = {
    "gmail.example": 0.52,
    "yahoo.example": 0.32,
    "outlook.example": 0.12,
    "blocked.example": 0.04,
}
UNKNOWN_SHARE: Final = 0.03
FULL_SHARE: Final = 0.015

_FIRST: Final = (
    "ann", "ben", "chloe", "dan", "eva", "farid", "gita", "hugo", "ines", "jon", "kai",
    "lena", "mo", "nora", "omar", "pia", "quinn", "rosa", "sam", "tara", "ugo", "vera",
)  # fmt: skip
_LAST: Final = (
    "adams", "berg", "costa", "diaz", "ek", "fischer", "garcia", "horvat", "ito", "jansen",
    "kowalski", "lopez", "moreau", "nagy", "olsen", "petrov", "rossi", "silva", "tanaka",
)  # fmt: skip
_BODY: Final = (
    "Our spring sale starts today: up to 40% off everything in the shop, with free\r\n"
    "delivery on orders over 30 euros. The offer ends on Sunday at midnight.\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address of the list, its destination domain and what its mailbox will do."""

    address: str
    domain: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Campaign:
    """The recipients, in sending order."""

    recipients: tuple[Recipient, ...]

    def count(self, kind: Kind | None = None, domain: str | None = None) -> int:
        """How many recipients are of ``kind`` (and go to ``domain``)."""
        return sum(
            1
            for r in self.recipients
            if (kind is None or r.kind == kind) and (domain is None or r.domain == domain)
        )

    def by_domain(self) -> Counter[str]:
        """Recipients per destination domain."""
        return Counter(r.domain for r in self.recipients)


def build_campaign(size: int, *, seed: int = 2026) -> Campaign:
    """A reproducible campaign of ``size`` unique recipients."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    domains = list(DOMAIN_WEIGHTS)
    weights = list(DOMAIN_WEIGHTS.values())
    out: list[Recipient] = []
    for n in range(size):
        domain = rng.choices(domains, weights)[0]
        roll = rng.random()
        kind: Kind = (
            "unknown"
            if roll < UNKNOWN_SHARE
            else "full"
            if roll < UNKNOWN_SHARE + FULL_SHARE
            else "ok"
        )
        local = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{n}"
        if kind != "ok":
            local = f"{kind}-{local}"
        out.append(Recipient(f"{local}@{domain}", domain, kind))
    return Campaign(tuple(out))


def message_for(rcpt: Recipient, n: int) -> bytes:
    """The campaign message to ``rcpt`` (the ``n``-th sent), about 1.5 kB."""
    name = rcpt.address.split("@")[0].split(".")[0].removeprefix("unknown-")
    name = name.removeprefix("full-").capitalize()
    head = (
        f'From: "Shop Example" <{SENDER}>\r\n'
        f"To: <{rcpt.address}>\r\n"
        f"Subject: {name}, the spring sale starts today\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: {make_msgid(f'c{n}', 'shop.example')}\r\n"
        f"X-Job: {JOB_ID}\r\n"
        "List-Unsubscribe: <mailto:unsubscribe@shop.example>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return (head + f"Hello {name},\r\n\r\n" + _BODY * 6 + "The Shop Example team\r\n").encode()


@dataclass(slots=True)
class InjectStats:
    """What the campaign tool saw: accepted and refused messages (live, as it sends)."""

    accepted: int = 0
    refused: int = 0
    refused_by: Counter[str] = field(default_factory=Counter)
    done: bool = False


async def _worker(
    host: str,
    port: int,
    tls: ssl.SSLContext,
    jobs: asyncio.Queue[tuple[int, Recipient]],
    stats: InjectStats,
    tick: Callable[[], None],
    pace: Callable[[int], float],
) -> None:
    smtp = aiosmtplib.SMTP(hostname=host, port=port, start_tls=True, tls_context=tls, timeout=60)
    async with smtp:
        while True:
            try:
                n, rcpt = jobs.get_nowait()
            except asyncio.QueueEmpty:
                return
            if (wait := pace(n)) > 0:
                await asyncio.sleep(wait)
            try:
                await smtp.sendmail(SENDER, [rcpt.address], message_for(rcpt, n))
            except aiosmtplib.SMTPRecipientsRefused as exc:
                stats.refused += 1
                stats.refused_by[str(exc.recipients[0].code)] += 1
            else:
                stats.accepted += 1
            tick()


async def inject(
    host: str,
    port: int,
    campaign: Campaign,
    tls: ssl.SSLContext,
    stats: InjectStats,
    *,
    rate: float = 150.0,
    connections: int = 8,
    tick: Callable[[], None] = lambda: None,
) -> InjectStats:
    """Send every message of ``campaign`` to ``host:port`` at up to ``rate`` messages
    per second (as a campaign tool paces a send); ``tick`` after each one."""
    jobs: asyncio.Queue[tuple[int, Recipient]] = asyncio.Queue()
    for n, rcpt in enumerate(campaign.recipients):
        jobs.put_nowait((n, rcpt))
    loop = asyncio.get_running_loop()
    start = loop.time()

    def pace(n: int) -> float:
        return start + n / rate - loop.time()

    try:
        await asyncio.gather(
            *(_worker(host, port, tls, jobs, stats, tick, pace) for _ in range(connections))
        )
    finally:
        stats.done = True
    return stats
