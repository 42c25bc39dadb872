"""How the API reaches an MTA's status and queue controls.

* :class:`HttpMtaLink` — the MTA runs in another process (``acctpipe mta``):
  its management port (``http-mgmt-port``), on loopback by default.
* :class:`LocalMtaLink` — the MTA runs in this process: its status provider.

Either answers with the management endpoint's own models, so ``/v1/mta/...``
shows what ``http-mgmt-port`` shows, and either gives ``/metrics`` its queue sizes
(:meth:`MtaLink.queue_sizes`), so ``serve --mta-url`` reports the same queue
metrics as ``run``. An MTA that cannot be reached raises
:class:`MtaUnavailableError` (503).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

import httpx

from acctpipe.errors import MtaUnavailableError
from acctpipe.redact import redact_url
from mta.mgmt.app import MAX_LIMIT, ActionOut, QueueListOut, QueueOut, StatusOut, select_queues
from mta.status import StatusProvider

__all__ = ["HttpMtaLink", "LocalMtaLink", "MtaLink", "MtaUnavailableError", "sizes_of"]

Action = Literal["pause", "resume"]
QueueSize = tuple[str, str, int]


def sizes_of(queues: Iterable[QueueOut]) -> list[QueueSize]:
    """(queue, vmta, messages queued) per queue: ``queued`` counts ready and deferred
    messages alike (``deferred`` is a part of it, not more)."""
    return [(q.queue, q.vmta, q.queued) for q in queues]


class MtaLink(Protocol):
    """The MTA operations the API offers."""

    async def status(self) -> StatusOut:
        """Host, uptime, spool, listeners and totals."""
        ...

    async def queues(self, *, domain: str | None, vmta: str | None, limit: int) -> QueueListOut:
        """Queues, most queued first."""
        ...

    async def act(self, action: Action, queue: str, vmta: str | None) -> ActionOut:
        """Pause or resume a queue (every vmta unless ``vmta``)."""
        ...

    def queue_sizes(self) -> list[QueueSize]:
        """Every queue's size (most queued first), for ``/metrics``; blocking, so call
        it off the event loop. Raises :class:`MtaUnavailableError`."""
        ...


class HttpMtaLink:
    """An MTA's management port at ``base_url`` (e.g. ``http://127.0.0.1:8080``).

    When the MTA sets ``http-admin-key``, give the key as the URL's password
    (``http://:KEY@127.0.0.1:8080``): it is sent as HTTP Basic and never shown
    in :attr:`base_url` or in errors.
    """

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        url = httpx.URL(base_url.rstrip("/"))
        self._auth = httpx.BasicAuth(url.username, url.password) if url.password else None
        self.base_url = str(url.copy_with(username=None, password=None)).rstrip("/")
        self.timeout = timeout
        self._shown = redact_url(self.base_url)  # for errors: never its user name and password

    async def _call(self, method: str, path: str, params: dict[str, Any]) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, auth=self._auth
            ) as client:
                response = await client.request(method, path, params=query)
        except httpx.HTTPError as exc:
            raise MtaUnavailableError(f"the MTA at {self._shown} did not answer: {exc}") from exc
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> Any:
        if response.status_code == 404:
            raise LookupError(response.json().get("detail", "not found"))
        if response.status_code >= 400:
            detail = response.json().get("detail", response.text[:200])
            raise MtaUnavailableError(
                f"the MTA at {self._shown} said {response.status_code}: {detail}"
            )
        return response.json()

    async def status(self) -> StatusOut:
        """See :meth:`MtaLink.status`."""
        return StatusOut.model_validate(await self._call("GET", "/status", {}))

    async def queues(self, *, domain: str | None, vmta: str | None, limit: int) -> QueueListOut:
        """See :meth:`MtaLink.queues`."""
        params = {"domain": domain, "vmta": vmta, "limit": limit}
        return QueueListOut.model_validate(await self._call("GET", "/queues", params))

    async def act(self, action: Action, queue: str, vmta: str | None) -> ActionOut:
        """See :meth:`MtaLink.act`."""
        data = await self._call("POST", f"/queues/{queue}/{action}", {"vmta": vmta})
        return ActionOut.model_validate(data)

    def queue_sizes(self) -> list[QueueSize]:
        """See :meth:`MtaLink.queue_sizes` (the most queued ``MAX_LIMIT`` queues)."""
        try:
            with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
                response = client.get("/queues", params={"limit": MAX_LIMIT})
        except httpx.HTTPError as exc:
            raise MtaUnavailableError(f"the MTA at {self._shown} did not answer: {exc}") from exc
        return sizes_of(QueueListOut.model_validate(self._answer(response)).queues)


class LocalMtaLink:
    """An MTA in this process, through its :class:`~mta.status.StatusProvider`.

    Call it from the MTA's event loop (the API and the MTA share one loop).
    """

    def __init__(self, provider: StatusProvider) -> None:
        self.provider = provider

    async def status(self) -> StatusOut:
        """See :meth:`MtaLink.status`."""
        return StatusOut.of(self.provider.status())

    async def queues(self, *, domain: str | None, vmta: str | None, limit: int) -> QueueListOut:
        """See :meth:`MtaLink.queues`."""
        chosen = select_queues(self.provider.status().queues, domain=domain, vmta=vmta)
        page = [QueueOut.of(q) for q in chosen[:limit]]
        return QueueListOut(total=len(chosen), count=len(page), limit=limit, queues=page)

    async def act(self, action: Action, queue: str, vmta: str | None) -> ActionOut:
        """See :meth:`MtaLink.act`."""
        call = self.provider.pause if action == "pause" else self.provider.resume
        affected = call(queue, vmta)
        if affected == 0:
            raise LookupError(f"no queue {queue!r}")
        return ActionOut(action=action, queue=queue, vmta=vmta, affected=affected)

    def queue_sizes(self) -> list[QueueSize]:
        """See :meth:`MtaLink.queue_sizes`."""
        chosen = select_queues(self.provider.status().queues)
        return sizes_of(QueueOut.of(q) for q in chosen)
