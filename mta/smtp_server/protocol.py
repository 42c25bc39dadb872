"""The inbound SMTP protocol without I/O: bytes in, events out; replies in, bytes out.

::

    core = ServerCore(auth_mechanisms={"PLAIN", "LOGIN"}, data_size_limit=20480)
    out = core.send("220 mta.test ESMTP")       # the banner: bytes to write
    core.receive_data(b"EHLO a.test\\r\\nMAIL FROM:<a@b.test>\\r\\n")
    event = core.next_event()                    # Hello(verb="EHLO", name="a.test", ...)
    out = core.send(["250-mta.test", "250 HELP"])  # the reply moves the state on
    event = core.next_event()                    # MailFrom(address="a@b.test", ...)

The shape is h11's: the core never reads a socket, a clock or the config. It
splits lines, checks each command against the grammar (:mod:`.grammar`) and
the state table (:mod:`.states`), and hands the application an event; every
event needs exactly one reply (:meth:`ServerCore.send`) before the next one
is given, and that reply decides the transition (a 250 to MAIL opens the
transaction, a 354 to DATA starts the message). Commands the grammar or the
state table refuses come out as :class:`Answer` events carrying the reply, so
the application still sees (and may log) every command. Pipelined commands
(RFC 2920) simply wait in the buffer for their turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from mta.acct.rejectlog import reject_reason
from mta.smtp_server.data import DataReader
from mta.smtp_server.decisions import command_refusal, parse_params, printable, split_path
from mta.smtp_server.events import (
    Answer,
    Auth,
    AuthResponse,
    DataCommand,
    Envelope,
    Event,
    Hello,
    MailFrom,
    Message,
    RcptTo,
    RefusalKind,
    StartTls,
)
from mta.smtp_server.grammar import parse_path, split_command, strip_keyword, valid_esmtp_params
from mta.smtp_server.states import (
    ALLOWED,
    AUTH_LINE_LIMIT,
    BOGUS_LIMIT,
    COMMAND_LIMIT,
    COMMANDS,
    ERROR_LIMIT,
    HELP_SYNTAX,
    LINE_LIMIT,
    MAIL_COMMAND_LIMIT,
    REFUSAL,
    REPLIES,
    State,
)

__all__ = [
    "Answer",
    "Auth",
    "AuthResponse",
    "DataCommand",
    "Envelope",
    "Event",
    "Hello",
    "MailFrom",
    "Message",
    "RcptTo",
    "ServerCore",
    "StartTls",
]

_CONTROL_REASON = reject_reason("control character or bad UTF-8 in the command")
_REFUSES_CONTROL: dict[str, RefusalKind] = {
    "HELO": "helo",
    "EHLO": "helo",
    "MAIL": "mail",
    "RCPT": "rcpt",
}


class ServerCore:
    """One inbound SMTP session's protocol state (see the module docstring)."""

    def __init__(
        self, *, auth_mechanisms: frozenset[str] = frozenset(), data_size_limit: int | None = None
    ) -> None:
        self.state: State = "greeted"
        self.auth_mechanisms = auth_mechanisms
        self.data_size_limit = data_size_limit  # the application updates it on a reload
        self.host_name: str | None = None
        self.extended = False
        self.tls = False
        self.authenticated = False
        self.envelope = Envelope()
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line: drop until its end
        self._bogus = BOGUS_LIMIT
        self._errors = 0  # refusals the core made itself (see ERROR_LIMIT)
        self._pending: Event | None = None
        self._sasl_return: State = "ready"
        self._data: DataReader | None = None

    # -- bytes in -------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """Whether the last event still waits for its reply."""
        return self._pending is not None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into events (for backpressure)."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the client.

        What was buffered when the 220 to STARTTLS went out is dropped (RFC 3207
        section 4.2 forbids acting on it); the transport hands bytes in again only
        once they come through TLS, and they wait here for :meth:`tls_started`.
        """
        if self.state == "closed":
            return
        reader = self._data
        if (
            self.state == "data"
            and not self._buffer
            and reader is not None
            and reader.result is None
        ):
            end = reader.feed(data)  # the fast path: message bytes go straight in
            if end != -1:
                self._buffer += data[end:]
            return
        self._buffer += data

    def next_event(self) -> Event | None:
        """The next event, or None when more bytes are needed (or the session is over)."""
        if self._pending is not None:
            raise RuntimeError("the previous event has not been answered")
        event = self._next()
        self._pending = event
        return event

    def _next(self) -> Event | None:
        state = self.state
        if state in ("tls", "closed"):
            return None
        if state == "data":
            return self._next_message()
        line = self._line(AUTH_LINE_LIMIT if state == "sasl" else LINE_LIMIT)
        if line is None:
            return None
        if state == "sasl" and isinstance(line, bytes):
            return AuthResponse(line.strip())
        event = self._command(line) if isinstance(line, bytes) else line
        if isinstance(event, Answer) and event.reply[:1] in ("4", "5") and not event.close:
            self._errors += 1
            if self._errors >= ERROR_LIMIT:
                return Answer(event.verb, REPLIES["too_many_errors"], event.command, close=True)
        return event

    def _line(self, limit: int) -> bytes | Answer | None:
        buffer = self._buffer
        end = buffer.find(b"\n")
        if end == -1:
            if len(buffer) > limit:
                buffer.clear()
                if self.state == "sasl":  # the credentials are cut: no use reading on
                    return self._auth_too_long()
                self._skipping = True
            return None
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if self._skipping or len(line) > limit:
            self._skipping = False
            if self.state == "sasl":
                return self._auth_too_long()
            return Answer("", REPLIES["line_too_long"], "")
        return line.rstrip(b"\r\n")

    def _auth_too_long(self) -> Answer:
        reply = REPLIES["auth_line_too_long"]
        return Answer("AUTH", reply, "", "auth", reject_reason("auth line too long"), close=True)

    def _next_message(self) -> Event | None:
        reader = self._data
        if reader is None:  # pragma: no cover - state data always has a reader
            raise RuntimeError("DATA without a reader")
        if reader.result is None and self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            end = reader.feed(data)
            if end != -1:
                self._buffer += data[end:]
        result = reader.result
        if result is None:
            return None
        if result.problem == "too-long":
            return Answer("DATA", REPLIES["data_line_too_long"], "DATA")
        if result.problem == "too-much":
            reason = reject_reason("message larger than", f"{self.data_size_limit} bytes")
            return Answer("DATA", REPLIES["data_too_much"], "DATA", "data", reason)
        return Message(result.content)

    # -- commands -------------------------------------------------------------------

    def _command(self, line: bytes) -> Event:
        if not line:
            return Answer("", REPLIES["bad_syntax"], "")
        verb_bytes, arg_bytes = split_command(line)
        try:
            verb = verb_bytes.upper().decode("ascii")
        except UnicodeDecodeError:
            return Answer("", REPLIES["bad_syntax"], "")
        # RFC 6531: arguments may be UTF-8; bytes that are not stay recoverable.
        arg = arg_bytes.decode("utf-8", "surrogateescape") if arg_bytes else None
        command = f"{verb} {arg}" if arg else verb
        limit = MAIL_COMMAND_LIMIT if self.extended and verb == "MAIL" else COMMAND_LIMIT
        if len(line) > limit:
            return Answer(verb, REPLIES["line_too_long"], command)
        if verb not in COMMANDS:
            self._bogus -= 1
            if self._bogus < 1:
                return Answer(verb, REPLIES["too_many_unknown"], command, close=True)
            # echoed with control characters replaced: no bare CR, NUL or ESC in a reply
            return Answer(verb, REPLIES["unknown"].format(verb=printable(verb, 40)), command)
        kind = _REFUSES_CONTROL.get(verb)
        if kind is not None and arg is not None:
            refusal = command_refusal(arg)
            if refusal is not None:
                return Answer(verb, refusal, command, kind, _CONTROL_REASON)
        if self.state not in ALLOWED[verb]:
            return Answer(verb, REFUSAL[(verb, self.state)], command)
        return _HANDLERS[verb](self, arg, command)

    def _hello(self, arg: str | None, command: str, verb: str) -> Event:
        if arg is None:
            return Answer(verb, REPLIES["helo_syntax" if verb == "HELO" else "ehlo_syntax"], verb)
        return Hello(verb, arg, command)

    def _helo(self, arg: str | None, command: str) -> Event:
        return self._hello(arg, command, "HELO")

    def _ehlo(self, arg: str | None, command: str) -> Event:
        return self._hello(arg, command, "EHLO")

    def _syntax(self, verb: str) -> str:
        text = REPLIES["mail_syntax" if verb == "MAIL" else "rcpt_syntax"]
        return text + REPLIES["esmtp_syntax"] if self.extended else text

    def _path(
        self, verb: str, arg: str | None, command: str
    ) -> tuple[str, list[str], dict[str, str | bool], str | None] | Answer:
        """Shared by MAIL and RCPT: the mailbox, kept parameters, their dict, ENVID."""
        rest = strip_keyword("FROM:" if verb == "MAIL" else "TO:", arg or "")
        if rest is None:
            return Answer(verb, self._syntax(verb), command)
        path, params_text = split_path(rest)
        dsn = parse_params(params_text)
        if dsn.error is not None:
            return Answer(verb, dsn.error, command)
        address, extra = parse_path(" ".join([path, *dsn.kept]))
        if address is None:
            return Answer(verb, REPLIES["malformed"], command)
        if not address or (extra and not self.extended):
            return Answer(verb, self._syntax(verb), command)
        options = extra.upper().split()
        params = valid_esmtp_params(options)
        if params is None:
            return Answer(verb, self._syntax(verb), command)
        return address, options, params, dsn.env_id

    def _mail(self, arg: str | None, command: str) -> Event:
        parsed = self._path("MAIL", arg, command)
        if isinstance(parsed, Answer):
            return parsed
        address, options, params, env_id = parsed
        if self.envelope.mail_from:
            return Answer("MAIL", REPLIES["nested"], command)
        body = params.pop("BODY", "7BIT")
        if body not in ("7BIT", "8BITMIME"):
            return Answer("MAIL", REPLIES["body"], command)
        smtputf8 = params.pop("SMTPUTF8", False)
        if not isinstance(smtputf8, bool):
            return Answer("MAIL", REPLIES["smtputf8_arg"], command)
        size_text = params.pop("SIZE", None)
        size: int | None = None
        if size_text:
            if isinstance(size_text, bool) or not (size_text.isascii() and size_text.isdigit()):
                return Answer("MAIL", self._syntax("MAIL"), command)
            size = int(size_text)
        if params:
            return Answer("MAIL", REPLIES["mail_params"], command)
        return MailFrom(address, tuple(options), size, env_id, smtputf8, command)

    def _rcpt(self, arg: str | None, command: str) -> Event:
        parsed = self._path("RCPT", arg, command)
        if isinstance(parsed, Answer):
            return parsed
        address, options, params, _ = parsed
        if params:
            return Answer("RCPT", REPLIES["rcpt_params"], command)
        return RcptTo(address, tuple(options), command)

    def _data_command(self, arg: str | None, command: str) -> Event:
        if arg is not None:
            return Answer("DATA", REPLIES["data_syntax"], command)
        return DataCommand()

    def _rset(self, arg: str | None, command: str) -> Event:
        return Answer("RSET", REPLIES["rset_syntax" if arg else "ok"], command)

    def _noop(self, arg: str | None, command: str) -> Event:
        return Answer("NOOP", REPLIES["ok"], command)

    def _quit(self, arg: str | None, command: str) -> Event:
        if arg is not None:
            return Answer("QUIT", REPLIES["quit_syntax"], command)
        return Answer("QUIT", REPLIES["bye"], command, close=True)

    def _vrfy(self, arg: str | None, command: str) -> Event:
        # RFC 5321 section 3.5.3: the argument is a user name or a mailbox; we never
        # verify, so any argument gets 252 (aiosmtpd said 502 to one it could not parse).
        if arg is None:
            return Answer("VRFY", REPLIES["vrfy_syntax"], command)
        return Answer("VRFY", REPLIES["vrfy"], command)

    def _help(self, arg: str | None, command: str) -> Event:
        if arg is not None:
            syntax = HELP_SYNTAX.get(arg.upper())
            if syntax is not None and (arg.upper() != "STARTTLS" or not self.tls):
                if arg.upper() in ("MAIL", "RCPT") and self.extended:
                    syntax += REPLIES["esmtp_syntax"]
                return Answer("HELP", f"250 Syntax: {syntax}", command)
        names = " ".join(sorted(HELP_SYNTAX))
        key = "help" if arg is None else "help_unknown"
        return Answer("HELP", REPLIES[key].format(commands=names), command)

    def _starttls(self, arg: str | None, command: str) -> Event:
        if arg is not None:
            return Answer("STARTTLS", REPLIES["starttls_syntax"], command)
        if self.tls:
            return Answer("STARTTLS", REPLIES["tls_active"], command)
        return StartTls()

    def _auth(self, arg: str | None, command: str) -> Event:
        words = arg.split() if arg else []
        command = f"AUTH {words[0]}" if words else "AUTH"  # never the credentials
        if not self.extended:
            return Answer("AUTH", REPLIES["auth_not_esmtp"], command)
        if self.authenticated:
            return Answer("AUTH", REPLIES["auth_again"], command)
        if not words:
            return Answer("AUTH", REPLIES["auth_no_value"], command)
        if len(words) > 2:
            return Answer("AUTH", REPLIES["auth_many_values"], command)
        if words[0] not in self.auth_mechanisms:
            return Answer("AUTH", REPLIES["auth_mechanism"], command)
        return Auth(words[0], words[1] if len(words) == 2 else None, command)

    # -- replies out ----------------------------------------------------------------

    def send(self, reply: str | Sequence[str]) -> bytes:
        """The bytes for ``reply`` (one line, or the lines of a multi-line reply), answering
        the pending event; the reply's code moves the state (nothing pending: a banner or
        an unsolicited 421, no move)."""
        lines = [reply] if isinstance(reply, str) else list(reply)
        event, self._pending = self._pending, None
        if event is not None:
            self._advance(event, lines[-1][:3])
        return "".join(f"{line}\r\n" for line in lines).encode("utf-8", "surrogateescape")

    def _reset(self) -> None:
        self.envelope = Envelope()

    def _advance(self, event: Event, code: str) -> None:
        good = code.startswith("2")
        match event:
            case Hello() if good:
                self._reset()
                self.state, self.host_name = "ready", event.name
                self.extended = event.verb == "EHLO"
            case MailFrom() if good:
                self.envelope.mail_from = event.address
                self.envelope.smtp_utf8 = event.smtputf8
                self.envelope.mail_options.extend(event.params)
                self.state = "mail"
            case RcptTo() if good:
                self.envelope.rcpt_tos.append(event.address)
                self.envelope.rcpt_options.extend(event.params)
                self.state = "rcpt"
            case DataCommand() if code == "354":
                self.state = "data"
                self._data = DataReader(self.data_size_limit)
            case Message() | Answer(verb="DATA") if self.state == "data":
                if good and isinstance(event, Message):
                    self._errors = 0  # the limit counts errors "without delivering mail"
                self._end_transaction()
            case Answer(verb="RSET") if good:
                self._end_transaction()
            case StartTls() if good:
                self.state = "tls"
                self._buffer.clear()
            case Auth() | AuthResponse():
                if self.state != "sasl":
                    self._sasl_return = self.state
                if code == "334":
                    self.state = "sasl"
                else:
                    self.state = self._sasl_return
                    self.authenticated = self.authenticated or code == "235"
            case Answer(close=True):
                self.state = "closed"
            case _:
                pass
        if isinstance(event, Answer) and event.close:
            self.state = "closed"

    def _end_transaction(self) -> None:
        self._reset()
        self._data = None
        self.state = "ready" if self.host_name is not None else "greeted"

    def tls_started(self) -> None:
        """The TLS handshake is done: start afresh (RFC 3207 section 4.2: forget HELO)."""
        self._reset()
        self.host_name, self.extended, self.authenticated = None, False, False
        self.tls, self.state = True, "greeted"

    def close(self) -> None:
        """The session is over (hung up, timed out, or closed by the application)."""
        self.state = "closed"


_HANDLERS = {
    "HELO": ServerCore._helo,
    "EHLO": ServerCore._ehlo,
    "MAIL": ServerCore._mail,
    "RCPT": ServerCore._rcpt,
    "DATA": ServerCore._data_command,
    "RSET": ServerCore._rset,
    "NOOP": ServerCore._noop,
    "QUIT": ServerCore._quit,
    "VRFY": ServerCore._vrfy,
    "HELP": ServerCore._help,
    "STARTTLS": ServerCore._starttls,
    "AUTH": ServerCore._auth,
}
