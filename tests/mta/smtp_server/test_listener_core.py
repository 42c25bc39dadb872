"""The listener's sans-IO decisions: DSN parameters, addresses, Received, control headers, EHLO."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.config.model import Config, Source
from mta.delivery.headers import CONTROL_HEADERS, prepend_headers, split_message, take_headers
from mta.smtp_server.decisions import (
    UNKNOWN_VMTA_REPLY,
    MailParams,
    Prepared,
    address_refusal,
    decode_xtext,
    ehlo_lines,
    parse_params,
    prepare_message,
    printable,
    received_header,
    split_path,
    with_protocol,
)
from mta.smtp_server.relay import Decision
from tests.mta.smtp_server._listener_kit import parse

CONFIG = parse()
LISTENER = CONFIG.listeners[0]
BY_MATCH = {s.match: s for s in CONFIG.sources}
FEEDER = BY_MATCH["127.0.0.1"]  # process-x-virtual-mta, process-x-job, default ip-1
AUTH = BY_MATCH["{auth}"]  # no process-x-*, default pool-a
EVERYONE = BY_MATCH["0/0"]  # nothing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<a@b.example> SIZE=10", ("<a@b.example>", "SIZE=10")),
        ("<> RET=HDRS", ("<>", "RET=HDRS")),
        ('  <"x >y"@b.example>  BODY=8BITMIME', ('<"x >y"@b.example>', "BODY=8BITMIME")),
        ('<"a\\"> b"@c.example> X=1', ('<"a\\"> b"@c.example>', "X=1")),
        ("a@b.example SIZE=1", ("a@b.example", "SIZE=1")),
        ("<unclosed@b.example SIZE=1", ("<unclosed@b.example SIZE=1", "")),
    ],
)
def test_split_path_finds_the_closing_bracket_outside_quotes(
    text: str, expected: tuple[str, str]
) -> None:
    """The path ends at the first '>' outside a quoted local part; the rest are parameters."""
    assert split_path(text) == expected


def test_dsn_parameters_are_taken_out_and_envid_decoded() -> None:
    """ENVID (xtext-decoded), RET, NOTIFY and ORCPT leave the list; SIZE is read and kept."""
    params = parse_params("size=123 ENVID=job+2B7+3Dx RET=full BODY=8BITMIME NOTIFY=NEVER")
    assert params == MailParams(("size=123", "BODY=8BITMIME"), "job+7=x", 123)
    assert parse_params("ORCPT=rfc822;a+40b.example").kept == ()


@pytest.mark.parametrize(
    "text", ["ENVID=", "ENVID=a=b", "ENVID=a+zz", "ENVID=" + "x" * 101, "RET=SOME"]
)
def test_malformed_dsn_parameters_are_refused(text: str) -> None:
    """A bad ENVID (not xtext, empty, over 100 chars) or RET gets 501 5.5.4."""
    error = parse_params(text).error
    assert error is not None
    assert error.startswith("501 5.5.4 ")


def test_xtext_decoding() -> None:
    """RFC 3461 xtext: '+XX' is a hex-escaped octet; '+' or '=' alone are invalid."""
    assert decode_xtext("a+2Bb") == "a+b"
    assert decode_xtext("plain") == "plain"
    assert decode_xtext("a+b") is None
    assert decode_xtext("a=b") is None


def test_address_rules() -> None:
    """UTF-8 addresses need SMTPUTF8; undecodable bytes and bad syntax get 501 with the reason."""
    assert address_refusal("a@b.example", smtputf8=False) is None
    assert address_refusal("zoë@b.example", smtputf8=True) is None
    assert address_refusal("zoë@b.example", smtputf8=False) == (
        "553 5.6.7 Non-ASCII address requires SMTPUTF8"
    )
    broken = b"z\xffe@b.example".decode("utf-8", "surrogateescape")
    assert address_refusal(broken, smtputf8=True) == (
        "501 5.1.3 Bad recipient address syntax: not valid UTF-8"
    )
    assert address_refusal("a@exa_mple.com", smtputf8=False, sender=True) == (
        "501 5.1.7 Bad sender address syntax: underscore in domain label 'exa_mple' "
        "(not allowed in a host name)"
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((False, False, False, False), "SMTP"),
        ((True, False, False, False), "ESMTP"),
        ((True, True, False, False), "ESMTPS"),
        ((True, False, True, False), "ESMTPA"),
        ((True, True, True, False), "ESMTPSA"),
        ((True, True, True, True), "UTF8SMTPSA"),
    ],
)
def test_with_protocol_names(flags: tuple[bool, bool, bool, bool], expected: str) -> None:
    """The Received 'with' clause follows RFC 3848 and RFC 6531."""
    esmtp, tls, auth, utf8 = flags
    assert with_protocol(esmtp=esmtp, tls=tls, auth=auth, utf8=utf8) == expected


def test_received_header_shape() -> None:
    """RFC 5321 section 4.4: from helo (literal) by us with proto id, for one rcpt; a date."""
    when = datetime(2026, 11, 25, 7, 43, 47, tzinfo=timezone(timedelta(hours=1)))
    value = received_header(
        helo="app.example",
        ip="192.0.2.7",
        hostname="mta.test",
        protocol="ESMTPS",
        msg_id="ABC123",
        recipients=["bob@example.net"],
        when=when,
    )
    assert value == (
        "from app.example ([192.0.2.7])\r\n\tby mta.test with ESMTPS id ABC123"
        "\r\n\tfor <bob@example.net>; Wed, 25 Nov 2026 07:43:47 +0100"
    )
    many = received_header(
        helo="bad helo\x7f(",
        ip="::1",
        hostname="mta.test",
        protocol="SMTP",
        msg_id="X",
        recipients=["a@x.example", "b@x.example"],
        when=when.astimezone(UTC),
    )
    assert many.startswith("from bad?helo?? ([IPv6:::1])\r\n\tby mta.test with SMTP id X; ")
    assert "for" not in many


def _prepare(raw: bytes, source: Source | None, env_id: str | None = None) -> Prepared | Decision:
    return prepare_message(raw, config=CONFIG, source=source, listener=LISTENER, env_id=env_id)


BODY = b"Subject: s\r\n\r\nbody\r\n"
HEADERS = b"X-Virtual-MTA: ip-2\r\nX-Job: j9\r\nX-EnvID: e1\r\n"


def test_vmta_precedence_and_stripping() -> None:
    """Honoured header > source default > listener default > None; headers always go."""
    honoured = _prepare(HEADERS + BODY, FEEDER)
    assert honoured == Prepared(BODY, "ip-2", "j9", "e1")
    assert _prepare(HEADERS + BODY, FEEDER, env_id="param") == Prepared(BODY, "ip-2", "j9", "param")
    assert _prepare(HEADERS + BODY, AUTH) == Prepared(BODY, "pool-a", None, None)
    assert _prepare(BODY, FEEDER) == Prepared(BODY, "ip-1", None, None)
    assert _prepare(HEADERS + BODY, EVERYONE) == Prepared(BODY, None, None, None)
    with_default = dataclasses.replace(LISTENER, default_virtual_mta="pool-a")
    result = prepare_message(BODY, config=CONFIG, source=None, listener=with_default, env_id=None)
    assert result == Prepared(BODY, "pool-a", None, None)


def test_an_unknown_honoured_vmta_is_refused_and_an_unhonoured_one_ignored() -> None:
    """An X-Virtual-MTA naming nothing configured is refused only where it is honoured."""
    raw = b"X-Virtual-MTA: nope\r\n" + BODY
    refused = _prepare(raw, FEEDER)
    assert isinstance(refused, Decision)
    assert (refused.ok, refused.reply) == (False, UNKNOWN_VMTA_REPLY)
    assert refused.reason == "unknown X-Virtual-MTA 'nope' (<source 127.0.0.1>)"
    assert _prepare(raw, AUTH) == Prepared(BODY, "pool-a", None, None)


def test_ehlo_lines_add_pipelining_and_filter_auth() -> None:
    """PIPELINING follows the greeting; AUTH goes when not offered or empty; the last is '250 '."""
    responses = ["250-mta.test", "250-SIZE 10", "250-STARTTLS", "250-AUTH LOGIN PLAIN", "250 HELP"]
    assert ehlo_lines(responses, offer_auth=True) == [
        "250-mta.test",
        "250-PIPELINING",
        "250-SIZE 10",
        "250-STARTTLS",
        "250-AUTH LOGIN PLAIN",
        "250 HELP",
    ]
    assert "250-AUTH LOGIN PLAIN" not in ehlo_lines(responses, offer_auth=False)
    assert ehlo_lines(["250-mta.test", "250-AUTH ", "250 HELP"], offer_auth=True) == [
        "250-mta.test",
        "250-PIPELINING",
        "250 HELP",
    ]


def test_printable_replaces_controls_and_surrogates() -> None:
    """Client-chosen text keeps printable Unicode; controls and undecodable bytes become '?'."""
    assert printable("zoë\r\n\x00" + "\udcff") == "zoë????"
    assert printable("x" * 10, 4) == "xxxx..."


_NAMES = st.sampled_from(
    ["X-Virtual-MTA", "x-job", "X-EnvID", "Subject", "From", "X-Virtual-MTA ", "Received"]
)
_VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
_FIELD = st.builds(
    lambda n, v, fold: f"{n}: {v}{fold}\r\n".encode(),
    _NAMES,
    _VALUES,
    st.sampled_from(["", "\r\n\tmore"]),
)
_BLOCK = st.one_of(st.lists(_FIELD, max_size=8).map(b"".join), st.binary(max_size=200))


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    block=_BLOCK,
    body=st.binary(max_size=100),
    source=st.sampled_from([FEEDER, AUTH, EVERYONE, None]),
)
def test_random_header_blocks_never_crash_and_control_headers_never_survive(
    block: bytes, body: bytes, source: Source | None
) -> None:
    """Any header block gives a Prepared (no control header left) or a refusal, never a crash."""
    raw = block + b"\r\n" + body
    result = _prepare(raw, source)
    if isinstance(result, Decision):
        assert result.reply == UNKNOWN_VMTA_REPLY
        return
    assert take_headers(result.raw, CONTROL_HEADERS)[1] == {}
    assert result.raw.endswith(split_message(raw)[1])
    trace = received_header(
        helo="h",
        ip="127.0.0.1",
        hostname="mta.test",
        protocol="ESMTP",
        msg_id="1",
        recipients=["a@b.example"],
        when=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert prepend_headers(result.raw, [("Received", trace)]).endswith(result.raw)


def test_config_fixture_is_the_kit_config() -> None:
    """The sources the table tests rely on exist with the flags they assume."""
    assert isinstance(CONFIG, Config)
    assert (FEEDER.process_x_virtual_mta, FEEDER.process_x_job) == (True, True)
    assert (AUTH.process_x_virtual_mta, AUTH.default_virtual_mta) == (False, "pool-a")
