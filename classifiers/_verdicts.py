"""``classify_diag`` for the message path, remembered for any rule table, not only the default.

``classify_diag`` caches the packaged default table's verdicts; with any other table
(the MTA's returns intake always passes the one its config builds, and the CLI does
with ``--rules`` or ``--config``) it walks the rules again for every recipient. A
``RuleTable`` is immutable, so a verdict is a pure function of the table, the
diagnostic and the status: it is remembered per table (by identity, the table kept
alive by its entry so that its id is never reused), a few tables at most, each
holding a bounded number of verdicts.
"""

from __future__ import annotations

from typing import Final

from classifiers._rules import RuleTable
from classifiers.reply import classify_diag
from classifiers.types import Classification

__all__ = ["verdict_of"]

_MAX_TABLES: Final = 8
_MAX_VERDICTS: Final = 65_536
# id(table) -> (the table, {(diag, status): verdict}); insertion order = age.
_BY_TABLE: Final[dict[int, tuple[RuleTable, dict[tuple[str, str], Classification]]]] = {}


def verdict_of(diag: str, status: str, table: RuleTable | None) -> Classification:
    """``classify_diag(diag, status, table=table)``, remembered."""
    if table is None:
        return classify_diag(diag, status)  # cached by classify_diag itself
    entry = _BY_TABLE.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_BY_TABLE) >= _MAX_TABLES:
            del _BY_TABLE[next(iter(_BY_TABLE))]  # the oldest table's verdicts go
        entry = _BY_TABLE[id(table)] = (table, {})
    verdicts = entry[1]
    key = (diag, status)
    found = verdicts.get(key)
    if found is None:
        if len(verdicts) >= _MAX_VERDICTS:
            verdicts.clear()
        found = verdicts[key] = classify_diag(diag, status, table=table)
    return found
