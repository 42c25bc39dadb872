"""The indexed message answers header look-ups as ``email.message.Message`` does."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from classifiers._mime import normalise_newlines, parse_bytes
from tests._paths import ROOT

MAIL = ROOT / "tests" / "data" / "mail"
NAMES = ("content-type", "From", "SUBJECT", "received", "x-job", "Content-Transfer-Encoding")


def _answers(msg: Message) -> list[object]:
    out: list[object] = []
    for part in msg.walk():
        for name in NAMES:
            got = part.get(name, "-")
            out += [str(got), [str(v) for v in part.get_all(name, [])], name in part]
        out += [part.get_content_type(), part.get_content_charset(), part.get_boundary()]
    return out


def test_every_corpus_message_reads_the_same() -> None:
    """Field look-ups, content types, charsets and boundaries of every part, every sample."""
    for path in sorted(MAIL.rglob("*.eml")):
        data = path.read_bytes()
        plain = message_from_bytes(normalise_newlines(data), policy=compat32)
        assert _answers(parse_bytes(data)) == _answers(plain), path


def test_changes_to_the_fields_are_seen() -> None:
    """Adding, replacing and deleting fields, and a new default type, drop the index."""
    msg = parse_bytes(b"Subject: a\nContent-Type: text/html\n\nbody\n")
    assert msg.get("subject") == "a"
    assert msg.get_content_type() == "text/html"
    msg["X-New"] = "1"
    msg.add_header("X-Other", "2", name="v")
    assert msg.get("x-new") == "1"
    assert msg.get_all("x-other") == ['2; name="v"']
    msg.replace_header("Content-Type", "text/plain")
    assert msg.get_content_type() == "text/plain"
    del msg["content-type"]
    assert "Content-Type" not in msg
    assert msg.get_content_type() == "text/plain"
    msg.set_default_type("message/rfc822")
    assert msg.get_content_type() == "message/rfc822"
    msg.set_raw("Subject", "b")
    assert msg.get_all("subject") == ["a", "b"]
    msg.set_type("multipart/mixed")
    msg.set_boundary("xyz")
    assert msg.get_boundary() == "xyz"
    assert msg.get_content_type() == "multipart/mixed"
