"""One delivery attempt's outcome, decided without I/O: replies, verdicts, retry times, records.

The delivery engine feeds in what the receiver said (or that it could not be
reached); this module says what that means for the recipient — delivered,
bounced, deferred, or expired — when to try again, and which accounting record
(PowerMTA fields) tells the story. The verdict table is the one place the rules
live:

======================  ===============  ===================
reply                   before expiry    after ``bounce-after``
======================  ===============  ===================
2xx                     delivered (d)    delivered (d)
5xx                     bounced (b)      bounced (b)
4xx / no answer         deferred (t)     expired (b, 4.4.7)
======================  ===============  ===================

What became of one message handed to an open connection is an :data:`Outcome`;
:data:`ENDS_CONNECTION` says whether the connection carries another message after it:

==================  ===============  ===================================================
outcome             connection       what happened
==================  ===============  ===================================================
``sent``            takes the next   sent; every recipient's reply accounted
``closed``          finished         sent and accounted, but the session is gone (the
                                     receiver hung up, said 421, or the line dropped)
``all-suppressed``  takes the next   every recipient suppressed: nothing was sent
``gone``            takes the next   no longer in the spool (an operator removed it)
``unreadable``      finished         the spool could not be read: requeued for later
``local-error``     finished         a local failure mid-attempt: deferred, not stranded
==================  ===============  ===================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from classifiers import RuleTable, classify_reply

__all__ = [
    "ENDS_CONNECTION",
    "NO_ANSWER",
    "SUPPRESSED_DIAG",
    "Context",
    "Outcome",
    "Reply",
    "Verdict",
    "attempt_record",
    "queue_record",
    "retry_delay",
    "suppressed_record",
    "verdict",
]

Verdict = Literal["delivered", "bounced", "deferred", "expired"]
Outcome = Literal["sent", "closed", "all-suppressed", "gone", "unreadable", "local-error"]

# Whether the connection that carried a message is finished after it (see the module table).
ENDS_CONNECTION: Final[Mapping[Outcome, bool]] = {
    "sent": False,
    "closed": True,
    "all-suppressed": False,
    "gone": False,
    "unreadable": True,
    "local-error": True,
}

# RFC 3463: status-code = class "." subject "." detail; class 2/4/5, up to 3 digits each.
_STATUS: Final = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply as received (``code`` 0: there was none — a network failure)."""

    code: int
    text: str

    @property
    def status(self) -> str:
        """The RFC 3463 enhanced status at the start of the text, or ``""``."""
        m = _STATUS.match(self.text.strip())
        return m.group(1) if m else ""

    @property
    def is_permanent(self) -> bool:
        """5xx: trying the same again will fail again."""
        return 500 <= self.code < 600

    @property
    def is_success(self) -> bool:
        """2xx: the receiver took responsibility."""
        return 200 <= self.code < 300

    def diag(self) -> str:
        """PowerMTA's ``dsnDiag`` form: ``smtp;550 5.1.1 ...`` (or the local reason)."""
        text = " ".join(self.text.split())
        return f"smtp;{self.code} {text}" if self.code else text

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code else self.text


def NO_ANSWER(reason: str) -> Reply:  # noqa: N802 - reads as a constant constructor
    """A failure with no SMTP reply (refused connection, timeout, dropped line)."""
    return Reply(0, reason)


def verdict(reply: Reply, *, expired: bool) -> Verdict:
    """What ``reply`` means for one recipient (see the module table)."""
    if reply.is_success:
        return "delivered"
    if reply.is_permanent:
        return "bounced"
    return "expired" if expired else "deferred"


def retry_delay(schedule: Sequence[float], attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: the schedule's step, the last one repeating."""
    if not schedule:
        return 600.0
    return float(schedule[min(max(attempts, 0), len(schedule) - 1)])


def _status_of(reply: Reply, kind: Verdict) -> str:
    if kind == "expired":
        return "4.4.7 (delivery time expired)"
    if reply.status:
        return reply.status
    if reply.is_success:
        return "2.0.0"
    return "5.0.0" if reply.is_permanent else "4.0.0"


_ACTIONS: Final[Mapping[Verdict, tuple[str, str]]] = {
    "delivered": ("d", "relayed"),
    "bounced": ("b", "failed"),
    "expired": ("b", "failed"),
    "deferred": ("t", "delayed"),
}


@dataclass(frozen=True, slots=True)
class Context:
    """What the accounting record says about the message and the path it took."""

    sender: str
    queued_at: datetime
    queue: str
    vmta: str
    vmta_pool: str = ""
    job_id: str = ""
    env_id: str = ""
    src_type: str = "smtp"
    src_mta: str = ""
    source_ip: str = ""
    destination_ip: str = ""
    destination_mta: str = ""
    esmtp: str = ""
    size: int = 0


def attempt_record(
    kind: Verdict,
    rcpt: str,
    reply: Reply,
    ctx: Context,
    *,
    now: datetime,
    table: RuleTable | None = None,
) -> dict[str, object]:
    """The accounting record (``d``, ``b`` or ``t``) for one recipient's attempt."""
    rtype, action = _ACTIONS[kind]
    record: dict[str, object] = {
        "type": rtype,
        "timeLogged": now,
        "timeQueued": ctx.queued_at,
        "orig": ctx.sender,
        "rcpt": rcpt,
        "dsnAction": action,
        "dsnStatus": _status_of(reply, kind),
        "dsnDiag": reply.diag(),
        "dsnMta": ctx.destination_mta,
        "srcType": ctx.src_type,
        "srcMta": ctx.src_mta,
        "dlvType": "smtp",
        "dlvSourceIp": ctx.source_ip,
        "dlvDestinationIp": ctx.destination_ip,
        "dlvEsmtpAvailable": ctx.esmtp,
        "dlvSize": ctx.size,
        "vmta": ctx.vmta,
        "jobId": ctx.job_id,
        "envId": ctx.env_id,
        "queue": ctx.queue,
        "vmtaPool": ctx.vmta_pool,
    }
    if rtype != "d":
        record["bounceCat"] = classify_reply(
            reply.code or None, reply.status, reply.text, table=table
        ).category
    return record


SUPPRESSED_DIAG: Final = "acctpipe;suppressed"


def suppressed_record(
    rcpt: str, why: str, ctx: Context, *, now: datetime, table: RuleTable | None = None
) -> dict[str, object]:
    """The ``b`` record of a recipient dropped because it is on the suppression list.

    Its ``dsnDiag`` starts with ``acctpipe;suppressed`` so the feedback loop can tell
    our own refusals from the receivers' (and never feed them back as new bounces).
    """
    reply = Reply(550, f"5.7.1 recipient suppressed ({why})")
    record = attempt_record("bounced", rcpt, reply, ctx, now=now, table=table)
    record["dsnDiag"] = f"{SUPPRESSED_DIAG} ({why})"
    record["dsnMta"] = ""
    record["bounceCat"] = "policy-related"
    return record


def queue_record(
    reply: Reply,
    *,
    queue: str,
    vmta: str,
    source_ip: str,
    destination_ip: str,
    now: datetime | None = None,
    table: RuleTable | None = None,
) -> dict[str, object]:
    """A ``tq`` record: the whole queue was deferred (no connection, greeting refused)."""
    return {
        "type": "tq",
        "timeLogged": now or datetime.now(UTC),
        "dsnAction": "delayed",
        "dsnStatus": reply.status or "4.4.1",
        "dsnDiag": reply.diag(),
        "bounceCat": classify_reply(
            reply.code or None, reply.status, reply.text, table=table
        ).category,
        "dlvSourceIp": source_ip,
        "dlvDestinationIp": destination_ip,
        "vmta": vmta,
        "queue": queue,
    }
