"""Reading policy TOML: the packaged defaults, user texts, typed values, located errors.

Nothing here opens a file except the packaged ``default.toml`` (read once through
``importlib.resources``); callers read user files and pass :class:`PolicyText`, so
errors can name the file. Every error is a :class:`~mta.errors.ConfigError`
printed as ``file:line: <section>: 'key': problem``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Final, NamedTuple

from mta.config.values import parse_duration
from mta.errors import ConfigError

__all__ = [
    "DEFAULT_SOURCE",
    "TOP_LEVEL",
    "Fail",
    "PolicyText",
    "as_text",
    "default_document",
    "line_of_key",
    "parse_document",
]

DEFAULT_SOURCE: Final = "default.toml"
TOP_LEVEL: Final = frozenset({"suppression", "throttle"})


class PolicyText(NamedTuple):
    """The TOML text of a user policy file and the name to report it under."""

    source: str
    text: str


def as_text(item: PolicyText | str) -> PolicyText:
    """A plain ``str`` is TOML text reported as ``<string>``."""
    return item if isinstance(item, PolicyText) else PolicyText("<string>", item)


def parse_document(part: PolicyText) -> dict[str, Any]:
    """Parse one policy file; only ``[suppression]`` and ``[throttle]`` may appear."""
    try:
        document = tomllib.loads(part.text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=part.source) from None
    extra = sorted(set(document) - TOP_LEVEL)
    if extra:
        raise ConfigError(
            f"unknown top-level key(s) {', '.join(extra)}; allowed: suppression, throttle",
            path=part.source,
        )
    return document


@cache
def default_document() -> PolicyText:
    """The packaged ``default.toml`` (read once; every caller shares it)."""
    text = resources.files("acctpipe.policy").joinpath(DEFAULT_SOURCE).read_text("utf-8")
    return PolicyText(DEFAULT_SOURCE, text)


def line_of_key(text: str, section: str, key: str) -> int | None:
    """The 1-based line of ``key = ...`` inside ``[section]`` (or ``[[section]]``) of ``text``.

    Best effort: None when not found (dotted keys, inline tables).
    """
    current = ""
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    assignment = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        found = header.match(line)
        if found:
            current = found.group(1)
        elif current == section and assignment.match(line):
            return number
    return None


def _rule_line(text: str, rule_id: str) -> int | None:
    pattern = rf"(?m)^[ \t]*id[ \t]*=[ \t]*[\"']{re.escape(rule_id)}[\"']"
    found = re.search(pattern, text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


class Fail:
    """Builds ConfigErrors located at one key of one section (or one rule) of one file."""

    def __init__(self, part: PolicyText, section: str, rule_id: str | None = None) -> None:
        self.part, self.section, self.rule_id = part, section, rule_id

    def __call__(self, key: str | None, problem: str) -> ConfigError:
        """``source:line: <section>: [rule 'id': ]'key': problem``."""
        if self.rule_id is not None:
            line = _rule_line(self.part.text, self.rule_id)
        elif key is not None:
            line = line_of_key(self.part.text, self.section, key)
        else:
            line = None
        who = "" if self.rule_id is None else f"rule {self.rule_id!r}: "
        what = "" if key is None else f"{key!r}: "
        return ConfigError(
            f"{who}{what}{problem}", path=self.part.source, line=line, section=self.section
        )

    def table(self, raw: Mapping[str, Any], allowed: frozenset[str]) -> None:
        """Refuse keys outside ``allowed``, naming them."""
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise self(
                unknown[0],
                f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            )

    def seconds(self, key: str, value: object) -> float:
        """A positive duration: seconds as a number, or text such as ``30s``, ``7d``, ``4d12h``."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self(key, "expected a duration such as 30s, 5m, 24h or 7d")
        if isinstance(value, str):
            try:
                seconds = parse_duration(value) or 0.0
            except ValueError as exc:
                raise self(key, str(exc)) from None
        else:
            seconds = float(value)
        if not math.isfinite(seconds) or seconds <= 0:
            raise self(key, f"must be a positive duration, got {value!r}")
        return seconds

    def optional_seconds(self, key: str, value: object) -> float | None:
        """Like :meth:`seconds`, but ``"off"`` (or 0) gives None."""
        return None if value in ("off", 0) and value is not False else self.seconds(key, value)

    def number(self, key: str, value: object, *, low: float, high: float = math.inf) -> float:
        """A finite number with ``low < value <= high``."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self(key, f"expected a number, got {value!r}")
        if not (math.isfinite(value) and low < value <= high):
            bound = f"{low:g} < value" + ("" if math.isinf(high) else f" <= {high:g}")
            raise self(key, f"must satisfy {bound}, got {value!r}")
        return float(value)

    def integer(self, key: str, value: object, *, low: int = 1) -> int:
        """An integer of at least ``low``."""
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self(key, f"expected an integer >= {low}, got {value!r}")
        return value

    def strings(self, key: str, value: object, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
        """A list of strings, each one of ``allowed`` (when given); kept in order, deduplicated."""
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self(key, f"expected a list of strings, got {value!r}")
        if allowed is not None:
            bad = [v for v in value if v not in allowed]
            if bad:
                raise self(key, f"{bad[0]!r} is not one of {', '.join(allowed)}")
        return tuple(dict.fromkeys(value))

    def choice(self, key: str, value: object, allowed: tuple[str, ...]) -> str:
        """One of ``allowed``."""
        if not isinstance(value, str) or value not in allowed:
            raise self(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value
