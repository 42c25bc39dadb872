"""The webhook worker: deliver due outbox messages, retry with backoff, dead-letter.

Each :meth:`WebhookWorker.run_once` leases up to ``batch`` due messages (see
:mod:`acctpipe.webhooks._lease`), POSTs them concurrently (at most
``concurrency`` at a time) and records every attempt:

* **2xx** — ``delivered``;
* **410 Gone** — the receiver says the endpoint is gone for good: the message
  is ``dead`` and the subscription is disabled (its other pending messages are
  cancelled when reached; re-enable it and replay to resume);
* **anything else** (other statuses, 3xx included — redirects are never
  followed —, timeouts, connection errors) — retried after the next delay of
  ``schedule``, lengthened by up to ``jitter``; after the last one the message is ``dead``.

:data:`DEFAULT_SCHEDULE` is the Standard Webhooks recommendation: immediately,
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts over about 27.6 hours.
The first entry is the first attempt, made as soon as the message is due.

**At least once.** A worker that crashes after a POST but before recording it
leaves the lease to expire; another worker then delivers the message again,
with the same ``webhook-id``, so receivers must deduplicate on it. A POST is
only started while the lease outlasts the request timeout, so two workers
never deliver one message at the same time (given node clocks in sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

import httpx
from sqlalchemy import Engine

from acctpipe.errors import SqlStoreError
from acctpipe.redact import redact_url, split_userinfo
from acctpipe.webhooks._lease import Claimed, Outcome, claim, finish, release
from acctpipe.webhooks._tx import utcnow
from acctpipe.webhooks.signing import sign_headers
from mta.errors import InvalidValueError
from mta.failurelog import FailureLog

__all__ = ["DEFAULT_SCHEDULE", "WebhookWorker"]

DEFAULT_SCHEDULE: Final[tuple[timedelta, ...]] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
_MARGIN: Final = 1.0  # seconds a request must end before its lease does
_ERROR_CHARS: Final = 500
_SNIPPET_BYTES: Final = 512
_log = logging.getLogger(__name__)


class WebhookWorker:
    """Delivers the outbox of ``engine``; ``node`` names this worker in leases and attempts.

    ``client`` (optional) is used as given and not closed; without one the
    worker makes its own (no proxies from the environment, no redirects).
    ``timeout`` bounds a whole request; ``lease`` must exceed it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        node: str,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        batch: int = 50,
        concurrency: int = 8,
        schedule: Sequence[timedelta] = DEFAULT_SCHEDULE,
        jitter: float = 0.2,
        lease: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not schedule:
            raise InvalidValueError("the retry schedule needs at least one entry")
        if not 0 <= jitter < 1:
            raise InvalidValueError("jitter is a fraction in [0, 1)")
        if lease.total_seconds() <= timeout + _MARGIN:
            raise InvalidValueError("the lease must be longer than the request timeout + 1 s")
        if batch < 1 or concurrency < 1:
            raise InvalidValueError("batch and concurrency must be at least 1")
        self.engine = engine
        self.node = node
        self.timeout = timeout
        self.batch = batch
        self.concurrency = concurrency
        self.schedule = tuple(schedule)
        self.jitter = jitter
        self.lease = lease
        self._client = client
        self._clock = clock
        self._random = random.SystemRandom()

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=False)

    async def run_once(self) -> int:
        """Deliver one batch of due messages; return how many it took (delivered or not).

        Messages of disabled or deleted subscriptions count too: they are cancelled.
        """
        if self._client is not None:
            return await self._batch(self._client)
        async with self._new_client() as client:
            return await self._batch(client)

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Deliver until ``stop`` is set, pausing ``idle`` seconds when nothing is due.

        A database error is logged and retried after the pause: it never ends the loop.
        """
        client = self._client or self._new_client()
        # An outage is logged once, then summarised: not a line per idle pause.
        failures = FailureLog(_log, f"webhook worker {self.node}")
        try:
            while not stop.is_set():
                try:
                    busy = await self._batch(client)
                except (SqlStoreError, OSError) as exc:
                    failures.failed(_short(redact_url(str(exc))))
                    busy = 0
                else:
                    failures.succeeded()
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), idle)
        finally:
            if client is not self._client:
                await client.aclose()

    async def _batch(self, client: httpx.AsyncClient) -> int:
        now = self._clock()
        holder = f"{self.node}/{secrets.token_hex(6)}"[-200:]
        until = now + self.lease
        claimed, cancelled = await asyncio.to_thread(
            claim, self.engine, now=now, until=until, batch=self.batch, holder=holder
        )
        if not claimed:
            return cancelled
        slots = asyncio.Semaphore(self.concurrency)
        late: list[int] = []

        async def one(message: Claimed) -> None:
            async with slots:
                # Start only if the request ends inside the lease: past it, another
                # worker may already have claimed the message.
                left = (until - self._clock()).total_seconds()
                if left <= self.timeout + _MARGIN:
                    late.append(message.id)
                    return
                outcome = await self._attempt(client, message)
                await asyncio.to_thread(
                    finish, self.engine, message, outcome, holder=holder, node=self.node
                )

        results = await asyncio.gather(*(one(m) for m in claimed), return_exceptions=True)
        await asyncio.to_thread(release, self.engine, late, holder=holder)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # a database error recording an outcome: the lease expires
        return len(claimed) + cancelled

    async def _attempt(self, client: httpx.AsyncClient, message: Claimed) -> Outcome:
        at = self._clock()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            headers = sign_headers(message.msg_id, message.body, message.secrets, at)
            url, auth = split_userinfo(message.url)  # credentials as Basic auth, not in logs
            async with asyncio.timeout(self.timeout):
                async with client.stream(
                    "POST",
                    url,
                    auth=auth,
                    content=message.body.encode(),
                    headers=headers,
                    follow_redirects=False,
                    timeout=self.timeout,
                ) as response:
                    status = response.status_code
                    if not response.is_success:
                        error = f"HTTP {status}" + await _snippet(response)
        except (TimeoutError, httpx.TimeoutException):
            error = f"timeout after {self.timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - a bad URL or secret fails this attempt, not the worker
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = (time.perf_counter() - started) * 1000
        if error is not None:
            for secret in message.secrets:  # never store a secret, even one echoed back
                error = error.replace(secret.removeprefix("whsec_"), "***")
            error = _short(redact_url(error))  # nor the URL's user name and password
        return self._outcome(message, at, duration_ms, status, error)

    def _outcome(
        self,
        message: Claimed,
        at: datetime,
        duration_ms: float,
        status: int | None,
        error: str | None,
    ) -> Outcome:
        done = self._clock()
        if status is not None and 200 <= status < 300:
            return Outcome("delivered", at, duration_ms, status)
        if status == 410:
            return Outcome("gone", at, duration_ms, status, error)
        made = message.attempts + 1
        if made >= len(self.schedule):
            return Outcome("dead", at, duration_ms, status, error)
        # Jitter only lengthens a delay, so the budget never ends before the schedule's
        # total (27.6 h by default): a receiver down for a day still gets its mail.
        delay = self.schedule[made] * self._random.uniform(1, 1 + self.jitter)
        return Outcome("retry", at, duration_ms, status, error, done + delay)


async def _snippet(response: httpx.Response) -> str:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= _SNIPPET_BYTES:
            break
    text = data[:_SNIPPET_BYTES].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"
