"""What the command groups share: the two consoles, common options and small helpers.

Every command module imports from here and ``acctpipe.cli.app`` only assembles
them, so no module of the package imports the app back. Heavy imports
(SQLAlchemy, Alembic, the config loader) stay inside the helpers, so
``acctpipe --help`` stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from acctpipe.cli.console import make_console
from acctpipe.errors import InvalidValueError
from classifiers import RuleTable

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "DEFAULT_URL",
    "ConfigOption",
    "DatabaseOption",
    "FeedbackDbOption",
    "RulesOption",
    "err",
    "open_store_engine",
    "out",
    "parse_moment",
    "state",
    "table_of",
    "when",
]


class _State:
    """What the root callback learned for every command (``--verbose``)."""

    verbose = False


state = _State()
out = make_console()
err = make_console(stderr=True, soft_wrap=True)  # one error, one line

# Kept in step with acctpipe.sqlstore.DEFAULT_DATABASE_URL (a test checks); spelled out
# here so the help renders without importing SQLAlchemy.
DEFAULT_URL: Final = "sqlite:///acctpipe-data/acctpipe.sqlite"

DatabaseOption = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="ACCTPIPE_DATABASE_URL",
        help="The suppression store: sqlite:///PATH or postgresql://USER@HOST/DB, migrated "
        f"on first use. Default: {DEFAULT_URL}",
        show_default=False,
    ),
]

FeedbackDbOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="ACCTPIPE_DATABASE_URL",
        help="Suppressions and throttle decisions: sqlite:///FILE or postgresql://… "
        "(feedback loop off when not given).",
    ),
]

RulesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        help="A TOML rule file checked before the built-in table (repeatable).",
        exists=True,
        dir_okay=False,
    ),
]


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Use the bounce rules of this config (bounce-rules files, "
        "<bounce-category-patterns>).",
        exists=True,
        dir_okay=False,
    ),
]


def table_of(rules: list[Path] | None, config: Path | None = None) -> RuleTable | None:
    """The rule table of ``--rules`` files and a ``--config`` (None: the built-in one)."""
    from classifiers import RuleText, load_rules
    from mta.config import load_config
    from mta.config.rules import rule_table

    texts = [RuleText(str(p), p.read_text(encoding="utf-8")) for p in rules or ()]
    if config is not None:
        return rule_table(load_config(config), first=texts)
    return load_rules(*texts) if texts else None


def when(moment: datetime | None, never: str = "for good") -> str:
    """A timestamp as people read it (UTC, to the second)."""
    if moment is None:
        return never
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def open_store_engine(url: str) -> Engine:
    """Open (and migrate) the database at ``url``."""
    from acctpipe.sqlstore import open_database

    return open_database(url)


def parse_moment(text: str | None, option: str) -> datetime | None:
    """ISO 8601 (naive: UTC) or a duration ago (``2h``: two hours ago)."""
    from mta.config.values import parse_duration

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError:
            raise InvalidValueError(
                f"{option}: expected an ISO 8601 time (2024-05-01T12:00:00Z) or a duration "
                f"ago (2h, 1d), got {text!r}"
            ) from None
        return datetime.now(UTC) - timedelta(seconds=seconds or 0)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
