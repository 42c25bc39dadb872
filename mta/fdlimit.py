"""The process's open-file limit: raised at start to what the connection caps need.

Every inbound SMTP session holds a descriptor, in the same process as the
spool, the accounting files, outbound connections and (under ``acctpipe run``)
the API and both stores. A soft ``RLIMIT_NOFILE`` of 1024, common by default,
runs out long before ``total-max-smtp-in`` is reached, and then it is the
stores and the spool that fail. :func:`raise_open_file_limit` lifts the soft
limit towards the hard one — never above it, never lowering it.
"""

from __future__ import annotations

import logging
import sys
from typing import Final

__all__ = ["FD_HEADROOM", "raise_open_file_limit", "wanted_open_files"]

log = logging.getLogger("mta.fdlimit")

FD_HEADROOM: Final = 1024
"""Descriptors kept for everything but inbound sessions: spool, logs, stores, outbound SMTP."""


def wanted_open_files(total_max_smtp_in: int) -> int | None:
    """The soft limit ``total-max-smtp-in`` needs (None: no cap, so as high as allowed)."""
    return total_max_smtp_in + FD_HEADROOM if total_max_smtp_in else None


def raise_open_file_limit(wanted: int | None) -> int | None:
    """Raise the soft ``RLIMIT_NOFILE`` to ``min(hard, wanted)`` (``wanted`` None: the hard
    limit); return the soft limit now in force (None where there is no such limit)."""
    if sys.platform == "win32":  # pragma: no cover - no RLIMIT_NOFILE there
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else wanted
    if hard != resource.RLIM_INFINITY:
        target = min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
            return soft
        log.info("open-file limit raised from %d to %d (hard limit %d)", soft, target, hard)
        soft = target
    if wanted is not None and soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning(
            "open-file limit %d (hard limit %d) is below the %d total-max-smtp-in needs;"
            " raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower total-max-smtp-in",
            soft,
            hard,
            wanted,
        )
    return int(soft)
