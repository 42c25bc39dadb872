"""The suppression policy as data: the frozen :class:`SuppressionPolicy` and its TOML loader.

The defaults live in one place, the ``[suppression.*]`` tables of the packaged
``default.toml``; user files replace them key by key (the last file that sets a
key wins) and an error blames the file and line that set the bad value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, Final, Literal, cast, get_args

from acctpipe.policy._toml import Fail, PolicyText, as_text, default_document, parse_document
from classifiers.types import BOUNCE_CATEGORIES
from mta.errors import InvalidValueError

__all__ = [
    "SCOPES",
    "Scope",
    "SuppressionPolicy",
    "default_suppression_policy",
    "load_suppression_policy",
]

Scope = Literal["global", "sender-domain", "job"]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
# Records that carry one recipient's failure (tq names no recipient; d, f, r, rs are no failure).
_SOFT_RECORDS: Final = ("b", "rb", "t")
_KEYS: Final = {
    "hard": frozenset({"scope"}),
    "complaint": frozenset({"scope", "notify"}),
    "soft": frozenset(
        {"records", "categories", "count", "window", "duration", "half-life", "scope"}
    ),
}


@dataclass(frozen=True, slots=True)
class SuppressionPolicy:
    """When an address is suppressed, in which scope, and for how long.

    Build one with :func:`load_suppression_policy` (defaults: ``default.toml``), or
    change a loaded one with :func:`dataclasses.replace`.
    """

    hard_scope: Scope
    complaint_scope: Scope
    complaint_notify: bool
    soft_records: tuple[str, ...]  # record types whose class-soft rows count
    soft_categories: tuple[str, ...]  # empty: every category counts
    soft_count: int
    soft_window: timedelta
    soft_duration: timedelta
    soft_half_life: timedelta | None  # None: no decay, every failure weighs 1
    soft_scope: Scope

    def __post_init__(self) -> None:
        for name in ("soft_window", "soft_duration", "soft_half_life"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise InvalidValueError(f"{name} must be positive, got {value}")
        if self.soft_count < 1:
            raise InvalidValueError(f"soft_count must be at least 1, got {self.soft_count}")


def _merge(parts: list[PolicyText]) -> dict[tuple[str, str], tuple[Any, PolicyText]]:
    """Every ``(table, key)`` of ``[suppression.*]`` → its value and the file that set it last."""
    merged: dict[tuple[str, str], tuple[Any, PolicyText]] = {}
    for part in parts:
        tables = parse_document(part).get("suppression", {})
        if not isinstance(tables, dict):
            raise Fail(part, "suppression")(None, "must be a table: [suppression.soft] etc.")
        Fail(part, "suppression").table(tables, frozenset(_KEYS))
        for name, raw in tables.items():
            fail = Fail(part, f"suppression.{name}")
            if not isinstance(raw, dict):
                raise fail(None, f"[suppression.{name}] must be a table")
            fail.table(raw, _KEYS[name])
            for key, value in raw.items():
                merged[name, key] = (value, part)
    return merged


def _build(merged: dict[tuple[str, str], tuple[Any, PolicyText]]) -> SuppressionPolicy:
    def get(name: str, key: str) -> tuple[Any, Fail]:
        value, part = merged[name, key]  # the packaged defaults set every key
        return value, Fail(part, f"suppression.{name}")

    def scope(name: str) -> Scope:
        value, fail = get(name, "scope")
        return cast(Scope, fail.choice("scope", value, SCOPES))

    def span(key: str) -> timedelta:
        value, fail = get("soft", key)
        return timedelta(seconds=fail.seconds(key, value))

    half_life, half_life_fail = get("soft", "half-life")
    decay = half_life_fail.optional_seconds("half-life", half_life)
    notify, notify_fail = get("complaint", "notify")
    if not isinstance(notify, bool):
        raise notify_fail("notify", f"expected true or false, got {notify!r}")
    records, records_fail = get("soft", "records")
    categories, categories_fail = get("soft", "categories")
    count, count_fail = get("soft", "count")
    return SuppressionPolicy(
        hard_scope=scope("hard"),
        complaint_scope=scope("complaint"),
        complaint_notify=notify,
        soft_records=records_fail.strings("records", records, _SOFT_RECORDS),
        soft_categories=categories_fail.strings("categories", categories, BOUNCE_CATEGORIES),
        soft_count=count_fail.integer("count", count),
        soft_window=span("window"),
        soft_duration=span("duration"),
        soft_half_life=None if decay is None else timedelta(seconds=decay),
        soft_scope=scope("soft"),
    )


@cache
def default_suppression_policy() -> SuppressionPolicy:
    """The packaged defaults (``[suppression.*]`` of ``acctpipe/policy/default.toml``)."""
    return _build(_merge([default_document()]))


def load_suppression_policy(*user: PolicyText | str) -> SuppressionPolicy:
    """The defaults with the ``[suppression.*]`` keys of ``user`` files merged over them.

    Later files win over earlier ones, key by key. A bad value raises
    :class:`~mta.errors.ConfigError` naming the file, line, table and key
    (``policy.toml:7: <suppression.soft>: 'count': expected an integer >= 1, got 0``).
    ``[throttle]`` tables are ignored here (see :mod:`acctpipe.policy.throttle`).
    """
    if not user:
        return default_suppression_policy()
    return _build(_merge([default_document(), *(as_text(item) for item in user)]))
