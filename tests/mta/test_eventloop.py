"""`mta.eventloop`: every MTA process picks its event loop the same way (uvloop is optional)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from mta.eventloop import ENV, loop_factory, loop_name, run

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


def test_asyncio_is_always_the_standard_loop() -> None:
    """`asyncio` means asyncio's own loop, whether or not uvloop is installed."""
    assert loop_factory("asyncio") is None
    assert loop_name("asyncio") == "asyncio"


def test_auto_takes_uvloop_only_where_it_is_installed() -> None:
    """`auto` (the default) is uvloop when importable, else the standard loop."""
    assert loop_name("auto") == ("uvloop" if HAS_UVLOOP else "asyncio")


def test_the_environment_variable_chooses_when_the_caller_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ACCTPIPE_LOOP=asyncio` turns uvloop off for the process; an unknown name is an error."""
    monkeypatch.setenv(ENV, "asyncio")
    assert loop_factory() is None
    monkeypatch.setenv(ENV, "tokio")
    with pytest.raises(ValueError, match="unknown event loop 'tokio'"):
        loop_factory()


def test_run_returns_the_coroutines_result_on_the_standard_loop() -> None:
    """`run` is asyncio.run with the chosen loop: the coroutine's value comes back."""

    async def answer() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    assert run(answer(), loop="asyncio").startswith("asyncio")


@pytest.mark.skipif(HAS_UVLOOP, reason="uvloop is installed here")
def test_asking_for_uvloop_without_it_is_an_import_error() -> None:
    """`uvloop` where it is not installed fails loudly rather than running another loop."""
    with pytest.raises(ImportError):
        loop_factory("uvloop")
