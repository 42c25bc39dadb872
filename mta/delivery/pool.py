"""Choosing a virtual MTA from a ``<virtual-mta-pool>``.

``source-hash yes`` keeps each recipient domain on one IP (receivers see a
stable sender for their users, which protects reputation); otherwise members
are used in turn. The hash is BLAKE2b of the lower-cased domain, so it is the
same on every node and across restarts (Python's ``hash()`` is not).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from mta.config.model import VirtualMtaPool

__all__ = ["PoolSelector", "source_hash_index"]


def source_hash_index(domain: str, members: int) -> int:
    """The stable member index for ``domain`` among ``members``."""
    digest = hashlib.blake2b(domain.lower().rstrip(".").encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % members


@dataclass(slots=True)
class PoolSelector:
    """Pick members of one pool: by recipient domain hash, or round robin."""

    pool: VirtualMtaPool
    _next: int = field(default=0, repr=False)

    def choose(self, recipient_domain: str) -> str:
        """The vmta for a message to ``recipient_domain``."""
        members = self.pool.members
        if self.pool.source_hash:
            return members[source_hash_index(recipient_domain, len(members))]
        chosen = members[self._next % len(members)]
        self._next += 1
        return chosen
