"""The SMTP server side alone: the sans-IO core (bytes in only) and the listener without a spool.

1. **core**: a pipelined stream of transactions (EHLO once, then MAIL, RCPT,
   DATA, a message, RSET) fed to :class:`~mta.smtp_server.protocol.ServerCore`
   in 64 KiB chunks, every event answered with a fixed reply: commands/s and
   messages/s, no socket, no policy.
2. **listener**: the real :class:`~mta.smtp_server.listener.SmtpListener` on
   loopback with a submitter that keeps nothing (no fsync), driven by
   lock-step clients in this process (one command, then its reply, as
   aiosmtplib does): messages/s and this process's CPU per message. Client and
   server share the CPU, so the figure is for comparing builds, not a ceiling.

    .venv/bin/python -m benchmarks.smtp_core --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from benchmarks._report import Figure, add_json_argument, write_figures
from mta.config import parse_config_text
from mta.config.values import Address
from mta.smtp_server.listener import SmtpListener
from mta.submit import Submission

_CONFIG = """
host-name mta.bench.test
smtp-listener 127.0.0.1:0
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
"""

_MESSAGE = (
    b"From: a@example.test\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n"
    + (b"x" * 76 + b"\r\n") * 120
)  # about 10 KB


def core_rate(messages: int) -> dict[str, float]:
    """Commands/s and messages/s through the sans-IO core, bytes in only."""
    from mta.smtp_server.protocol import Answer, DataCommand, Hello, ServerCore

    one = (
        b"MAIL FROM:<app@example.test> SIZE=10000\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
        + _MESSAGE
        + b".\r\nRSET\r\n"
    )
    wire = b"EHLO client.test\r\n" + one * messages
    chunks = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]
    core = ServerCore(data_size_limit=1 << 20)
    events = 0
    started = time.perf_counter()
    for chunk in chunks:
        core.receive_data(chunk)
        while (event := core.next_event()) is not None:
            events += 1
            if isinstance(event, DataCommand):
                core.send("354 go on")
            elif isinstance(event, Answer):
                core.send(event.reply)
            elif isinstance(event, Hello):
                core.send(["250-mta.bench.test", "250 PIPELINING"])
            else:
                core.send("250 OK")
    seconds = time.perf_counter() - started
    commands = 1 + 5 * messages  # EHLO; MAIL, RCPT, DATA, end of data, RSET
    assert events == commands, (events, commands)
    return {"core_commands": commands / seconds, "core_messages": messages / seconds}


class _NullSubmitter:
    """Takes every message and keeps nothing (the listener's own cost only)."""

    def __init__(self) -> None:
        self.count = 0

    async def submit(self, submission: Submission) -> list[str]:
        """Count it; return a fake id."""
        self.count += 1
        return [f"ID{self.count}"]


async def _client(port: int, messages: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if line[3:4] != b"-":
                return line

    await reply()
    writer.write(b"EHLO client.test\r\n")
    await reply()
    for _ in range(messages):
        for command in (b"MAIL FROM:<app@example.test>\r\n", b"RCPT TO:<bob@example.net>\r\n"):
            writer.write(command)
            assert (await reply())[:1] == b"2"
        writer.write(b"DATA\r\n")
        assert (await reply())[:3] == b"354"
        writer.write(_MESSAGE + b".\r\n")
        assert (await reply())[:3] == b"250"
    writer.write(b"QUIT\r\n")
    await reply()
    writer.close()


async def listener_rate(messages: int, connections: int) -> dict[str, float]:
    """Messages/s through the real listener, no spool."""
    config = parse_config_text(_CONFIG)
    listener_cfg = replace(config.listeners[0], address=Address("127.0.0.1", 0))
    submitter = _NullSubmitter()
    with tempfile.TemporaryDirectory() as tmp:
        listener = SmtpListener(lambda: config, listener_cfg, submitter, base=Path(tmp))
        await listener.start()
        try:
            per = messages // connections
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(_client(listener.port, per) for _ in range(connections)))
            seconds, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            await listener.stop()
    done = per * connections
    assert submitter.count == done
    return {"listener_messages": done / seconds, "listener_cpu_ms": 1000 * cpu_s / done}


def main(argv: Sequence[str] | None = None) -> int:
    """Run both and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.smtp_core", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000, help="messages per phase")
    parser.add_argument("--connections", type=int, default=20, help="listener connections")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    try:
        r = core_rate(args.messages)
    except ImportError:  # a build without the sans-IO core: only the listener figure
        r = {}
    r |= asyncio.run(listener_rate(args.messages, args.connections))
    print(f"{args.messages} messages of {len(_MESSAGE)} bytes")
    if "core_commands" in r:
        print(f"core alone (bytes in):   {r['core_commands']:>12,.0f} commands/s")
        print(f"                         {r['core_messages']:>12,.0f} messages/s")
    print(f"listener (no spool):     {r['listener_messages']:>12,.0f} messages/s"
          f"  {r['listener_cpu_ms']:.3f} CPU ms/message (client included)")  # fmt: skip
    figures = [
        Figure("listener, no spool", r["listener_messages"], "msg/s"),
    ]
    if "core_commands" in r:
        figures[:0] = [
            Figure("SMTP core, bytes in", r["core_commands"], "commands/s"),
            Figure("SMTP core, bytes in", r["core_messages"], "msg/s"),
        ]
    write_figures(parser, argv, args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
