"""`acctpipe suppress …` and `acctpipe throttle …` as a user runs them, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.suppressions import ThrottleStore
from tests._paths import DATA as TEST_DATA
from tests.acctpipe._cli import assert_help_snapshot, run_cli

pytestmark = pytest.mark.slow  # every test here takes over a second

DATA = TEST_DATA / "suppress"


def test_add_check_remove(db_url: str) -> None:
    """add, check (exit 0 suppressed / 1 not), remove; repeating add or remove is a no-op."""
    db = ("--database-url", db_url)
    added = run_cli("suppress", "add", "John@Example.COM", "--reason", "complaint", *db)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added: john@example.com (global, complaint, for good)")
    again = run_cli("suppress", "add", "john@example.com", "-r", "complaint", *db)
    assert again.stdout.startswith("unchanged: already suppressed: john@example.com")

    hit = run_cli("suppress", "check", "JOHN@example.com", *db)
    assert hit.returncode == 0, hit.stderr
    assert "suppressed: john@example.com (global, complaint, for good)" in hit.stdout
    assert "since " in hit.stdout

    miss = run_cli("suppress", "check", "jane@example.com", *db)
    assert (miss.returncode, miss.stdout.strip()) == (1, "not suppressed: jane@example.com")

    removed = run_cli("suppress", "remove", "john@example.com", *db)
    assert removed.stdout.startswith("removed: john@example.com (global; was complaint)")
    assert run_cli("suppress", "check", "john@example.com", *db).returncode == 1
    nothing = run_cli("suppress", "remove", "john@example.com", *db)
    assert nothing.returncode == 0
    assert "nothing to remove" in nothing.stdout


def test_scopes_and_expiry(tmp_path: Path) -> None:
    """--scope domain:… applies only with --sender-domain; --expires sets an end date."""
    db = ("--database-url", f"sqlite:///{tmp_path / 's.sqlite'}")
    out = run_cli("suppress", "add", "a@example.com", "-s", "domain:News.Example", "-e", "30d", *db)
    assert out.returncode == 0, out.stderr
    assert "(domain:news.example, manual, until " in out.stdout
    assert run_cli("suppress", "check", "a@example.com", *db).returncode == 1
    assert run_cli("suppress", "check", "a@example.com", "-d", "news.example", *db).returncode == 0


def test_errors_are_one_line(tmp_path: Path) -> None:
    """A bad address is one error line (check exits 2; add exits 1), never a traceback."""
    db = ("--database-url", f"sqlite:///{tmp_path / 's.sqlite'}")
    check = run_cli("suppress", "check", "not-an-address", *db)
    assert check.returncode == 2
    assert check.stderr.strip() == "acctpipe: error: invalid address 'not-an-address': no @"
    add = run_cli("suppress", "add", "x@example.com", "--expires", "soon", *db)
    assert add.returncode == 1
    assert "Traceback" not in add.stderr
    assert add.stderr.startswith("acctpipe: error: expected a duration")
    down = run_cli(
        "suppress", "check", "a@b.example", "--database-url", "postgresql://127.0.0.1:1/x"
    )
    assert down.returncode == 2
    assert down.stderr.startswith("acctpipe: error: postgresql://127.0.0.1:1/x: ")


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ACCTPIPE_DATABASE_URL is used when --database-url is not given."""
    monkeypatch.setenv("ACCTPIPE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    assert run_cli("suppress", "add", "env@example.com").returncode == 0
    assert (tmp_path / "env.sqlite").exists()


def test_default_database_is_created_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a URL, the store is acctpipe-data/acctpipe.sqlite, created on first use."""
    monkeypatch.delenv("ACCTPIPE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_cli("suppress", "add", "first@example.com").returncode == 0
    assert (tmp_path / "acctpipe-data" / "acctpipe.sqlite").exists()


def test_import_twice_and_export(db_url: str, tmp_path: Path) -> None:
    """import reports rows, added, skipped and bad lines; a second import adds nothing."""
    db = ("--database-url", db_url)
    first = run_cli("suppress", "import", str(DATA / "postmark-suppressions.csv"), *db)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == (
        "postmark-suppressions.csv (postmark): 6 rows: 4 added, 0 updated, 0 unchanged, "
        "1 skipped, 1 bad"
    )
    assert "  skipped: line 6: Postmark 'SoftBounce' does not suppress an address" in lines
    assert "  bad: line 7: unknown Postmark reason 'Haunted'" in lines
    second = run_cli("suppress", "import", str(DATA / "postmark-suppressions.csv"), *db)
    assert "0 added, 0 updated, 4 unchanged" in second.stdout

    stdout = run_cli("suppress", "export", "--reason", "complaint", *db)
    assert stdout.stdout.splitlines()[1].startswith("xavier@example.com,global,complaint,")
    target = tmp_path / "all.csv"
    to_file = run_cli("suppress", "export", "-o", str(target), *db)
    assert to_file.stderr.strip() == f"exported 4 suppressions to {target}"
    assert len(target.read_text(encoding="utf-8").splitlines()) == 5


def test_export_dash_means_stdout_and_data_prints_literally(tmp_path: Path) -> None:
    """`suppress export -o -` writes to stdout (no file named "-"), and a detail such as
    root:x:0:0 [bold] is shown by `suppress check` exactly as stored (no emoji, no markup)."""
    db = ("--database-url", f"sqlite:///{tmp_path / 's.sqlite'}")
    detail = "root:x:0:0 [bold]x[/bold] :thumbs_up:"
    added = run_cli("suppress", "add", "a@example.com", "--detail", detail, *db)
    assert added.returncode == 0, added.stderr
    checked = run_cli("suppress", "check", "a@example.com", *db)
    assert f"  detail: {detail}" in checked.stdout.splitlines()
    exported = run_cli("suppress", "export", "-o", "-", *db, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines()[1].startswith("a@example.com,global,manual,root:x:0:0")
    assert not (tmp_path / "-").exists()


def test_import_options(tmp_path: Path) -> None:
    """--format, --scope and --reason apply; an unknown header is one error line."""
    db = ("--database-url", f"sqlite:///{tmp_path / 's.sqlite'}")
    plain = run_cli(
        "suppress", "import", str(DATA / "plain.txt"), "-f", "plain", "-s", "list:news",
        "-r", "unsubscribe", *db,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert "3 added" in plain.stdout
    assert "  bad: line 5: invalid address 'not-an-address': no @" in plain.stdout.splitlines()
    check = run_cli("suppress", "check", "alice@example.com", "-l", "news", *db)
    assert "(list:news, unsubscribe, for good)" in check.stdout
    odd = tmp_path / "odd.csv"
    odd.write_text("id,name\n1,x\n", encoding="utf-8")
    bad = run_cli("suppress", "import", str(odd), *db)
    assert bad.returncode == 1
    assert bad.stderr.startswith("acctpipe: error: unrecognised header 'id,name'")


def _record(url: str) -> None:
    now = datetime.now(UTC)
    engine = make_engine(url)
    try:
        store = ThrottleStore(engine)
        for minutes_ago, action, rate in ((30, "pause", None), (5, "slow", 2.5)):
            decided = now - timedelta(minutes=minutes_ago)
            store.record(
                ThrottleDecision(
                    queue="gmail.com",
                    vmta="ip-1",
                    action=action,  # type: ignore[arg-type]
                    rule="gmail-421-burst",
                    decided_at=decided,
                    expires_at=decided + timedelta(hours=1),
                    rate=rate,
                    evidence={"deferrals": 14, "window_s": 60},
                    event_ids=("7:1024", "7:2048"),
                    detail="14 x 421 4.7.0 in 60 s",
                )
            )
    finally:
        engine.dispose()


def test_throttle_status_and_explain(db_url: str) -> None:
    """status lists the decision in force per pair; explain shows history with evidence."""
    db = ("--database-url", db_url)
    empty = run_cli("throttle", "status", *db)
    assert empty.stdout.strip() == "no throttle decisions in force: configured rates apply"
    _record(db_url)
    status = run_cli("throttle", "status", *db)
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if "gmail.com" in line)
    assert "ip-1" in row
    assert "slow" in row
    assert "2.5/s" in row
    assert "gmail-421-burst" in row
    assert "pause" not in status.stdout
    assert "no throttle decisions" in run_cli("throttle", "status", "-d", "x.example", *db).stdout

    explain = run_cli("throttle", "explain", "gmail.com", *db)
    assert explain.returncode == 0, explain.stderr
    lines = explain.stdout.splitlines()
    assert "slow gmail.com via ip-1  [IN FORCE, until " in lines[0]
    assert lines[1] == "  rule gmail-421-burst: rate 2.5/s, max-smtp-out configured"
    assert "  evidence: deferrals=14, window_s=60" in lines
    assert "  events: 7:1024, 7:2048" in lines
    assert any("pause gmail.com via ip-1  [past, until " in line for line in lines)
    nothing = run_cli("throttle", "explain", "yahoo.com", *db)
    assert nothing.stdout.strip() == "no throttle decisions recorded for yahoo.com"


@pytest.mark.parametrize(
    "command",
    [
        ["suppress"],
        ["suppress", "add"],
        ["suppress", "remove"],
        ["suppress", "check"],
        ["suppress", "verify"],
        ["suppress", "import"],
        ["suppress", "export"],
        ["throttle"],
        ["throttle", "status"],
        ["throttle", "explain"],
    ],
)
def test_help_output_is_stable(command: list[str]) -> None:
    """`--help` for each suppress/throttle command matches its snapshot."""
    assert_help_snapshot(command, f"help-{'-'.join(command)}.txt")
