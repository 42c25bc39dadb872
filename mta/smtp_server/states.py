"""The inbound SMTP session as data: its states, which command each allows, limits, replies.

The core (:mod:`mta.smtp_server.protocol`) looks everything up here; nothing
about *which* command may come *when* is written as an ``if`` in its code.

States (RFC 5321 section 4.1.4 orders the commands; section 3.3 the transaction)::

    greeted --HELO/EHLO 250--> ready --MAIL 250--> mail --RCPT 250--> rcpt
       ^                         ^  \\                                  |
       |                         |   `--AUTH 334--> sasl (one line)    DATA 354
       |                         `---- end of data / RSET / HELO ---- data
       `-- STARTTLS 220 --> tls (no bytes are read until the handshake is done)

``closed`` is entered by QUIT's 221 and by the application closing.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "ALLOWED",
    "AUTH_LINE_LIMIT",
    "BOGUS_LIMIT",
    "COMMANDS",
    "COMMAND_LIMIT",
    "ERROR_LIMIT",
    "HELP_SYNTAX",
    "LINE_LIMIT",
    "MAIL_COMMAND_LIMIT",
    "REFUSAL",
    "REPLIES",
    "State",
]

State = Literal["greeted", "ready", "mail", "rcpt", "data", "sasl", "tls", "closed"]
"""Where a session is; see the module docstring for the transitions."""

COMMANDS: Final = frozenset(
    {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "HELP"}
    | {"STARTTLS", "AUTH"}
)
"""Every verb we know; anything else is an unrecognised command (500, counted)."""

_ANYWHERE: Final[frozenset[State]] = frozenset({"greeted", "ready", "mail", "rcpt"})
_GREETED: Final[frozenset[State]] = frozenset({"ready", "mail", "rcpt"})

ALLOWED: Final[dict[str, frozenset[State]]] = {
    "HELO": _ANYWHERE,
    "EHLO": _ANYWHERE,
    "NOOP": _ANYWHERE,
    "QUIT": _ANYWHERE,
    "RSET": _ANYWHERE,
    "HELP": _ANYWHERE,
    "VRFY": _ANYWHERE,
    "STARTTLS": _ANYWHERE,
    # RFC 4954 section 4: AUTH is not permitted during a mail transaction (503).
    "AUTH": frozenset({"ready"}),
    "MAIL": _GREETED,
    "RCPT": frozenset({"mail", "rcpt"}),
    "DATA": frozenset({"rcpt"}),
}
"""The states in which each command is taken; outside them :data:`REFUSAL` answers."""

REFUSAL: Final[dict[tuple[str, State], str]] = {
    ("AUTH", "greeted"): "503 Error: send EHLO first",
    ("AUTH", "mail"): "503 5.5.1 Error: MAIL transaction in progress",
    ("AUTH", "rcpt"): "503 5.5.1 Error: MAIL transaction in progress",
    ("MAIL", "greeted"): "503 Error: send HELO first",
    ("RCPT", "greeted"): "503 Error: send HELO first",
    ("RCPT", "ready"): "503 Error: need MAIL command",
    ("DATA", "greeted"): "503 Error: send HELO first",
    ("DATA", "ready"): "503 Error: need RCPT command",
    ("DATA", "mail"): "503 Error: need RCPT command",
}
"""The reply to a command sent in a state that does not allow it (the texts clients know)."""

LINE_LIMIT: Final = 1001
"""Octets a command line may take before we stop buffering it (RFC 5321 section
4.5.3.1.4 asks for 512 including CRLF; longer lines are read to their end and refused)."""

COMMAND_LIMIT: Final = 512
"""A command line's length without CRLF (RFC 5321 section 4.5.3.1.4)."""

MAIL_COMMAND_LIMIT: Final = COMMAND_LIMIT + 26 + 10
"""MAIL after EHLO: RFC 1870 section 3 (SIZE) allows 26 more octets, RFC 6531 section
3.4 (SMTPUTF8) 10 more."""

AUTH_LINE_LIMIT: Final = 1000
"""A SASL response line (RFC 4954 section 4 lets a server limit it; 12288 is
the RFC's suggestion for the command, our credentials are short)."""

BOGUS_LIMIT: Final = 5
"""Unrecognised commands before we say goodbye (the fifth one closes the session)."""

ERROR_LIMIT: Final = 20
"""Commands the core refuses itself (4xx/5xx: syntax, order, length, unknown) before it
answers ``too_many_errors`` and closes; the twentieth closes, and a message taken
with 2xx starts the count again (Postfix's ``smtpd_hard_error_limit``: errors "without
delivering mail", default 20). The application's own refusals
(relay denied, unknown user) are policy, not counted here."""

REPLIES: Final = {
    "line_too_long": "500 Command line too long",
    "bad_syntax": "500 Error: bad syntax",
    "unknown": '500 Error: command "{verb}" not recognized',
    "too_many_unknown": "502 5.5.1 Too many unrecognized commands, goodbye.",
    "too_many_errors": "421 4.7.0 Too many errors, goodbye",
    "helo_syntax": "501 Syntax: HELO hostname",
    "ehlo_syntax": "501 Syntax: EHLO hostname",
    "quit_syntax": "501 Syntax: QUIT",
    "rset_syntax": "501 Syntax: RSET",
    "data_syntax": "501 Syntax: DATA",
    "starttls_syntax": "501 Syntax: STARTTLS",
    "tls_active": "503 5.5.1 TLS already active",
    "vrfy_syntax": "501 Syntax: VRFY <address>",
    "vrfy": "252 Cannot VRFY user, but will accept message and attempt delivery",
    "mail_syntax": "501 Syntax: MAIL FROM: <address>",
    "rcpt_syntax": "501 Syntax: RCPT TO: <address>",
    "esmtp_syntax": " [SP <mail-parameters>]",
    "malformed": "553 5.1.3 Error: malformed address",
    "nested": "503 Error: nested MAIL command",
    "body": "501 Error: BODY can only be one of 7BIT, 8BITMIME",
    "smtputf8_arg": "501 Error: SMTPUTF8 takes no arguments",
    "mail_params": "555 MAIL FROM parameters not recognized or not implemented",
    "rcpt_params": "555 RCPT TO parameters not recognized or not implemented",
    "auth_not_esmtp": "500 Error: command 'AUTH' not recognized",
    "auth_again": "503 Already authenticated",
    "auth_no_value": "501 Not enough value",
    "auth_many_values": "501 Too many values",
    "auth_mechanism": "504 5.5.4 Unrecognized authentication type",
    "auth_line_too_long": "500 5.5.6 Authentication exchange line is too long",
    "data_line_too_long": "500 Line too long (see RFC5321 4.5.3.1.6)",
    "data_too_much": "552 Error: Too much mail data",
    "ok": "250 OK",
    "bye": "221 Bye",
    "start_tls": "220 Ready to start TLS",
    "go_ahead": "354 End data with <CR><LF>.<CR><LF>",
    "help": "250 Supported commands: {commands}",
    "help_unknown": "501 Supported commands: {commands}",
}
"""Every reply the core itself writes; the texts are those clients and tests already know."""

HELP_SYNTAX: Final = {
    "AUTH": "AUTH <mechanism>",
    "DATA": "DATA",
    "EHLO": "EHLO hostname",
    "HELO": "HELO hostname",
    "HELP": "HELP [command]",
    "MAIL": "MAIL FROM: <address>",
    "NOOP": "NOOP [ignored]",
    "QUIT": "QUIT",
    "RCPT": "RCPT TO: <address>",
    "RSET": "RSET",
    "STARTTLS": "STARTTLS",
    "VRFY": "VRFY <address>",
}
"""``HELP <command>`` answers (MAIL and RCPT add the parameters after EHLO)."""
