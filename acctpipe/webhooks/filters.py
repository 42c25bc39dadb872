"""Subscription filters: which events of a subscribed type a subscription receives.

A filter is a JSON object with optional keys, each a list of patterns::

    {"domains": ["example.com", "*.example.net"], "reasons": ["complaint"]}

* ``domains`` — the recipient domain (``data.domain``). A plain domain matches
  itself **and its subdomains** (``example.com`` matches ``mail.example.com``);
  a pattern with ``*``, ``?`` or ``[...]`` is matched fnmatch-style against the
  whole domain (``*.example.net`` matches the subdomains only, not
  ``example.net`` itself). Plain domains are normalised like addresses (IDNA).
* ``scopes``, ``reasons``, ``vmtas``, ``queues`` — ``data.scope``, ``data.reason``,
  ``data.vmta``, ``data.queue``, matched fnmatch-style (``domain:*``, ``ip-*``).

Matching ignores case. A key left out matches anything; keys are ANDed,
patterns within a key are ORed. A key only filters the events that carry its
field: a ``vmtas`` filter does not stop suppression events (they name no vmta),
and a ``domains`` filter does not stop ``throttle.changed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, Final

from acctpipe.policy.normalise import normalise_domain
from mta.errors import BadFilterError

__all__ = ["FILTER_FIELDS", "filter_matches", "validate_filter"]

# filter key → the event data field it tests
FILTER_FIELDS: Final[dict[str, str]] = {
    "domains": "domain",
    "scopes": "scope",
    "reasons": "reason",
    "vmtas": "vmta",
    "queues": "queue",
}
_GLOB: Final = frozenset("*?[")


def _is_glob(pattern: str) -> bool:
    return any(c in _GLOB for c in pattern)


def validate_filter(value: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """``value`` checked and normalised (ValueError naming the problem); None is ``{}``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadFilterError(f"filter must be an object, not {type(value).__name__}")
    clean: dict[str, list[str]] = {}
    for key, patterns in value.items():
        if key not in FILTER_FIELDS:
            raise BadFilterError(f"unknown filter key {key!r}: one of {', '.join(FILTER_FIELDS)}")
        if isinstance(patterns, str) or not isinstance(patterns, list | tuple):
            raise BadFilterError(f"filter {key!r} must be a list of patterns")
        if not patterns:
            raise BadFilterError(f"filter {key!r} is empty: give a pattern or leave the key out")
        out: list[str] = []
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern.strip():
                raise BadFilterError(f"filter {key!r}: {pattern!r} is not a pattern")
            pattern = pattern.strip().lower()
            if key == "domains" and not _is_glob(pattern):
                pattern = normalise_domain(pattern)
            out.append(pattern)
        clean[key] = out
    return clean


def _domain_matches(pattern: str, domain: str) -> bool:
    if _is_glob(pattern):
        return fnmatchcase(domain, pattern)
    return domain == pattern or domain.endswith("." + pattern)


def filter_matches(filter_: Mapping[str, list[str]], data: Mapping[str, Any]) -> bool:
    """True when an event with ``data`` passes ``filter_`` (a validated filter)."""
    for key, patterns in filter_.items():
        value = data.get(FILTER_FIELDS.get(key, ""))
        if value is None:
            continue  # the event does not carry this field: the key does not apply
        text = str(value).lower()
        if key == "domains":
            if not any(_domain_matches(p, text) for p in patterns):
                return False
        elif not any(fnmatchcase(text, p) for p in patterns):
            return False
    return True
