"""ESP events → accounting records, each under its notification id (no I/O).

A posted body holds one event or a batch. Each event is read by its
provider's plug-in in :mod:`classifiers.esp` into the report returned mail
gives, and that report into the ``rb`` / ``rs`` / ``f`` records the MTA's
returns processor writes (:mod:`mta.returns.records`), plus the event's id
under ``header_X-Esp-Id`` (in ``events.extra`` once ingested): the id the
sink deduplicates on.

The id is the provider's own where it has one — SNS ``MessageId``, SendGrid
``sg_event_id``, Mailgun ``event-data.id``, Postmark ``RecordType:ID``,
SparkPost ``event_id`` — else the SHA-256 of the event's canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from classifiers.esp import mailgun, postmark, sendgrid, ses, sparkpost
from classifiers.types import MessageReport
from mta.returns.records import Envelope, dsn_records, feedback_records

__all__ = ["ESP_ID_FIELD", "PROVIDERS", "EspEvent", "Provider", "event_records", "split_events"]

Provider = Literal["ses", "sns", "sendgrid", "mailgun", "postmark", "sparkpost"]
PROVIDERS: Final[tuple[str, ...]] = get_args(Provider)
ESP_ID_FIELD: Final = "header_X-Esp-Id"
"""The record field holding ``provider:id`` of the notification a record came from."""

Record = dict[str, object]
_READERS: Final[dict[str, Callable[[object], MessageReport | None]]] = {
    "ses": ses.read,
    "sns": ses.read,
    "sendgrid": sendgrid.read,
    "mailgun": mailgun.read,
    "postmark": postmark.read,
    "sparkpost": sparkpost.read,
}


@dataclass(frozen=True, slots=True)
class EspEvent:
    """One event of a post, with the id it is deduplicated by (``provider:id``)."""

    event_id: str
    value: object


def _get(value: object, *path: str) -> object:
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def _own_id(provider: str, value: object) -> str:
    found: object = None
    if provider in ("ses", "sns"):
        found = _get(value, "MessageId")
    elif provider == "sendgrid":
        found = _get(value, "sg_event_id")
    elif provider == "mailgun":
        found = _get(value, "event-data", "id") or _get(value, "id")
    elif provider == "postmark":
        ident = _get(value, "ID")
        found = f"{_get(value, 'RecordType')}:{ident}" if ident not in (None, "") else None
    elif provider == "sparkpost":
        msys = _get(value, "msys")
        events = list(msys.values()) if isinstance(msys, Mapping) else []
        found = _get(events[0], "event_id") if events else None
    if isinstance(found, (str, int)) and not isinstance(found, bool) and str(found):
        return str(found)[:200]
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256-" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def split_events(provider: str, value: object) -> list[EspEvent]:
    """The events of a decoded body: each item of a batch, or the one object."""
    items = value if isinstance(value, list) else [value]
    return [EspEvent(f"{provider}:{_own_id(provider, item)}", item) for item in items]


def event_records(provider: str, event: EspEvent, now: datetime) -> list[Record]:
    """The accounting records of one event: none for events that are not bounces or complaints."""
    report = _READERS[provider](event.value)
    if report is None:
        return []
    env = Envelope(now=now)
    if report.kind == "arf":
        records = feedback_records(report, env)
    elif report.kind in ("dsn", "delay"):
        records = dsn_records(report, env)
    else:
        return []
    for record in records:
        record[ESP_ID_FIELD] = event.event_id
    return records
