"""The one error of ESP intake: a post refused, with the HTTP status to answer."""

from __future__ import annotations

__all__ = ["RejectedError"]


class RejectedError(Exception):
    """A post we refuse: ``status`` 403 (not authentic, stale), 413 (too big), 422 (malformed).

    Refusals are the sender's to fix (or an attack); retrying the same post does not help.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
