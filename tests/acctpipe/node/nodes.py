"""Start ``acctpipe run`` nodes as child processes, the way an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib

NODE_CONFIG = """
host-name {name}.sender.test
smtp-listener {ip}:0
<source 127.0.0.0/8>
    always-allow-relaying yes
</source>
<feedback-loop-processor>
    <address-list>
        address fbl@sender.test
    </address-list>
</feedback-loop-processor>
<acct-file acct/acct.csv>
    records d,b,t,tq,f,rb
</acct-file>
<domain *>
    route 127.0.0.1:{port}
    max-rcpt-per-message 1
    adaptive-throttling yes
</domain>
"""


@dataclass
class RunningNode:
    """One ``acctpipe run`` child: its process, data dir, API URL and SMTP address."""

    name: str
    proc: subprocess.Popen[bytes]
    data: Path
    log: Path
    api: str = ""
    smtp: tuple[str, int] = ("", 0)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait for node.json (written once everything is up); fail with the log."""
        state = self.data / "node.json"
        deadline = time.monotonic() + timeout
        while not state.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        info = json.loads(state.read_text())
        self.api = info["api"]
        self.smtp = (info["smtp"][0]["host"], int(info["smtp"][0]["port"]))

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait (kill after ``timeout``); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return -9


def start_node(
    tmp: Path, name: str, ip: str, sim_port: int, database_url: str, *extra: str
) -> RunningNode:
    """Write a config and start ``acctpipe run`` for node ``name`` listening on ``ip``."""
    data = tmp / name
    data.mkdir(parents=True, exist_ok=True)
    config = tmp / f"{name}.conf"
    config.write_text(NODE_CONFIG.format(name=name, ip=ip, port=sim_port), encoding="utf-8")
    log = tmp / f"{name}.log"
    args = [
        sys.executable, "-m", "acctpipe.cli", "run",
        "--config", str(config), "--data-dir", str(data),
        "--database-url", database_url, "--api-listen", f"{ip}:0", "--node", name, *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "COLUMNS": "200"}
    with log.open("wb") as sink:
        proc = subprocess.Popen(args, env=env, stdout=sink, stderr=sink)
    return RunningNode(name, proc, data, log)


MESSAGE = "From: news@sender.test\r\nTo: {to}\r\nSubject: news\r\n\r\nHello.\r\n"


async def send(smtp: tuple[str, int], *rcpts: str) -> dict[str, int]:
    """Send one message through a node; each refused recipient's reply code."""
    host, port = smtp
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=10) as client:
        try:
            errors, _ = await client.sendmail("news@sender.test", list(rcpts), MESSAGE)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return {r.recipient: r.code for r in exc.recipients}
    return {r: e.code for r, e in errors.items()}
