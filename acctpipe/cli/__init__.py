"""The ``acctpipe`` command line (typer + rich): one module per command group."""

from acctpipe.cli.app import app, main

__all__ = ["app", "main"]
