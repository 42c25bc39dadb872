"""The event loop an MTA process runs on: uvloop where it is installed, else asyncio's own.

uvloop puts libuv under asyncio's API: the same code, less CPU per socket
event. ``acctpipe mta`` (each of its ``smtp-workers``) and the submit benchmark
start their loop through :func:`run`, so they choose the same way (``acctpipe
run``, which shares its loop with the API server, keeps uvicorn's choice):

* ``auto`` (the default) — uvloop when it can be imported, else asyncio's loop;
* ``uvloop`` — uvloop or an ImportError;
* ``asyncio`` — the standard loop, always (what the test suite also covers).

The environment variable ``ACCTPIPE_LOOP`` sets the choice for a process
where the caller gives none::

    from mta.eventloop import run
    run(server.serve_forever())
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

__all__ = ["ENV", "LOOPS", "loop_factory", "loop_name", "run"]

LOOPS: Final = ("auto", "uvloop", "asyncio")
ENV: Final = "ACCTPIPE_LOOP"

T = TypeVar("T")


def loop_factory(choice: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the loop for ``choice`` (None: ``$ACCTPIPE_LOOP``, else ``auto``).

    None means asyncio's default loop. Raises ValueError for an unknown choice and
    ImportError for ``uvloop`` when it is not installed.
    """
    choice = choice or os.environ.get(ENV) or "auto"
    if choice not in LOOPS:
        raise ValueError(f"{ENV}: unknown event loop {choice!r} (one of {', '.join(LOOPS)})")
    if choice == "asyncio":
        return None
    try:
        # Imported by name: uvloop is optional, and not installed where mypy runs.
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(choice: str | None = None) -> str:
    """``uvloop`` or ``asyncio``: the loop :func:`run` would start for ``choice``."""
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """Run ``main`` to completion on the chosen loop (as :func:`asyncio.run` does)."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
