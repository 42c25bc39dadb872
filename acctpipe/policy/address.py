"""Lenient address helpers for the policies, on top of the suppression key normaliser.

Suppressions are stored under :func:`acctpipe.policy.normalise.normalise` (one
spelling per mailbox; the MTA's in-memory set is fed the same form), so the
policies group, count and name addresses with that very function. It refuses what
is not an address; a policy must go on with bad input, so here an unreadable
address gives None (no suppression could be stored for it) and an unreadable
domain its trimmed, lower-cased text.
"""

from __future__ import annotations

from acctpipe.policy.normalise import normalise, normalise_domain

__all__ = ["domain_of", "suppression_key"]


def suppression_key(address: str) -> str | None:
    """``address`` in the form suppressions are stored under, or None if it is not one."""
    try:
        return normalise(address)
    except ValueError:
        return None


def domain_of(address: str) -> str:
    """The normalised domain of ``address`` (``""`` when it has none)."""
    _, at, domain = address.strip().strip("<>").rpartition("@")
    if not at:
        return ""
    try:
        return normalise_domain(domain)
    except ValueError:
        return domain.strip().rstrip(".").lower()
