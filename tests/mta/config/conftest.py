"""Helpers for config tests: parse text and collect the located errors."""

from __future__ import annotations

import pytest

from mta.config import Config, parse_config_text
from mta.errors import InvalidConfigError
from tests._paths import ROOT as REPO

DATA = REPO / "tests" / "data" / "config"


def errors_of(text: str, path: str = "t.conf") -> list[str]:
    """Every error the text produces, as the one-line strings users see."""
    with pytest.raises(InvalidConfigError) as info:
        parse_config_text(text, path)
    return [e.location_text() for e in info.value.errors]


def parse(text: str) -> Config:
    """Parse text that must be valid."""
    return parse_config_text(text, "t.conf")
