"""The suppression list and throttle decisions, stored in SQL (see docs/suppressions.md).

* :func:`normalise_address` — one spelling per mailbox (the MTA's in-memory set
  uses the same function, so both sides agree);
* :class:`SuppressionStore` — suppressions by (address, scope), and a change log
  a reader can follow by cursor without missing or repeating a change;
* :class:`ThrottleStore` — the throttle controller's decisions and evidence;
* :func:`import_csv` / :func:`export_csv` — ESP export formats in, our CSV out.
"""

from acctpipe.policy.normalise import (
    address_key,
    normalise_address,
    normalise_domain,
    normalise_scope,
)
from acctpipe.sqlstore.suppressions.csvio import (
    EXPORT_COLUMNS,
    FORMAT_NAMES,
    ImportReport,
    RowNote,
    detect_format,
    export_csv,
    export_row,
    import_csv,
)
from acctpipe.sqlstore.suppressions.model import TOMBSTONES, Change, ChangeOp, Suppression
from acctpipe.sqlstore.suppressions.store import ChangeHook, SuppressionStore
from acctpipe.sqlstore.throttles import StoredThrottle, ThrottleStore

__all__ = [
    "EXPORT_COLUMNS",
    "FORMAT_NAMES",
    "TOMBSTONES",
    "Change",
    "ChangeHook",
    "ChangeOp",
    "ImportReport",
    "RowNote",
    "StoredThrottle",
    "Suppression",
    "SuppressionStore",
    "ThrottleStore",
    "address_key",
    "detect_format",
    "export_csv",
    "export_row",
    "import_csv",
    "normalise_address",
    "normalise_domain",
    "normalise_scope",
]
