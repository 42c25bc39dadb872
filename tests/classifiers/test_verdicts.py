"""The message path's remembered verdicts equal classify_diag's, table by table."""

from __future__ import annotations

from classifiers import classify_diag, load_rules
from classifiers._verdicts import verdict_of

DIAGS = (
    ("smtp; 550 5.1.1 <a@example.com>: User unknown", ""),
    ("552 mailbox full", "5.2.2"),
    ("421 try again later", ""),
    ("", ""),
)
OWN_RULE = """
[[rule]]
id = "own-user-unknown"
text = "user unknown"
category = "other"
class = "soft"
"""


def test_verdicts_equal_classify_diag_for_each_table() -> None:
    """A loaded table, a table with a rule of its own and no table: each its own answers."""
    tables = (load_rules(), load_rules(OWN_RULE), None)
    for _ in range(2):  # the second round is answered from memory
        for table in tables:
            for diag, status in DIAGS:
                assert verdict_of(diag, status, table) == classify_diag(diag, status, table=table)
    assert verdict_of(*DIAGS[0], tables[1]).rule_id == "own-user-unknown"
    assert verdict_of(*DIAGS[0], tables[0]).rule_id != "own-user-unknown"


def test_many_tables_stay_correct() -> None:
    """Tables beyond the remembered few are answered afresh, never with another's verdicts."""
    for i in range(20):
        table = load_rules(OWN_RULE) if i % 2 else load_rules()
        want = classify_diag(*DIAGS[0], table=table)
        assert verdict_of(*DIAGS[0], table) == want
