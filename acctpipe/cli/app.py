"""The ``acctpipe`` command line (typer + rich).

This module only assembles the app: the one-shot tools (:mod:`acctpipe.cli.tools`),
the command groups (``rules``, ``suppress``, ``throttle``, ``apikey``, ``webhook``,
each in its own module), the event-store commands (:mod:`acctpipe.cli.events`) and
the long-running processes (:mod:`acctpipe.cli.processes`); what they share is in
:mod:`acctpipe.cli.options`.

Errors print as one line a person can act on (``path:line: <section>: message``
for configuration); ``--verbose`` adds the traceback. Exit codes: 0 success,
1 failure, 2 invalid configuration or usage.
"""

from __future__ import annotations

import logging
import traceback
from typing import Annotated

import typer

from acctpipe import __version__
from acctpipe.cli import events, processes, tools
from acctpipe.cli.apikey import apikey_app
from acctpipe.cli.options import err, out, state
from acctpipe.cli.rules import rules_app
from acctpipe.cli.suppress import suppress_app
from acctpipe.cli.throttle import throttle_app
from acctpipe.cli.webhook import webhook_app
from mta.errors import AcctpipeError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    name="acctpipe",
    help="Close the sender's loop: PowerMTA-style MTA → accounting files → DuckDB → decisions.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"acctpipe {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show details (tracebacks) on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """acctpipe — PowerMTA-compatible sending, accounting ingest and feedback in one tool."""
    state.verbose = verbose
    # flufl.bounce logs a traceback for every detector that trips on odd mail; we
    # already survive those, so its noise is only for --verbose.
    logging.getLogger("flufl.bounce").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


# The top-level commands, then the command groups, then the processes: the order
# of `acctpipe --help`.
app.registered_commands.extend(tools.commands.registered_commands)
app.add_typer(rules_app, name="rules")
app.add_typer(suppress_app, name="suppress")
app.add_typer(throttle_app, name="throttle")
app.add_typer(apikey_app, name="apikey")
app.add_typer(webhook_app, name="webhook")
app.registered_commands.extend(events.commands.registered_commands)
app.registered_commands.extend(processes.commands.registered_commands)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning known errors into one line on stderr."""
    try:
        app(
            args=argv, prog_name="acctpipe"
        )  # standalone mode: usage errors print themselves and exit 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except AcctpipeError as exc:
        _report(exc)
        return 2 if isinstance(exc, ConfigError) else 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, detail on --verbose
        _report(exc)
        return 1
    return 0


def _report(exc: BaseException) -> None:
    from acctpipe.errors import one_line

    err.print(f"acctpipe: error: {one_line(exc)}", markup=False)
    if state.verbose:
        err.print("".join(traceback.format_exception(exc)), markup=False)
    else:
        err.print("(run with --verbose for details)", style="dim")
