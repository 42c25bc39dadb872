"""Stores whose every write also fills the webhook outbox, in the same transaction.

Every writer of the suppression list or the throttle decisions — the feedback
loop, the API, ``acctpipe suppress add|remove|import`` — opens its stores here,
so a CRM hears of a change whoever made it.
"""

from __future__ import annotations

from sqlalchemy import Engine

from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from acctpipe.webhooks.outbox import Outbox

__all__ = ["stores_with_webhooks"]


def stores_with_webhooks(engine: Engine) -> tuple[Outbox, SuppressionStore, ThrottleStore]:
    """An outbox on ``engine`` and the two stores that write into it."""
    outbox = Outbox(engine)
    return (
        outbox,
        SuppressionStore(engine, on_changes=outbox.change_hook),
        ThrottleStore(engine, on_record=outbox.throttle_hook),
    )
