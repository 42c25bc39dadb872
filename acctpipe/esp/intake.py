"""One posted ESP body in, its records on disk: checks, SNS confirmations, the sink.

:class:`EspIntake` is what ``POST /v1/esp/{provider}`` calls after the API key
is checked. In order: the body decodes as JSON (422); the provider's own
authenticity check passes (403) — the SNS signature, timestamp, certificate
host and topic; the SendGrid ECDSA or Mailgun HMAC signature when its key is
configured; the batch is not over ``max_events`` (413); then the events'
records are written and synced (:class:`~acctpipe.esp.sink.EspSink`).

An SNS ``SubscriptionConfirmation`` is confirmed by GETting its SubscribeURL
when ``sns_confirm`` is set (through the injectable HTTP client, host checked
like a certificate's); otherwise it is recorded for the operator in
``DIR/sns-subscriptions.jsonl`` and logged, and the operator opens the URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from acctpipe.esp import sns
from acctpipe.esp._reject import RejectedError
from acctpipe.esp.certs import CertificateSource, load_pinned
from acctpipe.esp.events import EspEvent, event_records, split_events
from acctpipe.esp.settings import EspSettings
from acctpipe.esp.sink import EspSink
from acctpipe.esp.webhooks import load_ec_public_key, verify_mailgun, verify_sendgrid

__all__ = ["EspIntake", "Outcome"]

log = logging.getLogger("acctpipe.esp")
_SUBSCRIPTIONS = "sns-subscriptions.jsonl"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a post: events read, records written, repeats, events ignored."""

    events: int
    records: int
    duplicates: int
    ignored: int
    message: str = ""


class EspIntake:
    """ESP notifications → accounting records (see the module docstring)."""

    def __init__(self, settings: EspSettings, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.sink = EspSink(
            settings.directory,
            prefix=settings.prefix,
            window=settings.dedupe_window,
            max_size=settings.max_size,
        )
        self.certs = CertificateSource(
            settings.sns_cert_hosts, timeout=settings.cert_timeout, client=client
        )
        self.pinned: tuple[x509.Certificate, ...] = load_pinned(settings.sns_certs)
        key = settings.sendgrid_public_key
        self.sendgrid_key: ec.EllipticCurvePublicKey | None = (
            load_ec_public_key(key) if key else None
        )

    async def receive(
        self, provider: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None
    ) -> Outcome:
        """Check and account for one posted body; raise :class:`RejectedError` to refuse it."""
        now = now or datetime.now(UTC)
        value = _decode(body)
        settings = self.settings
        if provider in ("ses", "sns"):
            doc = sns.check_shape(value)
            await self._verify_sns(doc, now)
            if doc["Type"] == "SubscriptionConfirmation":
                return await self._subscribe(doc)
            if doc["Type"] == "UnsubscribeConfirmation":
                log.warning("SNS topic %s unsubscribed this endpoint", doc["TopicArn"])
                return Outcome(0, 0, 0, 0, "unsubscribed")
            value = doc
        elif provider == "sendgrid" and self.sendgrid_key is not None:
            lowered = {k.lower(): v for k, v in headers.items()}
            verify_sendgrid(self.sendgrid_key, lowered, body, now, settings.webhook_max_age)
        elif provider == "mailgun" and settings.mailgun_signing_key:
            verify_mailgun(settings.mailgun_signing_key, value, now, settings.webhook_max_age)
        events = split_events(provider, value)
        if len(events) > settings.max_events:
            raise RejectedError(
                413, f"{len(events)} events in one post; at most {settings.max_events} are taken"
            )
        return await asyncio.to_thread(self._account, provider, events, now)

    def _account(self, provider: str, events: list[EspEvent], now: datetime) -> Outcome:
        pairs = [(e.event_id, event_records(provider, e, now)) for e in events]
        ignored = sum(1 for _, records in pairs if not records)
        records, duplicates = self.sink.write([p for p in pairs if p[1]])
        return Outcome(len(events), records, duplicates, ignored)

    async def _verify_sns(self, doc: Mapping[str, str], now: datetime) -> None:
        settings = self.settings
        if settings.sns_topics and doc["TopicArn"] not in settings.sns_topics:
            raise RejectedError(403, f"SNS topic {doc['TopicArn']!r} is not an allowed topic")
        sns.check_fresh(doc, now, settings.sns_max_age)
        for cert in self.pinned:
            try:
                sns.verify_signature(doc, cert, now)
            except RejectedError:
                continue
            return
        url = doc.get("SigningCertURL", "")
        if not url:
            raise RejectedError(403, "the SNS message has no SigningCertURL")
        sns.verify_signature(doc, await self.certs.get(url), now)

    async def _subscribe(self, doc: Mapping[str, str]) -> Outcome:
        topic, url = doc["TopicArn"], doc.get("SubscribeURL", "")
        if not url:
            raise RejectedError(422, "the SNS SubscriptionConfirmation has no SubscribeURL")
        if self.settings.sns_confirm:
            try:
                status = await self.certs.get_url(url)
            except httpx.HTTPError as exc:
                log.warning("confirming SNS topic %s failed: %s", topic, type(exc).__name__)
                raise RejectedError(503, "confirming the SNS subscription failed") from exc
            log.info("confirmed SNS topic %s (HTTP %d)", topic, status)
            return Outcome(0, 0, 0, 0, f"subscription confirmed (HTTP {status})")
        entry = {"time": doc["Timestamp"], "TopicArn": topic, "SubscribeURL": url}
        await asyncio.to_thread(self._record_subscription, entry)
        log.warning("SNS topic %s asks to subscribe: open its SubscribeURL to confirm", topic)
        return Outcome(0, 0, 0, 0, f"subscription recorded in {_SUBSCRIPTIONS}")

    def _record_subscription(self, entry: dict[str, str]) -> None:
        path = self.settings.directory / _SUBSCRIPTIONS
        with path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")

    async def aclose(self) -> None:
        """Close the live file and the HTTP client."""
        self.sink.close()
        await self.certs.aclose()


def _decode(body: bytes) -> object:
    """The JSON value of ``body``: an object or an array, or 422."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RejectedError(422, f"the body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise RejectedError(422, "the body is JSON nested too deep") from exc
    if not isinstance(value, (dict, list)):
        raise RejectedError(422, "the body is not a JSON object or array")
    return value
