"""The suppression reasons (mta.suppression.SuppressionReason) are the ones the docs list."""

from __future__ import annotations

import re

from acctpipe.policy.types import SuppressionReason as PolicyReason
from mta.suppression import REASONS, SuppressionReason
from tests._paths import ROOT as REPO

DOCS = REPO / "docs"


def test_the_docs_list_every_suppression_reason_in_order() -> None:
    """docs/suppressions.md's ``reason`` column and docs/webhooks.md's ``reason`` field
    list the suppression reasons the code knows, in the code's order."""
    (row,) = [
        line
        for line in (DOCS / "suppressions.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `reason` |")
    ]
    webhooks = (DOCS / "webhooks.md").read_text(encoding="utf-8")
    field = " ".join(webhooks.split("* `reason` — ", 1)[1].split("\n* ", 1)[0].split())
    for text in (row.split("|")[2], field):
        assert tuple(re.findall(r"`([a-z-]+)`", text)) == REASONS


def test_the_policy_and_the_mta_share_one_reason_type() -> None:
    """acctpipe's policy decides with the very reasons the MTA's suppression set stores."""
    assert PolicyReason is SuppressionReason
