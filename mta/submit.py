"""How a message enters the MTA: one value and one protocol, shared by every way in.

The SMTP listener, the pickup folder and the management API all build a
:class:`Submission` and hand it to a :class:`Submitter` (the running MTA). When
``submit`` returns, the message is durable (fsynced and renamed into the spool):
only then may the listener answer 250 or the pickup folder delete its file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Origin", "Submission", "Submitter"]

Origin = Literal["smtp", "pickup", "api"]


@dataclass(frozen=True, slots=True)
class Submission:
    """A message ready for the spool.

    ``raw`` is the message as it will be sent (control headers such as
    ``X-Virtual-MTA`` already taken out); ``vmta`` names a virtual MTA or a pool
    (``None``: the default); ``source`` is the ``<source>`` in force, for the
    accounting ``srcMta``/``srcType`` fields.
    """

    raw: bytes
    sender: str
    recipients: tuple[str, ...]
    origin: Origin = "smtp"
    vmta: str | None = None
    job_id: str | None = None
    env_id: str | None = None
    source_ip: str | None = None
    auth_user: str | None = None
    source: str = ""


class Submitter(Protocol):
    """What accepts submissions: the running MTA (or a test double of the same shape)."""

    async def submit(self, submission: Submission) -> list[str]:
        """Spool ``submission`` durably; return the spool ids (one per destination group).

        Raises :class:`mta.errors.LocalError` when the spool cannot take it (disk
        full, permissions): the caller answers 451 4.3.0 / leaves the file.
        """
        ...
