"""Headless Chromium for the dashboard tests: found on the system (or installed once), driven
by playwright's async API against Debian's own binary (never ``playwright install``).

:func:`chromium_path` looks for ``/usr/bin/chromium``, ``chromium`` and ``chromium-browser``
on PATH. When none is there and we run as root with apt-get, it tries once per test
session ``apt-get update`` (failure is fine) and ``apt-get install -y chromium``; a failed
attempt is remembered for a day in ``INSTALL_MARKER`` so later sessions do not wait for it
again. :func:`require_chromium` skips the test, saying why, when there is still no browser.

:func:`launch` starts it headless with ``--no-sandbox`` (we run as root);
:class:`PageLog` records what a page did that a test must check: console errors
(CSP violations show up there), uncaught exceptions, dialogs, and every request URL.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, Request, async_playwright

__all__ = [
    "INSTALL_MARKER",
    "TIMEOUT_MS",
    "PageLog",
    "chromium_path",
    "find_chromium",
    "launch",
    "require_chromium",
]

CANDIDATES: Final = ("/usr/bin/chromium", "chromium", "chromium-browser")
INSTALL_MARKER: Final = Path("/tmp/acctpipe-chromium-install.failed")
_INSTALL_LOCK: Final = Path("/tmp/acctpipe-chromium-install.lock")
_INSTALL_TIMEOUT: Final = 600.0
_RETRY_AFTER: Final = 24 * 3600.0
TIMEOUT_MS: Final = 20_000  # every playwright wait, in milliseconds


def find_chromium() -> str | None:
    """The first Chromium executable among :data:`CANDIDATES`, or None."""
    for candidate in CANDIDATES:
        if os.path.isabs(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
        elif found := shutil.which(candidate):
            return found
    return None


def _apt(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _install() -> str:
    """Try ``apt-get install -y chromium`` once; the reason it failed, or ``""``."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install it"
    if INSTALL_MARKER.exists() and time.time() - INSTALL_MARKER.stat().st_mtime < _RETRY_AFTER:
        return f"an install failed recently ({INSTALL_MARKER}: {INSTALL_MARKER.read_text()[:300]})"
    started = time.monotonic()
    try:
        _apt("update", timeout=_INSTALL_TIMEOUT / 2)  # may fail offline; the install says more
        left = max(60.0, _INSTALL_TIMEOUT - (time.monotonic() - started))
        done = _apt("install", "-y", "--no-install-recommends", "chromium", timeout=left)
    except subprocess.TimeoutExpired:
        reason = f"apt-get install chromium did not finish within {_INSTALL_TIMEOUT:.0f} s"
    else:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        reason = (
            "" if done.returncode == 0 else f"apt-get install chromium failed: {' '.join(tail)}"
        )
    if reason:
        INSTALL_MARKER.write_text(reason)
    return reason


@functools.cache
def chromium_path() -> tuple[str | None, str]:
    """(the Chromium executable, "") or (None, why there is none); installs at most once."""
    found = find_chromium()
    if found is not None:
        return found, ""
    with _INSTALL_LOCK.open("a") as lock:  # one installer at a time across processes
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_chromium()  # another process may have installed it meanwhile
        reason = _install() if found is None else ""
    found = find_chromium()
    if found is None:
        return None, reason or "apt-get reported success but no chromium binary is on PATH"
    return found, ""


def require_chromium() -> str:
    """The Chromium executable; skips the calling test with the reason when there is none."""
    found, reason = chromium_path()
    if found is None:
        pytest.skip(f"no Chromium for the browser tests ({', '.join(CANDIDATES)}): {reason}")
    return found


@contextlib.asynccontextmanager
async def launch(executable: str) -> AsyncIterator[Browser]:
    """Headless Chromium at ``executable`` (no sandbox: we run as root), closed afterwards."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            timeout=TIMEOUT_MS,
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageLog:
    """What a page did: console errors, uncaught errors, dialogs and requested URLs."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> PageLog:
        """Start recording ``page``'s events (dialogs are dismissed and recorded)."""
        log = cls()

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                log.console_errors.append(f"{message.text} @ {message.location}")

        async def dialog(d: Dialog) -> None:
            log.dialogs.append(f"{d.type}: {d.message}")
            await d.dismiss()

        def request(r: Request) -> None:
            log.requests.append(r.url)

        page.on("console", console)
        page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
        page.on("dialog", dialog)
        page.on("request", request)
        page.set_default_timeout(TIMEOUT_MS)
        return log
