"""Loading whole configurations: the realistic hot config, broken ones, includes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mta.config import load_config, parse_config_text
from mta.errors import InvalidConfigError
from tests._paths import ROOT as REPO

from .conftest import DATA, errors_of, parse


def test_realistic_hot_config_loads_with_only_expected_warnings() -> None:
    """The hot config covering the seeds' features loads; recognised-only lines warn."""
    cfg = load_config(DATA / "hot.conf")
    assert [w.where.line for w in cfg.warnings] == [14, 38, 15]
    assert "mx-rollup" in str(cfg.warnings[-1])
    assert str(cfg.warnings[-1]).startswith(str(DATA / "hot.d" / "10-mailru.conf") + ":15:")
    assert set(cfg.virtual_mtas) == {"ip-1", "ip-2", "warmup-sender"}
    pool = cfg.pools["pool-high-volume"]
    assert pool.members == ("ip-1", "ip-2")
    assert pool.source_hash
    assert [str(ln.address) for ln in cfg.listeners] == ["127.0.0.1:2525", "127.0.0.1:2587"]
    assert cfg.listeners[1].require_auth
    assert cfg.domain_macros["microsoft"] == ("hotmail.com", "outlook.com", "live.com", "msn.com")
    assert cfg.acct_files[0].records == ("d", "b", "t", "tq", "f", "rb", "rs")
    assert cfg.acct_files[0].max_size == 100 << 20
    assert cfg.acct_files[1].record_fields["t"][0] == "timeLogged"
    assert cfg.reject_logs[0].records == ("connect", "rcpt")
    assert cfg.pickups[0].virtual_mta == "pool-high-volume"
    assert cfg.pickups[0].scan_interval == 5
    assert len(cfg.pattern_lists["blocking-errors"].rules) == 4
    assert cfg.bounce_category_patterns[-1].category == "routing-errors"
    assert len(cfg.files) == 2


def test_passwords_never_appear_in_reprs() -> None:
    """An smtp-user's password is kept but never shown by repr()."""
    cfg = load_config(DATA / "hot.conf")
    user = cfg.smtp_users[0]
    assert user.password == "s3cret#with-hash"  # '#' inside quotes is not a comment
    assert "s3cret" not in repr(cfg)


def test_every_error_is_reported_with_file_and_line() -> None:
    """A broken config lists every error, each as path:line: <section>: message."""
    text = (
        "<domain *>\n"  # 1
        "  max-smtp-outt 10\n"  # 2
        "  max-msg-rate fast\n"  # 3
        "</domain>\n"  # 4
        "max-smtp-out 5\n"  # 5
        "http-port 8080\n"  # 6
        "<virtual-mta-pool p>\n"  # 7
        "  virtual-mta nope\n"  # 8
        "</virtual-mta-pool>\n"  # 9
    )
    assert errors_of(text) == [
        "t.conf:2: <domain *>: unknown directive 'max-smtp-outt' (did you mean 'max-smtp-out'?)",
        "t.conf:3: <domain *>: max-msg-rate: expected a rate such as 30/s, 2000/h or 10/minute, "
        "got 'fast'",
        "t.conf:5: 'max-smtp-out' is not allowed here; it belongs in <domain> "
        "(use <domain *> for a default)",
        "t.conf:6: unknown directive 'http-port' (PowerMTA calls it http-mgmt-port)",
        "t.conf:8: <virtual-mta-pool p>: unknown virtual-mta 'nope'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<domain x.com>\nmax-smtp-out 1\n", "t.conf:1: <domain x.com>: <domain> is never closed"),
        ("</domain>\n", "t.conf:1: </domain> closes nothing"),
        (
            "<domain a.com>\n</virtual-mta>\n</domain>\n",
            "t.conf:2: <domain a.com>: </virtual-mta> does not close <domain> opened on line 1",
        ),
        (
            "<domian a.com>\n</domian>\n",
            "t.conf:1: unknown section <domian> (did you mean 'domain'?)",
        ),
        ("<domain>\n</domain>\n", "t.conf:1: <domain> needs an argument"),
        ("<warmup>\n</warmup>\n", "t.conf:1: <warmup> must be inside <domain>"),
        ("<domain a.com\n", "t.conf:1: tag '<domain a.com' is missing its closing '>'"),
        ("domain gmail.com {\n max-smtp-out 1\n}\n", "t.conf:1: brace blocks are not PowerMTA"),
        ("<domain $nope>\n</domain>\n", "t.conf:1: <domain $nope>: unknown domain macro '$nope'"),
        (
            "<domain a.com>\n</domain>\n<domain A.com>\n</domain>\n",
            "t.conf:3: duplicate <domain> 'a.com' (first defined at t.conf:1)",
        ),
        (
            "<domain a.com>\n<warmup>\nstart-rate 1/h\n</warmup>\n</domain>\n",
            "t.conf:2: <warmup>: <warmup> needs end-rate, period",
        ),
        (
            "<domain a.com>\n<warmup>\nstart-rate 10/s\nend-rate 1/s\nperiod 1d\n"
            "</warmup>\n</domain>\n",
            "t.conf:4: <warmup>: end-rate must not be lower than start-rate",
        ),
        (
            "<bounce-category-patterns>\n/x/ spammy\n</bounce-category-patterns>\n",
            "t.conf:2: <bounce-category-patterns>: unknown bounce category 'spammy'",
        ),
        (
            "<bounce-category-patterns>\n/(/ spam-related\n</bounce-category-patterns>\n",
            "t.conf:2: <bounce-category-patterns>: bad regular expression",
        ),
        (
            "<smtp-pattern-list x>\nreply /a/ mode=sometimes\n</smtp-pattern-list>\n",
            "t.conf:2: <smtp-pattern-list x>: mode must be backoff or normal",
        ),
        (
            "<domain a.com>\nsmtp-pattern-list nope\n</domain>\n",
            "t.conf:2: <domain a.com>: unknown smtp-pattern-list 'nope'",
        ),
        (
            "<source 127.0.0.1>\ndefault-virtual-mta ghost\n</source>\n",
            "t.conf:1: default-virtual-mta 'ghost' is not a <virtual-mta>",
        ),
        ("<source 300.1.1.1>\n</source>\n", "t.conf:1: <source 300.1.1.1>: expected an address"),
        (
            "<smtp-user u>\nsource {nope}\n</smtp-user>\n",
            "t.conf:1: <smtp-user u>: an <smtp-user> needs a password",
        ),
        (
            "<acct-file a.csv>\nrecords d,x\n</acct-file>\n",
            "t.conf:2: <acct-file a.csv>: records: unknown record type 'x'",
        ),
        (
            "<smtp-listener 127.0.0.1:25>\nauth-mechanisms cram-md5\n</smtp-listener>\n",
            "t.conf:2: <smtp-listener 127.0.0.1:25>: unsupported AUTH mechanism 'CRAM-MD5'",
        ),
        (
            "<acct-file a.csv>\nrecord-fields d timeLogged,rcpt,nosuchField\n</acct-file>\n",
            "t.conf:2: <acct-file a.csv>: record-fields: unknown accounting field 'nosuchField'",
        ),
        ("include other.conf\n", "t.conf:1: include is not available when parsing text alone"),
        ("domain-key sel,example.com\n", "t.conf:1: domain-key: expected SELECTOR,DOMAIN,KEYFILE"),
        (
            "<domain a.com>\nroute 127.0.0.1:25 weight=2\n</domain>\n",
            "t.conf:2: <domain a.com>: route: unknown route option",
        ),
    ],
)
def test_broken_configs_name_the_line(text: str, expected: str) -> None:
    """Each kind of mistake is refused with the exact file, line and section."""
    assert any(e.startswith(expected) for e in errors_of(text)), errors_of(text)


def test_line_continuation_and_comments() -> None:
    """A trailing backslash continues a line; '#' comments are cut except inside quotes/regexes."""
    cfg = parse(
        "domain-macro big a.com, \\\n   b.com, c.com   # three domains\n"
        "<domain $big>  # macro\n  max-msg-rate 5/s\n</domain>\n"
        "<bounce-category-patterns>\n  /#5 spam/ spam-related\n</bounce-category-patterns>\n"
    )
    assert cfg.domain_macros["big"] == ("a.com", "b.com", "c.com")
    assert cfg.domains[0].where.line == 3
    assert cfg.bounce_category_patterns[0].regex == "/#5 spam/"


def test_recognised_but_unimplemented_directives_warn_with_location() -> None:
    """Known PowerMTA directives we do not act on are warnings naming file:line, never silent."""
    cfg = parse(
        "run-as-root no\n<domain *>\n  mx-rollup yes\n</domain>\n"
        "<feedback-loop-processor>\n  forward-errors-to pm@example.com\n"
        "  <address-list>\n    address fbl@example.com\n  </address-list>\n"
        "</feedback-loop-processor>\n"
    )
    assert [str(w).split(":")[1] for w in cfg.warnings] == ["1", "3", "6"]
    assert "does not implement" in str(cfg.warnings[0])


def test_setting_twice_warns_and_the_later_value_wins() -> None:
    """A directive repeated in one section keeps the later value and says so."""
    cfg = parse("<domain a.com>\nmax-smtp-out 5\nmax-smtp-out 7\n</domain>\n")
    assert cfg.domains[0].values["max-smtp-out"] == 7
    assert "line 3 replaces the one on line 2" in str(cfg.warnings[0])


def test_includes_resolve_relative_to_the_including_file(tmp_path: Path) -> None:
    """`include` reads files relative to the file that includes them; globs are sorted."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("<domain b.com>\nmax-smtp-out 2\n</domain>\n")
    (tmp_path / "conf.d" / "a.conf").write_text("<domain a.com>\nmax-smtp-out 1\n</domain>\n")
    main = tmp_path / "main.conf"
    main.write_text("include conf.d/*.conf\n")
    cfg = load_config(main)
    assert [b.pattern for b in cfg.domains] == ["a.com", "b.com"]
    assert cfg.domains[1].where.path.endswith("b.conf")


def test_errors_in_included_files_name_that_file(tmp_path: Path) -> None:
    """An error inside an included file is reported at that file's line."""
    (tmp_path / "inc.conf").write_text("\n\nbogus-directive 1\n")
    main = tmp_path / "main.conf"
    main.write_text("include inc.conf\ninclude missing.conf\ninclude none-*.conf\n")
    with pytest.raises(InvalidConfigError) as info:
        load_config(main)
    lines = [e.location_text() for e in info.value.errors]
    # Ordered by file (in reading order), then by line.
    assert lines[0].startswith(f"{main}:2: cannot read include")
    assert lines[1] == f"{main}:3: include 'none-*.conf' matches no file"
    assert lines[2] == f"{tmp_path / 'inc.conf'}:3: unknown directive 'bogus-directive'"


def test_include_loops_are_refused(tmp_path: Path) -> None:
    """A file that includes itself is an error, not a hang."""
    main = tmp_path / "main.conf"
    main.write_text("include main.conf\n")
    with pytest.raises(InvalidConfigError, match="includes itself"):
        load_config(main)


def test_unreadable_or_binary_files_are_config_errors(tmp_path: Path) -> None:
    """A missing or non-UTF-8 config file is a ConfigError naming the file."""
    with pytest.raises(InvalidConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.conf")
    bad = tmp_path / "bin.conf"
    bad.write_bytes(b"host-name \xff\xfe\n")
    with pytest.raises(InvalidConfigError, match="not UTF-8"):
        load_config(bad)


def test_empty_config_is_valid_and_uses_defaults() -> None:
    """An empty file is a valid config: every value comes from the defaults."""
    cfg = parse_config_text("")
    assert cfg.domains == ()
    assert cfg.warnings == ()


def test_blog_post_spellings_point_to_powermta_names() -> None:
    """Directive names from non-PowerMTA write-ups are refused with PowerMTA's own name."""
    errors = errors_of(
        "<domain gmail.com>\nmax-per-host-out 100\nenable-starttls yes\n</domain>\n"
        "accounting-file /x\n"
    )
    assert errors == [
        "t.conf:2: <domain gmail.com>: unknown directive 'max-per-host-out' "
        "(PowerMTA calls it max-smtp-out)",
        "t.conf:3: <domain gmail.com>: unknown directive 'enable-starttls' "
        "(PowerMTA calls it use-starttls)",
        "t.conf:5: unknown directive 'accounting-file' (PowerMTA calls it <acct-file PATH>)",
    ]


def test_pattern_list_lines_accept_tabs_and_any_case() -> None:
    """`Reply<TAB>/re/ mode=backoff` is the same rule as `reply /re/ mode=backoff`."""
    cfg = parse("<smtp-pattern-list p>\nReply\t/421 .*/ mode=backoff\n</smtp-pattern-list>\n")
    rule = cfg.pattern_lists["p"].rules[0]
    assert (rule.kind, rule.regex, rule.options["mode"]) == ("reply", "/421 .*/", "backoff")


def test_the_readme_error_example_is_what_the_loader_says() -> None:
    """The README's broken-config example is the loader's real output, line for line (a rate
    with an unknown unit quotes the rate as written, not an internal form)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = [line for line in readme.splitlines() if line.startswith("hot.conf:")][:2]
    text = "<domain gmail.com>\nmax-msg-rate 30/fortnight\nmax-smtp-outt 5\n</domain>\n"
    assert errors_of(text, "hot.conf") == shown
