"""Writing accounting files the way PowerMTA writes them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mta.acct.fields import DEFAULT_HEADER, union_fields
from mta.acct.writer import AccountingEncoder, AccountingWriter
from mta.errors import ConfigError
from tests._paths import ROOT as REPO

DATA = REPO / "tests" / "data" / "acct"
WHEN = datetime(2026, 11, 25, 7, 43, 47, tzinfo=UTC)


def test_type_is_forced_to_the_first_column() -> None:
    """type is always the first column, whether listed elsewhere or not at all."""
    assert AccountingEncoder(["rcpt", "type", "orig"]).fields == ("type", "rcpt", "orig")
    assert AccountingEncoder(["rcpt"]).header() == b"type,rcpt\r\n"


def test_unknown_field_is_a_config_error_naming_it() -> None:
    """A misspelt field name is refused as a configuration error that names it."""
    with pytest.raises(ConfigError, match="'dsndiag'") as info:
        AccountingEncoder(["timeLogged", "dsndiag"])
    assert info.value.section == "acct-file"


def test_duplicate_field_is_a_config_error() -> None:
    """A field listed twice is refused: the file would have two columns of one name."""
    with pytest.raises(ConfigError, match="listed twice"):
        AccountingEncoder(["rcpt", "orig", "rcpt"])


def test_header_fields_are_accepted() -> None:
    """header_<Name> columns (message headers) are accepted like any known field."""
    encoder = AccountingEncoder(["rcpt", "header_X-Campaign"])
    assert encoder.header() == b"type,rcpt,header_X-Campaign\r\n"


def test_values_are_rendered_as_powermta_does() -> None:
    """str as is, int in decimal, aware datetime in PowerMTA form, None empty; CRLF at the end."""
    encoder = AccountingEncoder(["timeLogged", "rcpt", "dlvSize", "orcpt", "timeQueued"])
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    record = {"type": "d", "timeLogged": WHEN, "rcpt": "a@example.com", "dlvSize": 18342}
    record |= {"orcpt": None, "timeQueued": local}
    assert encoder.encode(record) == (
        b"d,2026-11-25 07:43:47+0000,a@example.com,18342,,2026-11-25 02:43:47-0500\r\n"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain text", b"plain text"),
        ("  spaces kept  ", b"  spaces kept  "),
        ("a,b", b'"a,b"'),
        ('say "hi"', b'"say ""hi"""'),
        ("line1\r\nline2", b'"line1\r\nline2"'),
        ("lf\nonly", b'"lf\nonly"'),
        ("cr\ronly", b'"cr\ronly"'),
        ("caf\u00e9", "caf\u00e9".encode()),
    ],
)
def test_quoting_follows_rfc_4180(value: str, written: bytes) -> None:
    """Values are quoted only when they hold a comma, quote, CR or LF; quotes are doubled."""
    encoder = AccountingEncoder(["dsnDiag"])
    assert encoder.encode({"type": "b", "dsnDiag": value}) == b"b," + written + b"\r\n"


@pytest.mark.parametrize("odd", ["a,b", 'q"', "l\nf", "c\rr", ","])
def test_one_field_needing_quotes_among_many_is_quoted(odd: str) -> None:
    """A row of many fields with one awkward value quotes exactly that value (the
    whole-row fast path must not miss it)."""
    encoder = AccountingEncoder(["orig", "rcpt", "dsnDiag", "vmta"])
    plain = encoder.encode({"type": "d", "orig": "o@x", "rcpt": "r@y", "vmta": "v"})
    assert plain == b"d,o@x,r@y,,v\r\n"
    quoted = '"' + odd.replace('"', '""') + '"'
    row = encoder.encode({"type": "d", "orig": "o@x", "rcpt": "r@y", "dsnDiag": odd, "vmta": "v"})
    assert row == f"d,o@x,r@y,{quoted},v\r\n".encode()


def test_keys_outside_the_field_list_are_dropped() -> None:
    """A record key that is not a configured field is not written, as in PowerMTA."""
    encoder = AccountingEncoder(["rcpt"])
    assert encoder.encode({"type": "d", "rcpt": "a@x", "bounceCat": "other"}) == b"d,a@x\r\n"


def test_missing_keys_are_written_empty() -> None:
    """A configured field the record does not carry is written empty (the union rule)."""
    encoder = AccountingEncoder(["rcpt", "dlvSourceIp", "bounceCat"])
    assert encoder.encode({"type": "b", "bounceCat": "other"}) == b"b,,,other\r\n"


def test_naive_datetime_is_refused() -> None:
    """A naive datetime value is refused rather than written with a guessed zone."""
    encoder = AccountingEncoder(["timeLogged"])
    naive = datetime(2026, 11, 25, 7, 43, 47)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        encoder.encode({"type": "d", "timeLogged": naive})


@pytest.mark.parametrize("kind", [None, "", "x", "delivery", 1])
def test_bad_record_type_is_refused(kind: object) -> None:
    """Only PowerMTA's record types can be written."""
    with pytest.raises(ValueError, match="record type"):
        AccountingEncoder(["rcpt"]).encode({"type": kind, "rcpt": "a@x"})


@pytest.mark.parametrize("value", [True, 1.5, b"bytes", ["list"]])
def test_unsupported_value_types_are_refused(value: object) -> None:
    """Values other than str, int, datetime and None raise TypeError naming the field."""
    with pytest.raises(TypeError, match="'dlvSize'"):
        AccountingEncoder(["dlvSize"]).encode({"type": "d", "dlvSize": value})


def test_writer_puts_the_header_at_the_top_only() -> None:
    """A writer on a new stream writes the header; one appending to a started file does not."""
    stream = io.BytesIO()
    AccountingWriter(stream, ["rcpt"]).write({"type": "d", "rcpt": "a@x"})
    AccountingWriter(stream, ["rcpt"]).write({"type": "b", "rcpt": "b@x"})
    assert stream.getvalue() == b"type,rcpt\r\nd,a@x\r\nb,b@x\r\n"


class _Pipe(io.BytesIO):
    def tell(self) -> int:
        raise io.UnsupportedOperation("not seekable")


def test_writer_on_an_unseekable_stream_writes_the_header() -> None:
    """A pipe cannot say where it is, so it is treated as a new file and gets a header."""
    stream = _Pipe()
    writer = AccountingWriter(stream, ["rcpt"])
    assert writer.write({"type": "d", "rcpt": "a@x"}) == len(b"d,a@x\r\n")
    assert stream.getvalue() == b"type,rcpt\r\nd,a@x\r\n"


def test_writer_can_write_a_new_header_mid_file() -> None:
    """When the field list changes, a new header row can be written mid-file."""
    stream = io.BytesIO(b"type,rcpt\r\nd,a@x\r\n")
    stream.seek(0, io.SEEK_END)
    writer = AccountingWriter(stream, ["rcpt", "orig"])
    writer.write_header()
    writer.write({"type": "d", "rcpt": "b@x", "orig": "o@x"})
    assert stream.getvalue().endswith(b"\r\ntype,rcpt,orig\r\nd,b@x,o@x\r\n")
    assert writer.encoder.fields == ("type", "rcpt", "orig")


def test_union_header_file_is_written_byte_for_byte() -> None:
    """d and b records sharing one file reproduce PowerMTA's documented union layout exactly."""
    header = union_fields(
        ["timeLogged", "orig", "rcpt", "dlvSourceIp"], ["timeLogged", "orig", "rcpt", "bounceCat"]
    )
    stream = io.BytesIO()
    writer = AccountingWriter(stream, header)
    sender = "news@example.com"
    for kind, when, rcpt, extra in [
        ("d", "1795592627", "ann@example.net", {"dlvSourceIp": "192.0.2.10"}),
        ("d", "1795592629", "carl@example.net", {"dlvSourceIp": "192.0.2.11"}),
        ("b", "1795592640", "bob@example.org", {"bounceCat": "bad-mailbox"}),
        ("b", "1795592641", "dina@example.org", {"bounceCat": "policy-related"}),
    ]:
        writer.write({"type": kind, "timeLogged": when, "orig": sender, "rcpt": rcpt} | extra)
    assert stream.getvalue() == (DATA / "union-header.csv").read_bytes()


def test_default_header_is_written_in_powermtas_order() -> None:
    """A file with every record type has PowerMTA's default header, type first."""
    assert (
        AccountingEncoder(DEFAULT_HEADER).header() == (",".join(DEFAULT_HEADER) + "\r\n").encode()
    )
