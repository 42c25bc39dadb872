"""The one error of ESP intake (defined in :mod:`acctpipe.errors`), re-exported."""

from __future__ import annotations

from acctpipe.errors import RejectedError

__all__ = ["RejectedError"]
