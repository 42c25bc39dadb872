"""The replies no rule recognised: what ``acctpipe rules unmatched`` lists.

A failure (``b``, ``rb``, ``t``, ``tq``) is *unmatched* when it was decided only by a
fallback rule (``fallback = true`` in the table: the verdict came from the status or
reply code alone), by no rule (``no-match``, ``no-information``), or left ``unknown``.
The same reply sent to many recipients differs only in addresses, hosts, IPs and
queue ids, so diagnostics are grouped by a masked form (:func:`mask_diag`); each group
keeps a count, one raw example, and the verdict it got. The most frequent groups are
the rules worth writing next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import duckdb

from classifiers.reply import NO_INFORMATION, NO_MATCH

__all__ = ["COLUMNS", "Unmatched", "mask_diag", "unmatched"]

COLUMNS: Final = ("count", "pattern", "example", "status", "category", "class", "rule", "last_seen")
_FAILURES: Final = ("b", "rb", "t", "tq")
_NO_RULE: Final = (NO_MATCH, NO_INFORMATION)
# Groups of raw diagnostics fetched before masking: bounds memory on a huge store.
_RAW_GROUPS: Final = 200_000

# One pass, first alternative wins; an enhanced status (5.1.1) is kept as written
# because it is what distinguishes replies, every other number is masked.
_MASKS: Final = re.compile(
    # (a status, not the start or the end of a dotted name such as 2.0.0.com)
    r"(?P<status>(?<![\w.])[245]\.\d{1,3}\.\d{1,3}(?!\w|\.\w))"
    r"|(?P<address><?[^\s<>@;,()\[\]]+@[^\s<>@;,()\[\]]+>?)"
    r"|(?P<ip>\[?\b(?:\d{1,3}\.){3}\d{1,3}\b\]?|\[?(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?)"
    r"|(?P<host>\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}\b)"
    r"|(?P<id>\b(?=[a-z0-9_-]*\d)(?=[a-z0-9_-]*[a-z])[a-z0-9_-]{6,}\b)"
    r"|(?P<n>\d+)",
    re.IGNORECASE,
)
_SPACE: Final = re.compile(r"\s+")


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup or "n"
    return match.group() if kind == "status" else f"<{kind}>"


def mask_diag(diag: str) -> str:
    """``diag`` with addresses, IPs, host names, ids and numbers masked, spaces collapsed.

    The leading reply code and every enhanced status are kept: ``smtp;550 5.1.1
    <bob@example.com>... No such user (mx7.example.net)`` becomes ``smtp;550 5.1.1
    <address>... No such user (<host>)``.
    """
    text = _SPACE.sub(" ", diag).strip()
    head = re.match(r"(?:[a-z-]+;)?\s*[2-5]\d\d(?=[ -]|$)", text, re.IGNORECASE)
    keep = head.group() if head else ""
    return keep + _MASKS.sub(_mask, text[len(keep) :])


@dataclass(slots=True)
class Unmatched:
    """One group of unmatched diagnostics (the verdict and example of its most common form)."""

    count: int
    pattern: str
    example: str
    status: str
    category: str
    cls: str
    rule: str
    last_seen: datetime | None

    def row(self) -> tuple[object, ...]:
        """The group as a row in :data:`COLUMNS` order."""
        return (self.count, self.pattern, self.example, self.status, self.category,
                self.cls, self.rule, self.last_seen)  # fmt: skip


def _query(fallbacks: Iterable[str], since: datetime | None) -> tuple[str, list[object]]:
    decided_by = sorted({*fallbacks, *_NO_RULE})
    marks = ", ".join("?" for _ in decided_by)
    sql = f"""SELECT dsn_diag, dsn_status, bounce_category, bounce_class, bounce_rule,
    count(*) AS n, max(time_logged)
FROM events
WHERE type IN ({", ".join(f"'{t}'" for t in _FAILURES)})
    AND (bounce_class = 'unknown' OR bounce_rule IS NULL
         OR split_part(bounce_rule, '+', 1) IN ({marks}))
    {"AND time_logged >= ?" if since is not None else ""}
GROUP BY ALL
ORDER BY n DESC, max(time_logged) DESC NULLS LAST, dsn_diag
LIMIT {_RAW_GROUPS}"""  # noqa: S608 - constants and placeholders only
    params: list[object] = [*decided_by]
    if since is not None:
        params.append(since)
    return sql, params


def unmatched(
    conn: duckdb.DuckDBPyConnection,
    fallbacks: Iterable[str],
    *,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[Unmatched]:
    """The unmatched groups in ``conn``'s events, most frequent first.

    ``fallbacks`` are the rule ids marked ``fallback`` (``RuleTable.fallback_ids``);
    ``since`` keeps events logged at or after it; ``limit`` caps the groups returned.
    """
    sql, params = _query(fallbacks, since)
    groups: dict[tuple[str, str, str, str], Unmatched] = {}
    # Raw rows come most frequent (then most recent) first: a group's example is its
    # commonest form, its latest when several are as common.
    for diag, status, category, cls, rule, count, last in conn.execute(sql, params).fetchall():
        example = diag or ""
        verdict = (status or "", category or "", cls or "", rule or "")
        key = (mask_diag(example), *verdict[1:])
        found = groups.get(key)
        if found is None:
            groups[key] = Unmatched(int(count), key[0], example, *verdict, last)
            continue
        found.count += int(count)
        if last is not None and (found.last_seen is None or last > found.last_seen):
            found.last_seen = last
    ranked = sorted(groups.values(), key=lambda g: (-g.count, g.pattern))
    return ranked if limit is None else ranked[:limit]
