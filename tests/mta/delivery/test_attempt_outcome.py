"""What became of one message handed to a connection: the named outcomes and their table."""

from __future__ import annotations

from typing import get_args

from mta.delivery.attempt import ENDS_CONNECTION, Outcome


def test_every_outcome_says_whether_its_connection_ends() -> None:
    """Each outcome of sending one message has exactly one row in the connection table."""
    assert set(ENDS_CONNECTION) == set(get_args(Outcome))


def test_a_connection_ends_only_when_its_session_is_gone_or_the_failure_is_local() -> None:
    """A hang-up, an unreadable spool or a local error ends the connection; after a sent,
    all-suppressed or vanished message the same session takes the next one."""
    ending = {outcome for outcome, ends in ENDS_CONNECTION.items() if ends}
    assert ending == {"closed", "unreadable", "local-error"}
