"""The command line as a user runs it: exit codes, one-line errors, help snapshots."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pytest

from acctpipe.cli.app import main
from acctpipe.cli.console import make_console
from tests._paths import DATA as TEST_DATA
from tests._paths import ROOT as REPO
from tests._paths import SNAPSHOTS as TEST_SNAPSHOTS
from tests.acctpipe._cli import assert_help_snapshot, run_cli

DATA = TEST_DATA / "config"
SNAPSHOTS = TEST_SNAPSHOTS


@pytest.mark.slow
def test_check_config_accepts_the_hot_config() -> None:
    """A valid config prints a summary, its warnings on stderr, and exits 0."""
    proc = run_cli("check-config", str(DATA / "hot.conf"))
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout
    assert "virtual MTAs" in proc.stdout
    assert "ip-1 (127.0.0.2)" in proc.stdout
    assert f"{DATA / 'hot.conf'}:14: 'log-file'" in proc.stderr


@pytest.mark.slow
def test_check_config_prints_every_error_on_its_own_line(tmp_path: Path) -> None:
    """An invalid config exits 2 and prints PATH:LINE: message for each error, unwrapped."""
    bad = tmp_path / "bad.conf"
    bad.write_text(
        "<domain gmail.com>\n  max-msg-rate 30/fortnight-and-a-very-long-unit-name-here\n"
        "  max-smtp-outt 5\n</domain>\n"
    )
    proc = run_cli("check-config", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:2: <domain gmail.com>: max-msg-rate: unknown time unit")
    assert lines[1] == (
        f"{bad}:3: <domain gmail.com>: unknown directive 'max-smtp-outt' "
        "(did you mean 'max-smtp-out'?)"
    )
    assert lines[2] == f"{bad}: 2 errors; configuration refused"


@pytest.mark.slow
def test_check_config_domain_shows_merged_values_and_their_origin() -> None:
    """--domain prints each effective value with the file:line block it came from."""
    proc = run_cli("check-config", str(DATA / "hot.conf"), "--domain", "outlook.com")
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "queue microsoft.queue" in out
    assert "150/h" in out
    assert "<domain $microsoft>" in out
    assert "30/h → 4000/h over 10d" in out


@pytest.mark.slow
def test_check_config_missing_file_is_one_line(tmp_path: Path) -> None:
    """A missing file is one clear line and exit 2, not a traceback."""
    proc = run_cli("check-config", str(tmp_path / "nope.conf"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{tmp_path / 'nope.conf'}: cannot read configuration" in proc.stderr


def test_unknown_vmta_for_domain_view_exits_2() -> None:
    """--vmta with a name that is not configured exits 2 naming the known vmtas."""
    code = main(["check-config", str(DATA / "hot.conf"), "-d", "gmail.com", "--vmta", "zz"])
    assert code == 2


@pytest.mark.slow
def test_version_and_usage_errors() -> None:
    """--version prints the version; an unknown command is a usage error (exit 2)."""
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        "",
        "check-config",
        "config-reference",
        "demo",
        "mta",
        "serve",
        "apikey create",
        "webhook add",
        "webhook test",
        "rules unmatched",
    ],
)
def test_help_output_is_stable(command: str) -> None:
    """`--help` for each command matches its snapshot (users and docs depend on it)."""
    name = command.replace(" ", "-") or "acctpipe"
    assert_help_snapshot(command.split(), f"help-{name}.txt")


def test_every_console_prints_data_literally() -> None:
    """No CLI module builds its own rich Console: they all come from make_console, which
    never reads markup or emoji codes in what it prints."""
    package = REPO / "acctpipe"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "console.py" and "Console(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
    buffer = io.StringIO()
    make_console(file=buffer, width=200).print("root:x:0:0 [red]x[/red] :thumbs_up:")
    assert buffer.getvalue() == "root:x:0:0 [red]x[/red] :thumbs_up:\n"


@pytest.mark.slow
def test_terminal_control_sequences_in_data_are_shown_not_obeyed(tmp_path: Path) -> None:
    """A stored text holding ESC sequences (clear screen, retitle, clipboard) prints them as
    \\x1b escapes in tables and lines, so it cannot drive the operator's terminal."""
    db = tmp_path / "events.duckdb"
    duckdb.connect(str(db)).close()
    evil = "chr(27) || '[2J' || chr(27) || ']52;c;cHduZWQ=' || chr(7) || chr(155) || 'x'"
    proc = run_cli("sql", "--db", str(db), f"SELECT {evil} AS diag")
    assert proc.returncode == 0, proc.stderr
    assert not any(c in proc.stdout for c in "\x1b\x07\x9b")
    assert "\\x1b[2J" in proc.stdout
    buffer = io.StringIO()
    make_console(file=buffer, width=200).print("bad: ev\x1b]0;pwned\x07il@example.com")
    assert buffer.getvalue() == "bad: ev\\x1b]0;pwned\\x07il@example.com\n"
