"""Property tests: no input makes the parser raise anything but ConfigError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.config import parse_config_text
from mta.errors import ConfigError

pytestmark = pytest.mark.slow  # every test here takes over a second

_WORDS = [
    "<domain", "<domain *>", "</domain>", "<virtual-mta v>", "</virtual-mta>", "<warmup>",
    "</warmup>", "<source 0/0>", "</source>", "<acct-file a.csv>", "</acct-file>",
    "<smtp-pattern-list p>", "</smtp-pattern-list>", "<bounce-category-patterns>",
    "</bounce-category-patterns>", "max-msg-rate", "30/s", "max-smtp-out", "retry-after",
    "5m,1h", "route", "127.0.0.1:25", "priority=x", "reply", "/a(/", "/x/", "mode=backoff",
    "spam-related", "domain-macro", "$m", "include", "#", "\\", "\"", "{", "}", "records",
    "d,b", "record-fields", "smtp-listener", "0/0:25", "yes", "never", "\n", " ",
]  # fmt: skip


def _check(text: str) -> None:
    rendered = ""
    try:
        cfg = parse_config_text(text, "fuzz.conf")
    except ConfigError as exc:
        rendered = str(exc)  # every error renders as text
    else:
        assert cfg.files == ("fuzz.conf",)
        return
    assert rendered


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_only_raises_config_error(text: str) -> None:
    """Any text at all either parses or raises ConfigError — never another exception."""
    _check(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=40).map(" ".join))
def test_config_shaped_noise_only_raises_config_error(text: str) -> None:
    """Sequences of real keywords and values in any order never crash the parser."""
    _check(text.replace(" \n ", "\n"))
