"""``POST /v1/esp/{provider}``: ESP bounce and complaint notifications → accounting records.

Amazon SES over SNS (``ses`` or ``sns``), SendGrid, Mailgun, Postmark and
SparkPost post their events here with a ``write`` key — as a Bearer token,
``X-API-Key``, or the password of HTTP basic auth (``https://esp:KEY@host/…``,
all SNS can send). :class:`acctpipe.esp.EspIntake` checks and reads the body
and writes ``rb`` / ``rs`` / ``f`` rows to the accounting file the tailer
follows, synced before the 200. Refusals: 403 (signature, certificate host,
stale timestamp, topic), 413 (body or batch too large), 422 (not JSON, not
the provider's shape), 404 (no ESP intake on this node), 503 (the disk refusing the write).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel

from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.settings import Services
from acctpipe.esp import Provider, RejectedError

__all__ = ["router"]

log = logging.getLogger("acctpipe.esp")
router = APIRouter(prefix="/v1/esp", tags=["esp"])


class EspResult(BaseModel):
    """What became of the post: ``events`` read, ``records`` written, ``duplicates`` of
    events written before (by id), ``ignored`` events (deliveries, opens, clicks …)."""

    events: int
    records: int
    duplicates: int
    ignored: int
    message: str = ""


@router.post(
    "/{provider}",
    name="esp_notification",
    responses=problems(404, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The provider's notification as it posts it: one JSON object "
            "(an SNS message, a Mailgun or Postmark event) or an array (SendGrid, SparkPost).",
            "content": {
                "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}}
            },
        }
    },
    dependencies=[Depends(require("write", basic=True))],
)
async def esp_notification(
    provider: Annotated[
        Provider, Path(description="ses (or sns), sendgrid, mailgun, postmark, sparkpost")
    ],
    request: Request,
    svc: Annotated[Services, Depends(services)],
) -> EspResult:
    """Account for one ESP notification (or batch) as ``rb``/``f`` records, like returned mail."""
    intake = svc.esp
    if intake is None:
        raise HTTPException(404, "ESP intake is not configured on this node (--esp-dir)")
    limit = intake.settings.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body is over {limit} bytes")
        chunks.append(chunk)
    try:
        outcome = await intake.receive(provider, b"".join(chunks), request.headers)
    except RejectedError as exc:
        if exc.status == 403:
            log.warning("refused a %s notification: %s", provider, exc)
        raise HTTPException(exc.status, str(exc)) from exc
    except OSError as exc:
        log.error("ESP records could not be written: %s", exc)
        raise HTTPException(
            503, "the ESP records could not be written; retry", headers={"Retry-After": "5"}
        ) from exc
    return EspResult(
        events=outcome.events,
        records=outcome.records,
        duplicates=outcome.duplicates,
        ignored=outcome.ignored,
        message=outcome.message,
    )
