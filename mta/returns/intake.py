"""Returned mail: bounces and feedback-loop reports → accounting records.

PowerMTA's ``<bounce-processor>`` and ``<feedback-loop-processor>``. Mail sent to
an address in either one's ``<address-list>`` is not delivered but read:
:func:`classifiers.classify_message` says what it is, and the answer becomes
accounting records (``rb``, ``rs``, ``f``; see :mod:`mta.returns.records` and
``docs/returns.md``). The *content* decides, not the address: an ARF sent to a
bounce address still yields an ``f`` record, and a DSN sent to the FBL address
``rb`` records.

Sans-IO: bytes and envelope in, records out. The caller (the SMTP listener)
writes the records with :meth:`mta.acct.acctfile.AccountingFile.write` and, when
:attr:`ReturnOutcome.deliver` says so, relays the message on as ordinary mail.
Nothing here raises on account of the message: broken input is counted and
reported as a reason, like auto-replies and mail that is not a return at all.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

# Private helpers of classifiers, on purpose: the same reading of "the returned
# original" the classifier used, so a header it found for the ids is found here too.
from classifiers import (
    MessageKind,
    MessageReport,
    RuleTable,
    address_of,
    classify_message,
    header,
    original_headers,
    parse_bytes,
)
from mta.acct import HEADER_FIELD_PREFIX
from mta.config.model import Config, ReturnProcessor
from mta.config.rules import rule_table
from mta.delivery.verp import decode_verp
from mta.returns.records import Envelope, dsn_records, feedback_records, recovered_record

__all__ = ["ReturnOutcome", "ReturnsProcessor"]

log = logging.getLogger(__name__)

Record = dict[str, object]

# classify_message's detectors for a message that is a bounce but names no
# recipient: an invalid delivery-status part ("rfc3464"), or bounce headers over
# a body nothing could read ("none"). A VERP return path still says who bounced.
_RECIPIENTLESS_BOUNCE = frozenset({"rfc3464", "none"})
_RECORD_TYPES = ("rb", "rs", "f")
_RCPT_FIELD = HEADER_FIELD_PREFIX + "X-Acctpipe-Rcpt"


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    """What one returned message was, the records it gives, and what to do with it.

    ``matched`` is PowerMTA's word: the message was recognised and logged.
    ``deliver`` says to relay it on as ordinary mail anyway, as the processors
    it was addressed to ask (``deliver-matched-email`` / ``deliver-unmatched-email``).
    """

    kind: MessageKind
    reason: str
    records: tuple[Record, ...]
    processors: tuple[ReturnProcessor, ...]
    deliver: bool

    @property
    def matched(self) -> bool:
        """Whether the message was recognised: at least one record came of it."""
        return bool(self.records)


class _Matcher:
    """One processor's address list, compiled once."""

    def __init__(self, processor: ReturnProcessor) -> None:
        self.processor = processor
        self.literals = frozenset(a.pattern for a in processor.addresses if not a.is_regex)
        self.regexes = tuple(
            re.compile(a.pattern, re.IGNORECASE) for a in processor.addresses if a.is_regex
        )

    def matches(self, address: str) -> bool:
        return address.lower() in self.literals or any(r.search(address) for r in self.regexes)


class ReturnsProcessor:
    """Recognise returned mail to the configured processor addresses and account for it.

    ``stats`` counts messages by kind (``dsn``, ``delay``, ``arf``, ``autoreply``,
    ``unknown``), records by type (``rb``, ``rs``, ``f``), ``unmatched`` messages,
    and recipients the report left out but the envelope gave back
    (``recovered-by-verp``), our ``X-Acctpipe-Rcpt`` stamp did (``recovered-by-stamp``) or,
    without either, the returned original's headers did (``recovered-by-original``).
    """

    def __init__(self, config: Config, *, table: RuleTable | None = None) -> None:
        self._matchers = tuple(_Matcher(p) for p in config.return_processors)
        self._table = table if table is not None else rule_table(config)
        self._header_fields = _configured_header_fields(config)
        self.stats: Counter[str] = Counter()

    def processors_for(self, rcpt: str) -> tuple[ReturnProcessor, ...]:
        """The processors whose address list matches ``rcpt`` (``<…>`` allowed)."""
        address = _bare(rcpt)
        if not address:
            return ()
        return tuple(m.processor for m in self._matchers if m.matches(address))

    def is_local(self, rcpt: str) -> bool:
        """Whether ``rcpt`` is a bounce or feedback-loop address: mail to it is read here."""
        return bool(self.processors_for(rcpt))

    def records(
        self,
        raw: bytes,
        mail_from: str,
        recipients: tuple[str, ...],
        *,
        now: datetime,
        peer_ip: str = "",
    ) -> list[Record]:
        """The accounting records for one returned message (see :meth:`process`)."""
        return list(self.process(raw, mail_from, recipients, now=now, peer_ip=peer_ip).records)

    def process(
        self,
        raw: bytes,
        mail_from: str,
        recipients: tuple[str, ...],
        *,
        now: datetime,
        peer_ip: str = "",
    ) -> ReturnOutcome:
        """Classify one message received for ``recipients`` and build its records.

        ``now`` (timezone-aware) becomes ``timeLogged``; ``peer_ip`` the ``srcMta``.
        Never raises for any ``raw``; a naive ``now`` is a caller's bug
        (:class:`ValueError`).
        """
        if now.tzinfo is None or now.utcoffset() is None:
            # A caller bug, not input (a plain ValueError): the clock is aware.
            raise ValueError("now must be timezone-aware")
        local = [(r, procs) for r in recipients if (procs := self.processors_for(r))]
        processors = tuple(dict.fromkeys(p for _, procs in local for p in procs))
        env = self._envelope(raw, [r for r, _ in local], now, peer_ip)
        report = classify_message(raw, table=self._table)
        records = self._build(raw, report, env)
        self.stats[report.kind] += 1
        for record in records:
            self.stats[str(record["type"])] += 1
        if not records:
            self.stats["unmatched"] += 1
            log.info(
                "returned mail from %r to %s not logged (%s): %s",
                mail_from,
                ", ".join(recipients) or "-",
                report.kind,
                report.reason,
            )
        deliver = any(p.deliver_matched if records else p.deliver_unmatched for p in processors)
        return ReturnOutcome(report.kind, report.reason, tuple(records), processors, deliver)

    def _build(self, raw: bytes, report: MessageReport, env: Envelope) -> list[Record]:
        if report.kind == "arf":
            if env.verp_rcpt and not (report.feedback and report.feedback.original_rcpt_to):
                self.stats["recovered-by-verp"] += 1
            return feedback_records(report, env)
        if report.detector == "original" and report.recipients:
            # The classifier recovered the one recipient from headers; the envelope's
            # VERP address (what the bounce was really sent to) outranks them.
            found = report.recipients[0]
            if env.verp_rcpt:
                self.stats["recovered-by-verp"] += 1
                found = replace(found, address=env.verp_rcpt)
            else:
                self.stats["recovered-by-original"] += 1
            report = replace(report, recipients=(found,))
        if report.kind in ("dsn", "delay"):
            return dsn_records(report, env)
        if report.kind == "unknown" and report.detector in _RECIPIENTLESS_BOUNCE:
            if env.verp_rcpt:
                self.stats["recovered-by-verp"] += 1
                return [recovered_record(report, env, env.verp_rcpt)]
            stamped = _original_header_fields(raw, (_RCPT_FIELD,)).get(_RCPT_FIELD, "")
            if rcpt := address_of(stamped):
                self.stats["recovered-by-stamp"] += 1
                return [recovered_record(report, env, rcpt)]
        return []  # auto-replies, read receipts, people, junk: nothing about a recipient

    def _envelope(self, raw: bytes, local: list[str], now: datetime, peer_ip: str) -> Envelope:
        addresses = [_bare(r) for r in local]
        verp = [(a, rcpt) for a in addresses if (rcpt := decode_verp(a))]
        return_path, verp_rcpt = verp[0] if verp else (addresses[0] if addresses else "", "")
        headers = _original_header_fields(raw, self._header_fields) if self._header_fields else {}
        return Envelope(now, return_path, verp_rcpt, peer_ip, headers)


def _bare(address: str) -> str:
    return address.strip().strip("<>").strip()


def _configured_header_fields(config: Config) -> tuple[str, ...]:
    """The ``header_<Name>`` fields an ``<acct-file>`` wants in rb, rs or f records."""
    names: dict[str, None] = {}
    for acct in config.acct_files:
        for kind in _RECORD_TYPES:
            for name in acct.record_fields.get(kind, ()):
                if name.startswith(HEADER_FIELD_PREFIX):
                    names.setdefault(name, None)
    return tuple(names)


def _original_header_fields(raw: bytes, fields: Iterable[str]) -> dict[str, str]:
    """``header_<Name>`` → that header of the returned original (names case-insensitive)."""
    try:
        original = original_headers(parse_bytes(raw))
    except Exception:  # noqa: BLE001 - a message we cannot read has no headers to log
        return {}
    if original is None:
        return {}
    out: dict[str, str] = {}
    for field in fields:
        value = header(original, field[len(HEADER_FIELD_PREFIX) :])
        if value:
            out[field] = value
    return out
