"""The smallest SMTP sink we can write: a stand-in for Postfix's smtp-sink where it cannot run.

Each command gets a fixed reply (EHLO offers PIPELINING and 8BITMIME), the
message is found by one search for ``CRLF . CRLF`` per chunk and thrown away,
and every message bumps a counter written as ``mesg=N`` to stdout (smtp-sink's
``-c`` format, which :mod:`benchmarks._sink` reads).

    python -m benchmarks._tiny_sink --port 2525
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import cast

_EHLO = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n"
_END = b"\r\n.\r\n"


class _Counter:
    messages = 0

    def bump(self) -> None:
        self.messages += 1
        os.write(1, b"mesg=%d\r" % self.messages)


class _Session(asyncio.Protocol):
    def __init__(self, counter: _Counter) -> None:
        self.counter = counter
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        out: list[bytes] = []
        while buffer:
            if self.in_data:
                end = buffer.find(_END)
                if end == -1:
                    buffer = buffer[-4:]
                    break
                buffer = buffer[end + 5 :]
                self.in_data = False
                self.counter.bump()
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line, sep, rest = buffer.partition(b"\r\n")
            if not sep:
                break
            buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(_EHLO)
            elif verb == b"DATA":
                self.in_data = True
                buffer = b"\r\n" + buffer  # the line before the data ends with CRLF
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                assert self.transport is not None
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            else:
                out.append(b"250 2.0.0 Ok\r\n")
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def _serve(port: int) -> None:
    counter = _Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Session(counter), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve on 127.0.0.1:PORT until killed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._tiny_sink")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
