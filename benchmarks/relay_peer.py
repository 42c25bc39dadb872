"""Relaying side by side with Postfix: smtp-source → {nothing, Postfix, us, us + DKIM} → smtp-sink.

Postfix (Debian's package) is unpacked into a private prefix and run in a mount
namespace of its own (:mod:`scripts.peer_mta.prefix`, :mod:`scripts.peer_mta.postfix`);
its ``smtp-source`` and ``smtp-sink`` (C, from the same package) are the client
and the receiving end of every phase, so every phase pays the same client and
sink costs. Four phases, in one run, each ``COUNT`` messages of ``SIZE`` bytes
over ``SESSIONS`` parallel sessions (``smtp-source -d``: each session sends its
messages over one connection):

a. **sink**: smtp-source → smtp-sink directly (the ceiling);
b. **postfix**: smtp-source → Postfix (queue on disk as always, relaying to the sink,
   destination concurrency ``SESSIONS``) → smtp-sink;
c. **acctpipe**: smtp-source → ``acctpipe mta`` (fsync before 250, accounting written,
   DKIM off) → smtp-sink;
d. **acctpipe + DKIM**: the same with ``dkim-sign yes`` and an ed25519 ``domain-key``.

A rate is end to end: from starting smtp-source until smtp-sink has received
every message (it runs with ``-M COUNT`` and exits on the last one). For our
MTA the accounting files must then hold a ``d`` row for every message, and the
CPU per message is the MTA's (every process of it, children included) over the
phase. KumoMTA's published figure (2.7M msg/h on 2 CPUs, 100 KB messages) is
printed as a reference, not as a ratio: a different machine and message size.

Needs root (the namespace); loopback only; each phase is bounded by
``--timeout`` seconds and everything it started is stopped at the end.

    .venv/bin/python -m benchmarks.relay_peer --count 20000
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks._report import Figure, Target, add_json_argument, write_figures
from benchmarks._sink import free_port, wait_port
from mta.delivery.signing import generate_key
from scripts.peer_mta import postfix
from scripts.peer_mta.prefix import Namespace, PrefixError

SENDER = "bench@sender.bench.test"
RCPT = "rcpt@example.net"
KUMO_RATE = 2_700_000 / 3600  # KumoMTA's published 2.7M msg/h on 2 CPUs, 100 KB messages

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
myhostname = postfix.bench.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{sink}
default_destination_concurrency_limit = {sessions}
smtp_destination_concurrency_limit = {sessions}
default_process_limit = 100
smtp_tls_security_level = none
smtpd_tls_security_level = none
"""

_MTA_CONFIG = """\
host-name mta.bench.test
smtp-listener 127.0.0.1:{port}
{workers}
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
<acct-file acct.csv>
    records d,b,t,tq
</acct-file>
domain-key bench,sender.bench.test,{key}
<domain *>
    route 127.0.0.1:{sink}
    max-smtp-out {sessions}
    use-starttls no
    dkim-sign {dkim}
</domain>
"""


@dataclass(frozen=True)
class Phase:
    """What one phase measured."""

    name: str
    seconds: float
    cpu_seconds: float | None = None  # the MTA's, children included (ours only)

    def rate(self, count: int) -> float:
        """Messages per second, end to end."""
        return count / self.seconds


def _stop(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Sink:
    """smtp-sink with ``-c``: its counter line (``... mesg=N``) is read as it goes."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.received = 0
        self.done_at: float | None = None
        self.target = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        tail = b""
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            tail = (tail + chunk)[-64:]
            at = tail.rfind(b"mesg=")
            if at < 0:
                continue
            digits = tail[at + 5 :].split(b"\r", 1)[0]
            if digits.isdigit():
                self.received = int(digits)
                if self.target and self.done_at is None and self.received >= self.target:
                    self.done_at = time.perf_counter()

    def expect(self, count: int) -> None:
        """Time the moment the counter reaches ``count`` (from now on)."""
        self.target = self.received + count
        self.done_at = None


@contextlib.contextmanager
def _sink(ns: Namespace, port: int) -> Iterator[_Sink]:
    """smtp-sink on ``port``, counting what it receives."""
    proc = ns.popen(
        ["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{port}", "1024"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, proc=proc)
        yield _Sink(proc)
    finally:
        _stop(proc, grace=2.0)
        if proc.stdout is not None:
            proc.stdout.close()


def _source(ns: Namespace, port: int, count: int, sessions: int, size: int) -> list[str]:
    return [
        "smtp-source", "-d", "-s", str(sessions), "-m", str(count), "-l", str(size),
        "-M", "client.bench.test", "-f", SENDER, "-t", RCPT, f"127.0.0.1:{port}",
    ]  # fmt: skip


def _relay(ns: Namespace, *, target: int, sink: _Sink, args: argparse.Namespace) -> float:
    """Run smtp-source to ``target``; seconds until ``sink`` has received every message."""
    sink.expect(args.count)
    started = time.perf_counter()
    source = ns.popen(
        _source(ns, target, args.count, args.sessions, args.size),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while sink.done_at is None:
            if source.poll() not in (None, 0):
                err = source.stderr.read().decode().strip() if source.stderr else ""
                raise RuntimeError(f"smtp-source exited {source.returncode}: {err}")
            if time.perf_counter() - started > args.timeout:
                raise RuntimeError(
                    f"the sink received {sink.received} of {args.count} messages "
                    f"in {args.timeout:.0f} s"
                )
            time.sleep(0.01)
        source.wait(timeout=30)
    finally:
        _stop(source, grace=2.0)
        if source.stderr is not None:
            source.stderr.close()
    if source.returncode != 0:
        raise RuntimeError(f"smtp-source exited {source.returncode}")
    return sink.done_at - started


def _direct(ns: Namespace, args: argparse.Namespace) -> Phase:
    port = free_port()
    with _sink(ns, port) as sink:
        return Phase("sink", _relay(ns, target=port, sink=sink, args=args))


def _postfix(ns: Namespace, args: argparse.Namespace) -> Phase:
    sink_port, port = free_port(), free_port()
    main_cf = POSTFIX_MAIN_CF.format(sink=sink_port, sessions=args.sessions)
    with _sink(ns, sink_port) as sink:
        postfix.start(ns, main_cf=main_cf, listen=f"127.0.0.1:{port}")
        try:
            wait_port(port)
            return Phase("postfix", _relay(ns, target=port, sink=sink, args=args))
        finally:
            postfix.stop(ns)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every descendant (live ones, and reaped ones via cutime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17 (1-based; index 11-14 after the name)
        total += sum(int(x) for x in fields[11:15])
    return total / tick


def _delivered_rows(data_dir: Path) -> int:
    rows = 0
    for path in data_dir.glob("**/acct*.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            rows += sum(1 for row in csv.DictReader(f) if row.get("type") == "d")
    return rows


def _ours(ns: Namespace, args: argparse.Namespace, *, dkim: bool, workdir: Path) -> Phase:
    name = "acctpipe + dkim" if dkim else "acctpipe"
    data_dir = workdir / ("dkim" if dkim else "plain")
    data_dir.mkdir()
    key = workdir / "bench.pem"
    if not key.exists():
        key.write_bytes(generate_key("bench", "sender.bench.test", "ed25519-sha256")[0])
    sink_port, port = free_port(), free_port()
    config = data_dir / "mta.conf"
    workers = f"smtp-workers {args.workers}" if args.workers is not None else ""
    config.write_text(_MTA_CONFIG.format(
        port=port, sink=sink_port, sessions=args.sessions, key=key,
        dkim="yes" if dkim else "no", workers=workers,
    ))  # fmt: skip
    with _sink(ns, sink_port) as sink:
        mta = subprocess.Popen(
            [sys.executable, "-m", "acctpipe.cli", "mta", "--config", str(config),
             "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_port(port, proc=mta)
            time.sleep(0.5)  # every worker listening
            before = _cpu(mta.pid)
            seconds = _relay(ns, target=port, sink=sink, args=args)
            cpu = _cpu(mta.pid) - before
            deadline = time.monotonic() + 10
            rows = 0
            while time.monotonic() < deadline:
                rows = _delivered_rows(data_dir)
                if rows >= args.count:
                    break
                time.sleep(0.2)
        finally:
            _stop(mta)
    if mta.returncode not in (0, -signal.SIGTERM):
        err = mta.stderr.read().decode() if mta.stderr else ""
        raise RuntimeError(f"the MTA exited {mta.returncode}: {err.strip()[-500:]}")
    if rows != args.count:
        raise RuntimeError(f"{name}: {rows} 'd' rows in the accounting files, not {args.count}")
    return Phase(name, seconds, cpu)


def run(args: argparse.Namespace) -> dict[str, Phase]:
    """Run the four phases in one namespace; return them by name."""
    phases: dict[str, Phase] = {}
    with (
        Namespace(postfix.prefix()) as ns,
        tempfile.TemporaryDirectory(prefix="acctpipe-bench-relay-", dir=Path.cwd()) as tmp,
    ):
        ns.ensure_user("postfix", home="/var/spool/postfix")
        for only in args.phases:
            if only == "sink":
                phases[only] = _direct(ns, args)
            elif only == "postfix":
                phases[only] = _postfix(ns, args)
            else:
                phases[only] = _ours(ns, args, dkim=only == "dkim", workdir=Path(tmp))
    return phases


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay_peer", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="messages per phase")
    parser.add_argument("--sessions", type=int, default=20, help="smtp-source sessions")
    parser.add_argument("--size", type=int, default=10_240, help="payload bytes per message")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per phase at most")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="smtp-workers for our MTA (default: the config's default)",
    )
    parser.add_argument(
        "--phases",
        nargs="+",
        default=["sink", "postfix", "ours", "dkim"],
        choices=["sink", "postfix", "ours", "dkim"],
        help="which phases to run",
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    try:
        phases = run(args)
    except (PrefixError, RuntimeError) as exc:
        print(f"relay_peer: {exc}", file=sys.stderr)
        return 1
    n = args.count
    print(f"{n} messages of {args.size} bytes, {args.sessions} smtp-source sessions, loopback")
    print(f"{'path':<46}{'msg/s':>10}{'CPU ms/msg':>12}")
    labels = {
        "sink": "smtp-source -> smtp-sink (ceiling)",
        "postfix": "smtp-source -> Postfix -> smtp-sink",
        "ours": "smtp-source -> acctpipe mta -> smtp-sink",
        "dkim": "... with ed25519 DKIM signing",
    }
    for key, phase in phases.items():
        cpu = f"{1000 * phase.cpu_seconds / n:>12.2f}" if phase.cpu_seconds is not None else ""
        print(f"{labels[key]:<46}{phase.rate(n):>10,.0f}{cpu}")
    print(f"{'KumoMTA published (2 CPUs, 100 KB; reference)':<46}{KUMO_RATE:>10,.0f}")
    rate = {key: phase.rate(n) for key, phase in phases.items()}
    figures = []
    if "postfix" in rate and "ours" in rate:
        print(f"acctpipe / Postfix: {rate['ours'] / rate['postfix']:.2f} (target >= 1.0)")
        target = Target(">=", 1.0, of="ratio")
        figures.append(Figure("relay, fsync + accounting", rate["ours"], "msg/s",
                              "Postfix, same sink", rate["postfix"], target))  # fmt: skip
    if "ours" in rate and "dkim" in rate:
        print(f"DKIM / no DKIM: {rate['dkim'] / rate['ours']:.2f} (target >= 0.8)")
        target = Target(">=", 0.8, of="ratio")
        figures.append(Figure("relay with ed25519 DKIM", rate["dkim"], "msg/s",
                              "acctpipe without DKIM", rate["ours"], target))  # fmt: skip
    if "sink" in rate:
        for key in ("postfix", "ours"):
            if key in rate:
                print(f"{key} / smtp-sink ceiling: {rate[key] / rate['sink']:.2f}")
        if "postfix" in rate:
            figures.append(Figure("Postfix relay", rate["postfix"], "msg/s",
                                  "smtp-source -> smtp-sink", rate["sink"]))  # fmt: skip
    for key in ("ours", "dkim"):
        mine = phases.get(key)
        if mine is not None and mine.cpu_seconds is not None:
            figures.append(Figure(f"MTA CPU per message ({key})",
                                  1000 * mine.cpu_seconds / n, "ms/msg"))  # fmt: skip
    write_figures(parser, argv, args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
