"""SMTP reply codes, RFC 3463 enhanced status codes and RFC 3464 diagnostic strings.

Pure string functions. The regular expressions are module constants written in the
subset of syntax that Python's ``re`` and Rust's ``regex`` (polars) both accept, with
explicit ASCII classes instead of ``\\s``/``\\d``, because :mod:`classifiers.vector`
runs the very same patterns over a polars column and must agree with
:func:`parse_diag` character for character.

``parse_diag`` takes a diagnostic as PowerMTA's ``dsnDiag`` field or a DSN's
``Diagnostic-Code`` carries it, in five steps (``vector.parse_frame`` repeats them):

1. strip surrounding whitespace and a leading diagnostic type (``smtp;``, ``X-Postfix;``);
2. take a reply code from the start, or failing that from ``... said: 550 ...``;
3. take the first well-delimited enhanced status code from what follows the reply code;
4. drop that status when it opens the text, and the ``550-5.1.1`` prefixes of
   continuation lines (joined or not);
5. collapse whitespace runs to one space (and fold the Turkish U+0130/U+0131, see
   :func:`normalise_text`).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CODE_RE",
    "CONTINUATION_RE",
    "DIAG_TYPE_RE",
    "DOTLESS_SMALL_I",
    "DOTTED_CAPITAL_I",
    "HEAD_STATUS_RE",
    "LEADING_ZEROS_RE",
    "SAID_CODE_RE",
    "STATUS_RE",
    "WHITESPACE",
    "WHITESPACE_RUN_RE",
    "is_temporary",
    "normalise_text",
    "parse_diag",
    "parse_enhanced_status",
    "status_class",
    "status_subject",
]

# The whitespace both engines agree on. Python's ``str.isspace`` and Rust's White_Space
# property differ on a few control and Unicode characters, so neither ``\s`` nor
# ``str.split()`` is used anywhere in the parse.
WHITESPACE: Final = " \t\r\n\f\v"
DOTTED_CAPITAL_I: Final = "\u0130"
DOTLESS_SMALL_I: Final = "\u0131"

# RFC 3464 section 2.3.6:
#     diagnostic-code-field = "Diagnostic-Code" ":" diagnostic-type ";" *text
#     diagnostic-type = atom
# Only "smtp" is registered; extension types are "X-" atoms (X-Postfix, X-Unix,
# X-Local). Any other leading "word;" is left alone on purpose: plain-text
# diagnostics such as "timeout; giving up" must keep their first word.
# Case is spelled out instead of (?i): under (?i) Python also equates U+0130/U+0131
# with "i", Rust does not; explicit classes mean the same to both engines.
DIAG_TYPE_RE: Final = r"^(?:[Ss][Mm][Tt][Pp]|[Xx]-[A-Za-z0-9][A-Za-z0-9.-]*)[ \t]*;"

# RFC 5321 section 4.2:
#     Reply-line = *( Reply-code "-" [ textstring ] CRLF )
#                  Reply-code [ SP textstring ] CRLF
#     Reply-code = %x32-35 %x30-35 %x30-39
# Lenient: the second digit may be 6-9 (IIS and some appliances send "571"), and the
# separator may be any whitespace, "-" or nothing at the end.
CODE_RE: Final = r"^([2-5][0-9]{2})(?:[ \t\r\n\f\v-]|$)"

# Lenient, not in any RFC: Postfix and qmail bounce texts quote the remote reply as
# "host mx.example.com[192.0.2.1] said: 550 5.1.1 ..." / "Remote host said: 553 ...",
# and some pipelines store that sentence as the diagnostic.
SAID_CODE_RE: Final = (
    r"(?:^|[ \t\r\n\f\v])[Ss][Aa][Ii][Dd]:[ \t\r\n\f\v]*([2-5][0-9]{2})(?:[ \t\r\n\f\v-]|$)"
)

# RFC 3463 section 2:
#     status-code = class "." subject "." detail
#     class = "2"/"4"/"5"
#     subject = 1*3digit
#     detail = 1*3digit
# RFC 2034 puts it right after the reply code ("550 5.1.1 ..."). Lenient: it is also
# found anywhere later in the text when delimited by a non-alphanumeric character on
# both sides: qmail writes "(#5.1.1)", Exchange "(5.1.1)", PowerMTA's dsnStatus field
# "5.1.1 (bad destination mailbox address)". The delimiters keep IPv4 addresses such as
# "[192.5.1.10]" and version strings like "v5.1.1.2" from being read as a status.
STATUS_RE: Final = (
    r"(?:^|[^0-9A-Za-z.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:$|[^0-9A-Za-z.]|\.(?:$|[^0-9]))"
)
# Leading zeros of a subject or detail ("5.01.001"): Python drops them with int(); the
# vectorised path replaces this pattern with "." and the digit, which is the same.
LEADING_ZEROS_RE: Final = r"\.0+([0-9])"
# The status when it opens the text (removed from the text; it is not prose).
HEAD_STATUS_RE: Final = r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}(?:[ \t\r\n\f\v]+|$)"

# Continuation-line prefixes of a multi-line reply, in the two shapes they arrive in:
# (a) real lines: a line break, then "550-" or "550 " and maybe the status again;
# (b) joined by the MTA (PowerMTA writes one line): " 550-5.1.1 " or " 550-" mid-text,
#     and the last line's " 550 5.1.1 " (without a status, " 550 " is indistinguishable
#     from prose and stays).
CONTINUATION_RE: Final = (
    r"[\r\n][ \t\r\n\f\v]*[2-5][0-9]{2}(?:[ \t-]|$)(?:[245]\.[0-9]{1,3}\.[0-9]{1,3}(?:[ \t]|$))?"
    r"|[ \t][2-5][0-9]{2}-(?:[245]\.[0-9]{1,3}\.[0-9]{1,3}(?:[ \t]|$))?"
    r"|[ \t][2-5][0-9]{2} [245]\.[0-9]{1,3}\.[0-9]{1,3}(?:[ \t]|$)"
)
# Every whitespace run except a lone space: collapsing the run to one space is the same
# as collapsing all runs, and leaving lone spaces alone is three times faster in Rust.
WHITESPACE_RUN_RE: Final = r"[ ]*[\t\r\n\f\v][ \t\r\n\f\v]*|[ ]{2,}"

_DIAG_TYPE = re.compile(DIAG_TYPE_RE)
_CODE = re.compile(CODE_RE)
_SAID_CODE = re.compile(SAID_CODE_RE)
_STATUS = re.compile(STATUS_RE)
_HEAD_STATUS = re.compile(HEAD_STATUS_RE)
_CONTINUATION = re.compile(CONTINUATION_RE)
_WHITESPACE_RUN = re.compile(WHITESPACE_RUN_RE)


def parse_enhanced_status(text: str) -> str:
    """Return the first RFC 3463 status code in ``text``, normalised (``"5.1.1"``), or ``""``.

    Leading zeros are dropped (``"5.01.001"`` → ``"5.1.1"``); ``"5.1.1 (bad destination
    mailbox address)"``, ``"#5.1.1"`` and ``"(4.2.2)"`` all yield the code.
    """
    match = _STATUS.search(text)
    if match is None:
        return ""
    klass, subject, detail = match.group(1).split(".")
    return f"{klass}.{int(subject)}.{int(detail)}"


def normalise_text(text: str) -> str:
    """Collapse whitespace runs to one space, trim, and fold U+0130/U+0131 to ``I``/``i``.

    The Turkish dotted capital I and dotless i are the two characters that Python's
    case-insensitive matching equates with ``i`` and Rust's does not; folding them keeps
    both engines in step.
    """
    text = _WHITESPACE_RUN.sub(" ", text).strip(" ")
    return text.replace(DOTTED_CAPITAL_I, "I").replace(DOTLESS_SMALL_I, "i")


def parse_diag(diag: str) -> tuple[int | None, str, str]:
    """Split a diagnostic string into ``(reply code, enhanced status, text)``.

    ``"smtp;550 5.1.1 <a@example.com>: Recipient address rejected"`` gives
    ``(550, "5.1.1", "<a@example.com>: Recipient address rejected")``. Missing parts
    are ``None`` / ``""``; plain text gives ``(None, "", text)``. Never raises.
    """
    body = diag.strip(WHITESPACE)
    kind = _DIAG_TYPE.match(body)
    if kind is not None:
        body = body[kind.end() :].lstrip(WHITESPACE)
    head = _CODE.match(body)
    if head is not None:
        code: int | None = int(head.group(1))
        rest = body[head.end() :].lstrip(WHITESPACE)
    else:
        said = _SAID_CODE.search(body)
        code = int(said.group(1)) if said is not None else None
        rest = body
    status = parse_enhanced_status(rest)
    text = _HEAD_STATUS.sub("", rest, count=1)
    text = _CONTINUATION.sub(" ", text)
    return code, status, normalise_text(text)


def status_class(status: str) -> str:
    """The class digit of a normalised status (``"5"`` for ``"5.1.1"``), ``""`` if none."""
    return status[:1]


def status_subject(status: str) -> str:
    """The subject of a normalised status (``"7"`` for ``"5.7.26"``), ``""`` if none."""
    parts = status.split(".")
    return parts[1] if len(parts) == 3 else ""


def is_temporary(code: int | None, status: str) -> bool:
    """True when the reply code is 4xx or the status is 4.x.x: a retry may succeed."""
    return (code is not None and 400 <= code <= 499) or status.startswith("4.")
