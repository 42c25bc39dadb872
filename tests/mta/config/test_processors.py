"""<bounce-processor>, <feedback-loop-processor>, their <address-list>, and verp-default."""

from __future__ import annotations

import pytest

from mta.config import AddressPattern

from .conftest import errors_of, parse

GOOD = """\
<bounce-processor>
    deliver-unmatched-email no
    deliver-matched-email no
    <address-list>
        address /^bounce\\+.*@bounces\\.example\\.com$/
        address Postmaster@Bounces.Example.com
    </address-list>
</bounce-processor>
<feedback-loop-processor>
    deliver-unmatched-email yes
    deliver-matched-email yes
    <address-list>
        address /^fbl@example\\.com$/   # a comment after a regex
    </address-list>
    <address-list>
        address "abuse@example.com"
    </address-list>
</feedback-loop-processor>
"""


def test_powermta_processor_sections_parse_into_return_processors() -> None:
    """Both processors load in file order with their addresses, flags and locations."""
    cfg = parse(GOOD)
    bounce, feedback = cfg.return_processors
    assert bounce.kind == "bounce"
    assert bounce.addresses == (
        AddressPattern(r"^bounce\+.*@bounces\.example\.com$", True, bounce.addresses[0].where),
        AddressPattern("postmaster@bounces.example.com", False, bounce.addresses[1].where),
    )
    assert [a.where.line for a in bounce.addresses] == [5, 6]
    assert (bounce.deliver_unmatched, bounce.deliver_matched) == (False, False)
    assert feedback.kind == "feedback"
    assert feedback.where.line == 9
    assert [a.pattern for a in feedback.addresses] == [r"^fbl@example\.com$", "abuse@example.com"]
    assert (feedback.deliver_unmatched, feedback.deliver_matched) == (True, True)
    assert cfg.warnings == ()


def test_processors_default_to_not_delivering_and_configs_without_them_have_none() -> None:
    """deliver-*-email default to no; a config with no processor has an empty tuple."""
    cfg = parse("<bounce-processor>\n<address-list>\naddress a@b.example\n</address-list>\n"
                "</bounce-processor>\n")  # fmt: skip
    (only,) = cfg.return_processors
    assert (only.deliver_unmatched, only.deliver_matched) == (False, False)
    assert parse("").return_processors == ()


def test_a_bad_regex_is_an_error_at_its_file_and_line() -> None:
    """An address regex that does not compile names file:line, section and the reason."""
    text = (
        "<bounce-processor>\n<address-list>\n  address /ok@x\\.example/\n"
        "  address /bounce(+@x/\n</address-list>\n</bounce-processor>\n"
    )
    (error,) = errors_of(text)
    assert error.startswith("t.conf:4: <address-list>: address: bad regular expression ")
    assert "/bounce(+@x/" in error


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("address /x/g", "address: expected /regex/ or an e-mail address, got '/x/g'"),
        ("address //", "address: empty /regex/ would match every address"),
        ("address not-an-address", "address: expected an e-mail address, got 'not-an-address'"),
        ("address", "'address' needs a value"),
    ],
)
def test_malformed_addresses_are_located_errors(line: str, message: str) -> None:
    """Addresses that are neither a /regex/ nor one e-mail address are refused, located."""
    text = f"<feedback-loop-processor>\n<address-list>\n{line}\n</address-list>\n"
    text += "</feedback-loop-processor>\n"
    assert errors_of(text) == [f"t.conf:3: <address-list>: {message}"]


def test_unknown_and_misplaced_directives_inside_processors_are_errors() -> None:
    """A typo, an address outside <address-list>, and a stray <address-list> are all errors."""
    text = (
        "<bounce-processor>\n"  # 1
        "  deliver-unmatched-emails no\n"  # 2
        "  address x@y.example\n"  # 3
        "  <address-list>\n"  # 4
        "    bogus 1\n"  # 5
        "  </address-list>\n"  # 6
        "</bounce-processor>\n"  # 7
        "<address-list>\n"  # 8
        "</address-list>\n"  # 9
        "<bounce-processor x>\n</bounce-processor>\n"  # 10, 11
    )
    assert errors_of(text) == [
        "t.conf:2: <bounce-processor>: unknown directive 'deliver-unmatched-emails' "
        "(did you mean 'deliver-unmatched-email'?)",
        "t.conf:3: <bounce-processor>: 'address' is not allowed here; it belongs in <address-list>",
        "t.conf:5: <address-list>: unknown directive 'bogus'",
        "t.conf:8: <address-list> must be inside <bounce-processor> or <feedback-loop-processor>",
        "t.conf:10: <bounce-processor> takes no argument",
    ]


def test_forward_directives_and_empty_processors_warn() -> None:
    """forward-*-to are recognised only; a processor without addresses says it handles nothing."""
    cfg = parse(
        "<feedback-loop-processor>\n  forward-unmatched-to pm@example.com\n"
        "  forward-errors-to pm@example.com\n</feedback-loop-processor>\n"
    )
    lines = [(w.where.line, w.message) for w in cfg.warnings]
    assert lines[0] == (1, "no <address-list> addresses: this processor handles no mail")
    assert [n for n, _ in lines[1:]] == [2, 3]
    assert all("does not implement" in m for _, m in lines[1:])


def test_verp_default_parses_per_source() -> None:
    """`verp-default yes` in a <source> sets Source.verp_default; it defaults to no."""
    cfg = parse("<source 10.0.0.0/8>\n verp-default yes\n</source>\n<source 0/0>\n</source>\n")
    assert [s.verp_default for s in cfg.sources] == [True, False]
    assert cfg.warnings == ()
    assert errors_of("<source 0/0>\nverp-default maybe\n</source>\n") == [
        "t.conf:2: <source 0/0>: verp-default: expected yes or no, got 'maybe'"
    ]
