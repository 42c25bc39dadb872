"""The pickup file format: PowerMTA's x-sender/x-receiver envelope on top of a message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.pickup.format import Refused, parse_pickup_file
from mta.submit import Submission

TARGETS = frozenset({"ip-1", "pool-a"})


def _parse(data: bytes, default_vmta: str | None = None) -> Submission | Refused:
    return parse_pickup_file(data, default_vmta=default_vmta, targets=TARGETS)


def _ok(data: bytes, default_vmta: str | None = None) -> Submission:
    result = _parse(data, default_vmta)
    assert isinstance(result, Submission), result
    return result


def _reason(data: bytes) -> str:
    result = _parse(data)
    assert isinstance(result, Refused), result
    return result.reason


def test_envelope_lines_become_the_envelope_and_are_removed() -> None:
    """x-sender and each x-receiver form the envelope; the message keeps only its own headers."""
    sub = _ok(
        b"x-sender: <bounces@sender.example>\n"
        b"x-receiver: <alice@example.com>\n"
        b"X-Receiver: bob@example.org\n"
        b"From: News <news@sender.example>\nSubject: hi\n\nbody\n"
    )
    assert sub.sender == "bounces@sender.example"
    assert sub.recipients == ("alice@example.com", "bob@example.org")
    assert sub.origin == "pickup"
    assert sub.raw == b"From: News <news@sender.example>\r\nSubject: hi\r\n\r\nbody\r\n"


def test_control_headers_are_honoured_then_stripped() -> None:
    """X-Virtual-MTA, X-Job and X-EnvID set the submission and never reach the receiver."""
    sub = _ok(
        b"x-sender: a@s.example\r\nx-receiver: b@r.example\r\nX-Virtual-MTA: ip-1\r\n"
        b"X-Job: spring-sale\r\nX-EnvID: env-42\r\nSubject: s\r\n\r\nbody"
    )
    assert (sub.vmta, sub.job_id, sub.env_id) == ("ip-1", "spring-sale", "env-42")
    assert sub.raw == b"Subject: s\r\n\r\nbody"


def test_folder_default_vmta_applies_and_the_header_overrides_it() -> None:
    """The folder's virtual-mta is the default; X-Virtual-MTA wins, matched case-insensitively."""
    plain = b"x-sender: a@s.example\nx-receiver: b@r.example\nSubject: s\n\nx\n"
    assert _ok(plain, default_vmta="pool-a").vmta == "pool-a"
    assert _ok(plain).vmta is None
    assert _ok(b"X-Virtual-MTA: IP-1\n" + plain, default_vmta="pool-a").vmta == "ip-1"


def test_null_sender_and_esmtp_parameters_are_accepted() -> None:
    """`x-sender: <>` is the null reverse-path; ESMTP parameters after an address are ignored."""
    receiver = b"x-receiver: <b@r.example> NOTIFY=NEVER ORCPT=rfc822;b@r.example\n"
    sub = _ok(b"x-sender: <>\n" + receiver + b"Subject: dsn\n\n")
    assert sub.sender == ""
    assert sub.recipients == ("b@r.example",)


def test_duplicate_receivers_are_sent_once() -> None:
    """The same x-receiver twice is one recipient."""
    sub = _ok(b"x-sender: a@s.example\nx-receiver: b@r.example\nx-receiver: b@r.example\nS: s\n\n")
    assert sub.recipients == ("b@r.example",)


def test_envelope_lines_below_other_headers_are_still_removed() -> None:
    """An x-receiver further down the header block never leaks a recipient list to receivers."""
    sub = _ok(b"Subject: s\nx-sender: a@s.example\nTo: b@r.example\nx-receiver: c@r.example\n\nx")
    assert sub.recipients == ("c@r.example",)
    assert b"x-receiver" not in sub.raw.lower()


def test_internationalised_addresses_are_accepted() -> None:
    """SMTPUTF8 (RFC 6531) addresses in UTF-8 pass the address check."""
    sub = _ok("x-sender: a@s.example\nx-receiver: δοκιμή@παράδειγμα.δοκιμή\nS: s\n\n".encode())
    assert sub.recipients == ("δοκιμή@παράδειγμα.δοκιμή",)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\n\n  \n", "empty file"),
        (b"x-receiver: b@r.example\nSubject: s\n\nx", "no x-sender"),
        (b"x-sender: a@s.example\nFrom: a@s.example\nTo: b@r.example\n\nx", "no x-receiver"),
        (b"x-sender: a@s\nx-sender: c@s\nx-receiver: b@r\nS: s\n\n", "2 x-sender lines"),
        (b"x-sender: not-an-address\nx-receiver: b@r.example\nS: s\n\n", "bad x-sender address"),
        (b"x-sender: a@s.example\nx-receiver: b@r.example, c@r.example\nS: s\n\n", "bad x-recei"),
        (b"x-sender: a@s.example\nx-receiver: <>\nS: s\n\n", "null address"),
        (b"x-sender: a@s.example\nx-receiver:\nS: s\n\n", "x-receiver is empty"),
        (b"x-sender: a@s.example\nx-receiver: b@r.example\n", "empty message"),
        (b"x-sender: a@s.example\nx-receiver: b@r.example\n\nbody only", "no message header"),
        (b"x-sender: a@s.example\nx-receiver: b@r.example\nX-Job: j\n", "empty message"),
        (
            b"x-sender: a@s.example\nx-receiver: b@r.example\nX-Virtual-MTA: nope\nS: s\n\n",
            "unknown virtual-mta 'nope'",
        ),
        (b"hello world\n", "does not start with header fields"),
        (b"Subject: s\nhello\n", "line 2 is neither"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL bytes"),
        (b"bad name here: x\nx-sender: a@s.example\n\n", "malformed name"),
        (b"x-sender: a\xff@s.example\nx-receiver: b@r.example\nS: s\n\n", "not valid UTF-8"),
        (b"x-sender: <a@s.example> junk=\nx-receiver: b@r.example\nS: s\n\n", "unexpected text"),
        (b"x-sender: a@s.example\nx-receiver: " + b"b" * 250 + b"@r.example\nS: s\n\n", "bad x-r"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    """Each kind of unusable file is refused (never guessed at) with a reason naming the fault."""
    assert reason in _reason(data)


def test_default_vmta_that_disappeared_from_the_config_is_refused() -> None:
    """A folder default that a reload removed is refused rather than silently ignored."""
    data = b"x-sender: a@s.example\nx-receiver: b@r.example\nS: s\n\n"
    assert isinstance(_parse(data, default_vmta="gone"), Refused)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes parse to a submission or a one-line refusal; nothing raises."""
    result = _parse(data)
    if isinstance(result, Refused):
        assert result.reason
        assert "\n" not in result.reason
    else:
        assert result.recipients
        assert b"x-receiver" not in result.raw.lower()


PLAUSIBLE_LINES = [
    b"x-sender: a@s.example",
    b"x-receiver: b@r.example",
    b"X-Virtual-MTA: ip-1",
    b"Subject: s",
    b"",
    b"x-receiver: <>",
    b"X-Job: j",
    b"From: a@s.example",
    b"junk",
]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PLAUSIBLE_LINES), max_size=8), st.sampled_from([b"\n", b"\r\n"]))
def test_shuffled_header_lines_never_raise(lines: list[bytes], newline: bytes) -> None:
    """Files assembled from plausible lines in any order either parse or are refused."""
    result = _parse(newline.join(lines))
    assert isinstance(result, Submission | Refused)
