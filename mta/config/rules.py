"""The bounce rule table a configuration asks for.

Order (first match wins): ``bounce-rules`` files as listed, then the
``<bounce-category-patterns>`` lines, then the built-in table. A PowerMTA
pattern carries a category only; its class follows from the category the way
DESIGN.md defines the classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from classifiers import BounceClass, RuleTable, RuleText, load_rules
from mta.config.model import Config

__all__ = ["CATEGORY_CLASSES", "rule_table"]

CATEGORY_CLASSES: Final[Mapping[str, BounceClass]] = {
    "bad-mailbox": "hard",
    "bad-domain": "hard",
    "inactive-mailbox": "hard",
    "spam-related": "spam",
    "policy-related": "spam",
    "content-related": "spam",
    "virus-related": "spam",
    "other": "unknown",
}  # every other category: soft (temporary, or not the recipient's fault)


def _toml_string(text: str) -> str:
    # A TOML literal string holds a regex verbatim, unless it contains a quote.
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _patterns_as_toml(config: Config) -> str:
    parts = []
    for n, pattern in enumerate(config.bounce_category_patterns, start=1):
        parts.append(
            "[[rule]]\n"
            f"id = 'config-pattern-{n}'\n"
            f"comment = {_toml_string(f'{pattern.regex} at {pattern.where}')}\n"
            f"text = {_toml_string(pattern.portable)}\n"
            f"category = '{pattern.category}'\n"
            f"class = '{CATEGORY_CLASSES.get(pattern.category, 'soft')}'\n"
        )
    return "\n".join(parts)


def rule_table(config: Config, *, first: Sequence[RuleText] = ()) -> RuleTable:
    """The rule table for ``config``; ``first`` (e.g. ``--rules`` files) go before it all."""
    texts = [*first, *(RuleText(rf.path, rf.text) for rf in config.bounce_rule_files)]
    if config.bounce_category_patterns:
        source = f"<bounce-category-patterns> in {config.files[0]}"
        texts.append(RuleText(source, _patterns_as_toml(config)))
    return load_rules(*texts)
