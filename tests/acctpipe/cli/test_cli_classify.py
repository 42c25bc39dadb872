"""`acctpipe classify-mail`, `classify-diag` and `rules` as a user runs them."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest

from acctpipe.cli.app import main
from tests._paths import MAIL as TEST_MAIL
from tests.acctpipe._cli import run_cli

MAIL = TEST_MAIL
KEYS = {"file", "kind", "recipients", "feedback", "reason"}
RCPT_KEYS = {"address", "action", "status", "diag", "category", "class", "rule", "fault"}


def test_classify_mail_jsonl_over_a_directory(capsys: pytest.CaptureFixture[str]) -> None:
    """A directory gives one JSON line per message, in the documented shape."""
    assert main(["classify-mail", "--jsonl", str(MAIL / "gmail")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(list((MAIL / "gmail").glob("*.eml")))
    for line in lines:
        obj = json.loads(line)
        assert set(obj) == KEYS
        for r in obj["recipients"]:
            assert set(r) == RCPT_KEYS


def test_classify_mail_reads_mbox_and_reports_feedback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An mbox is split into its messages (path#N); ARF feedback fields are filled in."""
    box_path = tmp_path / "returns.mbox"
    box = mailbox.mbox(box_path)
    samples = sorted((MAIL / "arf-standard").glob("*.eml"))[:3]
    for sample in samples:
        box.add(sample.read_bytes())
    box.close()
    assert main(["classify-mail", "--jsonl", str(box_path)]) == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["file"] for o in objs] == [f"{box_path}#{n}" for n in (1, 2, 3)]
    assert all(o["kind"] == "arf" and o["feedback"]["type"] for o in objs)


@pytest.mark.slow
def test_classify_mail_from_stdin() -> None:
    """`-` reads one message from standard input."""
    sample = (MAIL / "dsn-postfix" / "user-unknown.eml").read_bytes()
    proc = run_cli("classify-mail", "--jsonl", "-", stdin=sample)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["file"] == "-"
    assert obj["recipients"][0]["class"] == "hard"


def test_classify_mail_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --jsonl, a summary of kinds and classes is printed."""
    assert main(["classify-mail", str(MAIL / "delay")]) == 0
    out = capsys.readouterr().out
    assert "delay" in out
    assert "recipients by class" in out


@pytest.mark.slow
def test_classify_mail_missing_path_is_one_line() -> None:
    """A path that does not exist is a one-line error, not a traceback."""
    proc = run_cli("classify-mail", "/no/such/dir")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "no such file or directory" in proc.stderr


@pytest.mark.slow
def test_classify_diag_arguments_and_stdin() -> None:
    """Diagnostics come from arguments or stdin lines; each gives one JSON object."""
    proc = run_cli("classify-diag", "smtp;550 5.1.1 <a@example.com>: Recipient address rejected")
    obj = json.loads(proc.stdout)
    assert set(obj) == {"diag", "status", "category", "class", "rule", "fault"}
    assert (obj["class"], obj["category"], obj["status"]) == ("hard", "bad-mailbox", "5.1.1")
    lines = b"smtp;452 4.2.2 mailbox full\nsmtp;554 5.7.1 blocked using zen.spamhaus.org\n\n"
    proc = run_cli("classify-diag", stdin=lines)
    classes = [json.loads(line)["class"] for line in proc.stdout.splitlines()]
    assert classes == ["soft", "spam"]


@pytest.mark.slow
def test_user_rule_files_come_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --rules file is checked before the built-in table, and `rules explain` says so."""
    rules = tmp_path / "mine.toml"
    rules.write_text(
        '[[rule]]\nid = "acme-gateway-full"\ncomment = "our partner gateway"\n'
        'text = "acme gateway says: box full"\ncategory = "quota-issues"\nclass = "soft"\n'
    )
    assert main(["classify-diag", "--rules", str(rules), "550 acme gateway says: box full"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"] == "acme-gateway-full"
    assert main(["rules", "explain", "--rules", str(rules), "550 acme gateway says: box full"]) == 0
    out = capsys.readouterr().out
    assert "fired: #1 acme-gateway-full" in out
    assert main(["rules", "list", "--rules", str(rules)]) == 0
    assert "acme-gateway-full" in capsys.readouterr().out


@pytest.mark.slow
def test_bad_rule_file_is_a_clear_error(tmp_path: Path) -> None:
    """A rule file with a broken regex names the file and the rule; exit status 1."""
    rules = tmp_path / "bad.toml"
    rules.write_text(
        '[[rule]]\nid = "broken"\ncomment = "x"\ntext = "("\ncategory = "other"\nclass = "soft"\n'
    )
    proc = run_cli("classify-diag", "--rules", str(rules), "550 x")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "broken" in proc.stderr


@pytest.mark.slow
def test_rules_list_and_explain_show_the_fallbacks(capsys: pytest.CaptureFixture[str]) -> None:
    """`rules list` marks the fallback rules; `rules explain` says when one decided."""
    listed = run_cli("rules", "list")  # a fixed width, so each rule's row starts on one line
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any("status-5.x.x" in line and "(fallback)" in line for line in lines)
    assert not any("gmail-no-such-user" in line and "(fallback)" in line for line in lines)
    assert main(["rules", "explain", "smtp;550 5.0.0 the flux capacitor said no"]) == 0
    assert "a fallback: no rule recognised the text" in capsys.readouterr().out
