"""User rule files are re-read when they change; a broken edit keeps the running table."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from acctpipe.ingest.rulefiles import RuleFiles
from tests.acctpipe._acct import append, header, rows

_RULE = (
    '[[rule]]\nid = "{id}"\ncomment = "ours"\ntext = {text}\n'
    'category = "quota-issues"\nclass = "soft"\n'
)
_BROKEN = _RULE.format(id="mine-broken", text="'('")


def _write(path: Path, text: str, bump: int) -> None:
    """Write ``text``; set a distinct mtime so even a same-size edit is seen."""
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(bump * 10**9, bump * 10**9))


def test_an_edited_rule_file_is_swapped_in_and_a_broken_one_keeps_the_old_table(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An edit takes effect at the next look; a broken edit logs one error naming the file
    and line and the previous table stays in force until the file is fixed."""
    path = tmp_path / "mine.toml"
    _write(path, _RULE.format(id="mine-v1", text="'mailbox full'"), 1)
    files = RuleFiles([path])
    first = files.table
    assert first.rules[0].id == "mine-v1"
    assert not files.refresh()  # nothing changed
    _write(path, _RULE.format(id="mine-v2", text="'mailbox full'"), 2)
    assert files.refresh()
    assert files.table.rules[0].id == "mine-v2"
    working = files.table
    with caplog.at_level(logging.ERROR, logger="acctpipe.ingest.rulefiles"):
        _write(path, _BROKEN, 3)
        assert not files.refresh()
        assert not files.refresh()  # the same broken file: not reported again
    assert files.table is working
    (record,) = caplog.records
    assert f"{path}:2: rule 'mine-broken'" in record.getMessage()
    assert "\n" not in record.getMessage()
    path.unlink()
    assert not files.refresh()  # a vanished file too keeps the running table
    assert files.table is working
    _write(path, _RULE.format(id="mine-v3", text="'mailbox full'"), 4)
    assert files.refresh()
    assert files.table.rules[0].id == "mine-v3"


def _rules_of(export: Path) -> set[str]:
    # The running tail holds the database's lock: read its Parquet export instead.
    if not any(export.rglob("*.parquet")):
        return set()
    try:
        with duckdb.connect() as conn:
            found = conn.execute(
                f"SELECT DISTINCT bounce_rule FROM read_parquet('{export}/**/*.parquet') "
                "WHERE type = 't'"
            ).fetchall()
    except duckdb.Error:  # an export being replaced; look again
        return set()
    return {str(r[0]) for r in found}


def _wait_for(export: Path, rule: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while rule not in _rules_of(export):
        assert proc.poll() is None, "the tail exited"
        assert time.monotonic() < deadline, f"no {rule} in {export}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_running_tail_reloads_its_rule_file_without_a_restart(tmp_path: Path) -> None:
    """`acctpipe tail --rules FILE` classifies new rows with the file as edited since it
    started; a broken edit is reported once on stderr and the running rules stay."""
    logs, rules, db = tmp_path / "logs", tmp_path / "mine.toml", tmp_path / "db.duckdb"
    export = tmp_path / "export"
    logs.mkdir()
    _write(rules, _RULE.format(id="mine-v1", text="'mailbox full'"), 1)
    acct = logs / "acct.csv"
    acct.write_bytes(header() + rows(0, 4))
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "acctpipe.cli", "tail", "--db", str(db), "--rescan",
             "0.1", "--rules", str(rules), "--export-dir", str(export), "--export-every", "1",
             str(logs)],
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        try:
            _wait_for(export, "mine-v1", proc)
            _write(rules, _BROKEN, 2)
            deadline = time.monotonic() + 30
            while "not reloaded" not in stderr.read_text():  # a pass saw the broken file
                assert proc.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.1)
            _write(rules, _RULE.format(id="mine-v2", text="'mailbox full'"), 3)
            append(acct, rows(4, 8))
            _wait_for(export, "mine-v2", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    errors = [line for line in stderr.read_text().splitlines() if "not reloaded" in line]
    assert len(errors) == 1
    assert f"{rules}:2" in errors[0]
