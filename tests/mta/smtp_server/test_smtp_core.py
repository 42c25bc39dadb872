"""The sans-IO SMTP core, with bytes alone: events out of bytes in, state moved by replies."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mta.smtp_server.data import unstuff
from mta.smtp_server.protocol import (
    Answer,
    Auth,
    AuthResponse,
    DataCommand,
    Event,
    Hello,
    MailFrom,
    Message,
    RcptTo,
    ServerCore,
    StartTls,
)
from mta.smtp_server.states import ALLOWED, COMMANDS, REFUSAL
from tests._paths import ROOT

SESSION = (
    b"EHLO client.test\r\n"
    b"MAIL FROM:<app@example.test> SIZE=100 BODY=8BITMIME\r\n"
    b"RCPT TO:<a@example.net>\r\n"
    b"RCPT TO:<b@example.net> NOTIFY=NEVER\r\n"
    b"DATA\r\n"
    b"Subject: hi\r\n\r\n..dot\r\nend.\r\n.\r\n"
    b"QUIT\r\n"
)


def _reply(event: Event) -> str:
    """What a permissive application answers to each event."""
    match event:
        case Hello():
            return "250 ok"
        case MailFrom() | RcptTo():
            return "250 ok"
        case DataCommand():
            return "354 go on"
        case Message():
            return "250 queued"
        case Answer():
            return event.reply
        case StartTls():
            return "220 go"
        case Auth() | AuthResponse():
            return "235 ok"
    raise AssertionError(event)  # pragma: no cover


def drive(chunks: Iterable[bytes], core: ServerCore | None = None) -> tuple[list[Event], bytes]:
    """Feed ``chunks`` one by one, answering every event; the events and the bytes written."""
    core = core or ServerCore()
    events: list[Event] = []
    out = bytearray()
    for chunk in chunks:
        core.receive_data(chunk)
        while (event := core.next_event()) is not None:
            events.append(event)
            out += core.send(_reply(event))
    return events, bytes(out)


def test_a_pipelined_session_in_one_chunk() -> None:
    """EHLO, MAIL, two RCPT, DATA, the message and QUIT written at once come out as seven
    events in order; DSN parameters are taken out, dot-stuffing undone, QUIT closes."""
    events, out = drive([SESSION])
    assert [type(e).__name__ for e in events] == [
        "Hello",
        "MailFrom",
        "RcptTo",
        "RcptTo",
        "DataCommand",
        "Message",
        "Answer",
    ]
    mail = events[1]
    assert isinstance(mail, MailFrom)
    assert (mail.address, mail.size, mail.params) == (
        "app@example.test",
        100,
        ("SIZE=100", "BODY=8BITMIME"),
    )
    assert events[3] == RcptTo("b@example.net", (), "RCPT TO:<b@example.net> NOTIFY=NEVER")
    assert events[5] == Message(b"Subject: hi\r\n\r\n.dot\r\nend.\r\n")
    assert out.endswith(b"250 queued\r\n221 Bye\r\n")


def test_one_byte_at_a_time_gives_the_same_events_and_bytes() -> None:
    """Whatever the split, the events and the reply bytes are the same."""
    assert drive([bytes([b]) for b in SESSION]) == drive([SESSION])


@pytest.mark.slow
@given(st.lists(st.integers(min_value=0, max_value=len(SESSION)), max_size=8))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    """Random chunk boundaries (inside CRLF, inside the end marker) change nothing."""
    points = sorted(set(cuts))
    chunks = [SESSION[a:b] for a, b in zip([0, *points], [*points, len(SESSION)], strict=True)]
    assert drive(chunks) == drive([SESSION])


def test_the_state_table_refuses_out_of_order_commands() -> None:
    """MAIL before HELO, RCPT before MAIL and DATA before RCPT get the table's 503s,
    once each, and the session goes on."""
    events, out = drive(
        [b"MAIL FROM:<a@b.test>\r\nEHLO x\r\nRCPT TO:<a@b.test>\r\nDATA\r\nNOOP\r\n"]
    )
    assert out.split(b"\r\n")[:-1] == [
        b"503 Error: send HELO first",
        b"250 ok",
        b"503 Error: need MAIL command",
        b"503 Error: need RCPT command",
        b"250 OK",
    ]
    assert all(isinstance(e, Answer) for e in events if not isinstance(e, Hello))


def test_every_refusal_in_the_table_names_a_known_state_and_command() -> None:
    """The refusal texts cover exactly the (command, state) pairs the table does not allow
    among the states where commands are read."""
    reading = {"greeted", "ready", "mail", "rcpt"}
    missing = {
        (verb, state)
        for verb in COMMANDS
        for state in reading
        if state not in ALLOWED[verb] and (verb, state) not in REFUSAL
    }
    assert missing == set()


def test_nested_mail_and_parameters_are_checked_like_before() -> None:
    """A second MAIL is nested (503); unknown parameters 555; a bad BODY or SIZE 501;
    a malformed path 553; RCPT parameters other than DSN ones 555."""
    _, out = drive(
        [
            b"EHLO x\r\nMAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\n",
            b"RCPT TO:<c@d.test> FOO=1\r\nRSET\r\n",
            b"MAIL FROM:<a@b.test> FOO=1\r\nMAIL FROM:<a@b.test> BODY=9BIT\r\n",
            b"MAIL FROM:<a@b.test> SIZE=x\r\nMAIL FROM:<a b@c>\r\n",
        ]
    )
    assert [line[:3] for line in out.split(b"\r\n")[:-1]] == [
        b"250",
        b"250",
        b"503",
        b"555",
        b"250",
        b"555",
        b"501",
        b"501",
        b"553",
    ]


def test_overlong_lines_and_unknown_commands() -> None:
    """A command over 512 octets gets 500 (the rest of the line is read first); the fifth
    unknown command says goodbye and closes."""
    long_line = b"NOOP " + b"x" * 5000 + b"\r\n"
    events, out = drive([long_line[:700], long_line[700:], b"XYZZY\r\n" * 5, b"NOOP\r\n"])
    lines = out.split(b"\r\n")[:-1]
    assert lines[0] == b"500 Command line too long"
    assert lines[1:5] == [b'500 Error: command "XYZZY" not recognized'] * 4
    assert lines[5] == b"502 5.5.1 Too many unrecognized commands, goodbye."
    assert len(lines) == 6  # nothing is read after the close
    assert isinstance(events[-1], Answer)
    assert events[-1].close


def test_data_limits_are_answered_after_the_end_marker() -> None:
    """Too much data is 552 after the marker (with a reason to log), a line over 1000
    octets 500; either way the transaction ends and the next command is read."""
    core = ServerCore(data_size_limit=50)
    head = b"HELO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
    events, _out = drive([head, b"x" * 80 + b"\r\n.\r\nMAIL FROM:<a@b.test>\r\n"], core)
    refused = events[4]
    assert isinstance(refused, Answer)
    assert (refused.reply, refused.kind) == ("552 Error: Too much mail data", "data")
    assert refused.reason == "message larger than 50 bytes"
    assert isinstance(events[5], MailFrom)
    core = ServerCore()
    events, _ = drive([head, b"y" * 1200 + b"\r\n.\r\n"], core)
    assert isinstance(events[4], Answer)
    assert events[4].reply.startswith("500 Line too long")
    assert core.state == "ready"


def test_control_characters_are_refused_with_a_kind_to_log() -> None:
    """A control character in HELO/MAIL/RCPT is a 501 5.5.2 the application logs."""
    events, _ = drive([b"EHLO a\x00b\r\n"])
    (event,) = events
    assert isinstance(event, Answer)
    assert (event.reply[:9], event.kind) == ("501 5.5.2", "helo")


def test_starttls_drops_what_was_pipelined_after_it() -> None:
    """RFC 3207: bytes after STARTTLS, before the handshake, are never acted on; after
    tls_started the session starts afresh (EHLO needed again)."""
    core = ServerCore()
    core.receive_data(b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
    assert isinstance(hello := core.next_event(), Hello)
    core.send("250 ok")
    assert hello.name == "x"
    assert isinstance(core.next_event(), StartTls)
    core.send("220 go")
    assert core.next_event() is None
    core.tls_started()
    core.receive_data(b"MAIL FROM:<a@b.test>\r\n")
    event = core.next_event()
    assert isinstance(event, Answer)
    assert event.reply == "503 Error: send HELO first"


def test_auth_exchange_and_an_overlong_response() -> None:
    """AUTH PLAIN without an initial response: a 334 makes the next line a SASL response
    (not a command); a response line past the limit is refused and closes."""
    core = ServerCore(auth_mechanisms=frozenset({"PLAIN"}))
    core.receive_data(b"EHLO x\r\nAUTH PLAIN\r\nQUIT\r\n")
    core.next_event()
    core.send("250 ok")
    auth = core.next_event()
    assert auth == Auth("PLAIN", None, "AUTH PLAIN")
    core.send("334 ")
    assert core.next_event() == AuthResponse(b"QUIT")
    core.send("535 no")
    core.receive_data(b"AUTH PLAIN\r\n" + b"A" * 2000)
    core.next_event()
    core.send("334 ")
    too_long = core.next_event()
    assert isinstance(too_long, Answer)
    assert too_long.close
    assert too_long.reply.startswith("500 5.5.6")


def test_auth_needs_ehlo_and_a_known_mechanism() -> None:
    """AUTH before EHLO is 503, after HELO 500, an unknown mechanism 504."""
    _, out = drive([b"AUTH PLAIN\r\nHELO x\r\nAUTH PLAIN\r\nEHLO x\r\nAUTH CRAM-MD5\r\n"])
    assert [line[:3] for line in out.split(b"\r\n")[:-1]] == [
        b"503",
        b"250",
        b"500",
        b"250",
        b"504",
    ]


def test_an_event_must_be_answered_before_the_next() -> None:
    """Asking for the next event with a reply still owed is a bug in the application."""
    core = ServerCore()
    core.receive_data(b"NOOP\r\nNOOP\r\n")
    core.next_event()
    with pytest.raises(RuntimeError):
        core.next_event()


def test_mta_does_not_import_aiosmtpd() -> None:
    """The MTA's SMTP server is our own: no module under mta/ imports aiosmtpd."""
    root = ROOT / "mta"
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "aiosmtpd" not in text:  # only a file naming it can import it
            continue
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "aiosmtpd" for name in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_deliberate_differences_from_aiosmtpd() -> None:
    """EHLO without a name is a 501 syntax error; VRFY of a bare user name is 252; a
    second STARTTLS inside TLS is 503."""
    _, out = drive([b"EHLO\r\nHELO\r\nVRFY postmaster\r\n"])
    assert out.split(b"\r\n")[:-1] == [
        b"501 Syntax: EHLO hostname",
        b"501 Syntax: HELO hostname",
        b"252 Cannot VRFY user, but will accept message and attempt delivery",
    ]
    core = ServerCore()
    core.tls_started()
    _, out = drive([b"STARTTLS\r\n"], core)
    assert out == b"503 5.5.1 TLS already active\r\n"


_TRANSACTION = b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
_SMUGGLED = b"MAIL FROM:<spoof@victim.test>\r\nRCPT TO:<z@y.test>\r\nDATA\r\nforged\r\n"
# Ends of DATA that are not CRLF "." CRLF (the 2023 SMTP smuggling variants).
_FALSE_ENDS = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r\r\n"]


@given(
    st.sampled_from(_FALSE_ENDS),
    st.binary(max_size=20),
    st.lists(st.integers(min_value=0, max_value=300), max_size=4),
)
def test_smuggled_end_of_data_never_starts_a_second_transaction(
    false_end: bytes, filler: bytes, cuts: list[int]
) -> None:
    """Only CRLF "." CRLF ends DATA (RFC 5321 section 4.1.1.4). A bare LF or bare CR
    variant of the marker (CVE-2023-51764/51765/51766) is message content, kept byte
    for byte: what follows it is never parsed as commands, however the bytes are split,
    so exactly one message comes out and it holds the would-be smuggled transaction."""
    content = b"hi" + filler + false_end + _SMUGGLED
    assume(b"\r\n.\r\n" not in b"\r\n" + content)
    wire = _TRANSACTION + content + b".\r\nQUIT\r\n"
    bounds = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    events, _ = drive([wire[a:b] for a, b in itertools.pairwise(bounds)])
    assert [type(e).__name__ for e in events].count("MailFrom") == 1
    messages = [e for e in events if isinstance(e, Message)]
    assert len(messages) == 1
    assert messages[0].content == unstuff(content)  # "\r\n.\n" is a stuffed line


def test_dot_unstuffing_and_a_message_without_a_final_crlf() -> None:
    """A line ".." is a line "." once unstuffed and does not end the data; "a." with the
    marker right after it keeps its dot; an empty message is empty (RFC 5321 4.5.2)."""
    for body, content in [
        (b"a\r\n..\r\nb\r\n.\r\n", b"a\r\n.\r\nb\r\n"),
        (b"a.\r\n.\r\n", b"a.\r\n"),
        (b".\r\n", b""),
        (b"...\r\n.\r\n", b"..\r\n"),
    ]:
        events, _ = drive([_TRANSACTION + body])
        assert events[-1] == Message(content), body


def test_auth_inside_a_mail_transaction_is_503() -> None:
    """RFC 4954 section 4: AUTH during a mail transaction MUST be refused with 503;
    the transaction goes on (RCPT is still taken)."""
    core = ServerCore(auth_mechanisms=frozenset({"PLAIN"}))
    events, _out = drive(
        [
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nAUTH PLAIN\r\nRCPT TO:<x@y.test>\r\n"
            b"AUTH PLAIN\r\n"
        ],
        core,
    )
    assert events[2] == Answer(
        "AUTH", "503 5.5.1 Error: MAIL transaction in progress", "AUTH PLAIN"
    )
    assert isinstance(events[3], RcptTo)
    assert isinstance(events[4], Answer)
    assert events[4].reply.startswith("503")
    assert not core.authenticated
    assert core.state == "rcpt"


def test_too_many_errors_hang_up() -> None:
    """Lines the core refuses itself (empty, overlong, out of order, bad syntax) are
    counted like Postfix's smtpd_hard_error_limit: the twentieth gets 421 and closes,
    so a client cannot loop on errors forever; good commands in between do not reset it."""
    lines = [b"\r\n", b"RCPT TO:<x@y.test>\r\n", b"MAIL FROM:\r\n", b"X" * 600 + b"\r\n"] * 5
    core = ServerCore()
    events, out = drive([b"EHLO c.test\r\n", b"NOOP\r\n".join(lines), b"NOOP\r\n"], core)
    errors = [e for e in events if isinstance(e, Answer) and e.reply[0] in "45"]
    assert len(errors) == 20
    assert errors[-1].reply == "421 4.7.0 Too many errors, goodbye"
    assert errors[-1].close
    assert out.endswith(b"421 4.7.0 Too many errors, goodbye\r\n")
    assert core.state == "closed"


def test_a_delivered_message_starts_the_error_count_again() -> None:
    """The limit counts errors made without delivering mail (as Postfix's): nineteen
    errors, a message taken with 250, then nineteen more leave the session open."""
    core = ServerCore()
    drive([b"EHLO c.test\r\n", b"\r\n" * 19, _TRANSACTION[13:] + b"hi\r\n.\r\n"], core)
    events, _ = drive([b"\r\n" * 19], core)
    assert len(events) == 19
    assert not any(isinstance(e, Answer) and e.close for e in events)
    assert core.state == "ready"


def test_an_unknown_verb_is_not_echoed_with_control_characters() -> None:
    """The 500 for an unknown command names the verb with control characters replaced,
    so a client cannot put a bare CR, NUL or escape sequence into our reply."""
    _, out = drive([b"EHLO c.test\r\nNO\x00O\rP\x1b[2J\r\n"])
    assert out.endswith(b'500 Error: command "NO?O?P?[2J" not recognized\r\n')


def test_an_endless_line_keeps_memory_bounded() -> None:
    """A client that sends megabytes without a line end: the core never holds more than
    one line limit plus the last chunk, answers one 500 when the line finally ends, and
    the session goes on; in a SASL exchange the same hangs up (500 5.5.6)."""
    core = ServerCore(auth_mechanisms=frozenset({"PLAIN"}))
    events, _ = drive([b"EHLO c.test\r\n"], core)
    chunk = b"A" * 65536
    for _ in range(160):  # 10 MiB
        core.receive_data(chunk)
        assert core.next_event() is None
        assert core.buffered <= 1001 + len(chunk)
    events, _ = drive([b"\r\nNOOP\r\n"], core)
    assert [e.reply for e in events if isinstance(e, Answer)] == [
        "500 Command line too long",
        "250 OK",
    ]
    core.receive_data(b"AUTH PLAIN\r\n")
    assert isinstance(core.next_event(), Auth)
    core.send("334 ")
    core.receive_data(chunk)
    event = core.next_event()
    assert isinstance(event, Answer)
    assert event.close
    assert event.reply.startswith("500 5.5.6")
    assert core.buffered == 0


def test_bdat_is_an_unknown_command() -> None:
    """CHUNKING (RFC 3030) is not offered, so BDAT is an unrecognised command (500,
    counted towards the five that hang up); its chunk bytes are read as lines."""
    events, _ = drive(
        [b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 4 LAST\r\n"]
    )
    assert events[-1] == Answer("BDAT", '500 Error: command "BDAT" not recognized', "BDAT 4 LAST")


def test_bare_lf_does_not_end_a_line_for_the_line_limit() -> None:
    """Bare LF is content, not a line end (as in aiosmtpd, which reads DATA up to CRLF):
    a message written with bare LF line ends is measured as one line, so over 1000
    octets it is 500; under it, it is taken byte for byte."""
    short = b"Subject: x\n\n" + (b"z" * 80 + b"\n") * 10
    events, _ = drive([_TRANSACTION + short + b"\r\n.\r\n"])
    assert events[-1] == Message(short + b"\r\n")
    for long_line in (short * 2 + b"\r\n", b"w" * 999 + b"\r\n"):
        events, _ = drive([_TRANSACTION + long_line + b".\r\n"])
        assert events[-1] == Answer("DATA", "500 Line too long (see RFC5321 4.5.3.1.6)", "DATA")
