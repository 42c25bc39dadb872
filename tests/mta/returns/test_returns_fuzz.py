"""Property tests: no returned message, however broken, makes the returns processor raise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.acct import DEFAULT_HEADER, AccountingEncoder
from mta.config import parse_config_text
from mta.returns.intake import ReturnsProcessor
from tests._paths import MAIL

pytestmark = pytest.mark.slow  # every test here takes over a second

MAIL = MAIL
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
SAMPLES = sorted(MAIL.rglob("*.eml"))
PROCESSOR = ReturnsProcessor(
    parse_config_text(
        "<bounce-processor>\n<address-list>\naddress /@bounces\\.example\\.com$/\n"
        "</address-list>\n</bounce-processor>\n<acct-file a.csv>\nrecords rb,f\n"
        "record-fields rb rcpt,header_Subject\n</acct-file>\n"
    )
)
ENCODER = AccountingEncoder((*DEFAULT_HEADER, "header_X-Acctpipe-Id", "header_Subject"))
RCPTS = st.lists(
    st.sampled_from(
        ["bounce+a=b.example@bounces.example.com", "x@bounces.example.com", "<>", "", "a@b"]
    )
    | st.text(max_size=40),
    max_size=3,
).map(tuple)


def _check(raw: bytes, recipients: tuple[str, ...]) -> None:
    for record in PROCESSOR.records(raw, "", recipients, now=NOW, peer_ip="192.0.2.1"):
        ENCODER.encode(record)  # every record is one the accounting writer accepts


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), RCPTS)
def test_random_bytes_never_raise(raw: bytes, recipients: tuple[str, ...]) -> None:
    """Arbitrary bytes to arbitrary recipients give records (maybe none), never an exception."""
    _check(raw, recipients)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.integers(min_value=0, max_value=1 << 16),
    st.binary(min_size=1, max_size=64),
    RCPTS,
)
def test_damaged_real_returns_never_raise(
    sample: Path, at: int, junk: bytes, recipients: tuple[str, ...]
) -> None:
    """Corpus messages cut short and spliced with junk still never raise."""
    data = sample.read_bytes()
    cut = at % (len(data) + 1)
    _check(data[:cut] + junk + data[cut + len(junk) :], recipients)
