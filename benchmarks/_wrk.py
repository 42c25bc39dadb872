"""``wrk`` (Debian's package) as a load generator: find or unpack it, run it, read its result.

wrk is C with LuaJIT scripting: one thread keeps many keep-alive connections
busy for a few percent of a core, so an HTTP benchmark on a 2-core machine
measures the server, not the client. It is never assumed present:
:func:`wrk_command` uses ``wrk`` from ``PATH`` when there is one, else unpacks
Debian's package (and the LuaJIT library it needs, when the machine lacks it)
into ``.cache/peer-mta/wrk`` with :func:`scripts.peer_mta.prefix.unpack`
(``apt-get download`` + ``dpkg-deb -x``: nothing is installed, no maintainer
script runs), and runs it with that prefix's libraries. Only if that fails, and
we are root, is ``apt-get install -y wrk`` run.

:func:`lookup_script` and :func:`fixed_script` write the Lua scripts: every
request of the first asks for a different address (half of them suppressed,
half not) and checks each answer; both end with one ``WRK_RESULT key=value ...``
line (requests, duration, latency percentiles in microseconds, errors, answer
counts) that :func:`run_wrk` parses into a :class:`WrkResult`.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["WrkResult", "fixed_script", "lookup_script", "run_wrk", "wrk_command"]

_MARK: Final = "WRK_RESULT "
# The counters each thread keeps; done() sums them over the threads.
_COUNTERS: Final = ("sent_hit", "sent_miss", "said_yes", "said_no", "bad")

_COMMON: Final = """
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local sums = {}
  for _, name in ipairs({%(counters)s}) do
    sums[name] = 0
    for _, t in ipairs(threads) do
      sums[name] = sums[name] + (t:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "%(mark)srequests=%%d duration_us=%%d p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d"
    .. " connect=%%d read=%%d write=%%d status=%%d timeout=%%d"
    .. " sent_hit=%%d sent_miss=%%d said_yes=%%d said_no=%%d bad=%%d\\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout,
    sums.sent_hit, sums.sent_miss, sums.said_yes, sums.said_no, sums.bad))
end
"""

_LOOKUP: Final = """
local suppressed = %(suppressed)d
local domains = {%(domains)s}
sent_hit, sent_miss, said_yes, said_no, bad = 0, 0, 0, 0, 0

function init(args)
  math.randomseed(%(seed)d + 7919 * id)
end

function request()
  local i, prefix
  if math.random() < 0.5 then
    i = math.random(0, suppressed - 1)
    prefix = "s"
    sent_hit = sent_hit + 1
  else
    i = math.random(0, 999999999)
    prefix = "c"
    sent_miss = sent_miss + 1
  end
  local path = string.format(
    "/v1/suppressions/%%s%%d.user%%%%40%%s", prefix, i, domains[i %% #domains + 1])
  return wrk.format(nil, path)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif string.find(body, '"suppressed":true', 1, true) then
    said_yes = said_yes + 1
  elseif string.find(body, '"suppressed":false', 1, true) then
    said_no = said_no + 1
  else
    bad = bad + 1
  end
end
"""

_FIXED: Final = """
sent_hit, sent_miss, said_yes, said_no, bad = 0, 0, 0, 0, 0
local req = nil

function init(args)
  req = wrk.format(nil, "%(path)s")
end

function request()
  return req
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end
"""


def _common() -> str:
    counters = ", ".join(f'"{c}"' for c in _COUNTERS)
    return _COMMON % {"counters": counters, "mark": _MARK}


def lookup_script(path: Path, *, suppressed: int, domains: tuple[str, ...], seed: int) -> Path:
    """Write the lookup script: ``GET /v1/suppressions/{address}``, a new address each time.

    Half the requests ask for ``s<i>.user@<domain>`` with ``i < suppressed``
    (the addresses the store was loaded with, ``domains[i % len]``), half for
    ``c<i>.user@…`` (never suppressed); every answer is checked.
    """
    quoted = ", ".join(f'"{d}"' for d in domains)
    body = _LOOKUP % {"suppressed": suppressed, "domains": quoted, "seed": seed}
    path.write_text(body + _common(), encoding="utf-8")
    return path


def fixed_script(path: Path, url_path: str) -> Path:
    """Write a script asking for ``url_path`` again and again (non-200 answers counted)."""
    path.write_text(_FIXED % {"path": url_path} + _common(), encoding="utf-8")
    return path


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (latencies in milliseconds)."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  # connect + read + write + timeout
    status_errors: int  # answers other than 2xx/3xx
    sent_hit: int
    sent_miss: int
    said_yes: int
    said_no: int
    bad: int  # non-200 or an answer the script could not read
    client_cpu: float  # wrk's CPU time over the wall time (1.0 = one core)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else float("nan")

    def wrong_answers(self, connections: int) -> int:
        """Answers that cannot be right: errors, and more (or far fewer) "suppressed"
        answers than suppressed addresses asked for (up to ``connections`` requests
        are still in flight when wrk stops, so their answers are never counted)."""
        wrong = self.socket_errors + self.status_errors + self.bad
        if self.sent_hit or self.sent_miss:
            wrong += max(0, self.said_yes - self.sent_hit) + max(0, self.said_no - self.sent_miss)
            wrong += max(0, self.sent_hit - self.said_yes - connections)
            wrong += max(0, self.sent_miss - self.said_no - connections)
        return wrong


def parse_result(output: str, client_cpu: float = float("nan")) -> WrkResult:
    """The :class:`WrkResult` in wrk's ``output`` (ValueError if it has none)."""
    for line in output.splitlines():
        if line.startswith(_MARK):
            v = {k: int(x) for k, _, x in (f.partition("=") for f in line[len(_MARK) :].split())}
            return WrkResult(
                requests=v["requests"],
                seconds=v["duration_us"] / 1e6,
                p50_ms=v["p50_us"] / 1000,
                p90_ms=v["p90_us"] / 1000,
                p99_ms=v["p99_us"] / 1000,
                max_ms=v["max_us"] / 1000,
                socket_errors=v["connect"] + v["read"] + v["write"] + v["timeout"],
                status_errors=v["status"],
                sent_hit=v["sent_hit"],
                sent_miss=v["sent_miss"],
                said_yes=v["said_yes"],
                said_no=v["said_no"],
                bad=v["bad"],
                client_cpu=client_cpu,
            )
    raise ValueError(f"no {_MARK.strip()} line in wrk's output:\n{output[-2000:]}")


def _unpacked() -> tuple[list[str], dict[str, str]]:
    from scripts.peer_mta.prefix import unpack

    root = unpack("wrk", ["wrk"]).root
    libs = [str(p) for p in (root / "usr" / "lib").glob("*-linux-gnu") if p.is_dir()]
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, env.get("LD_LIBRARY_PATH", "")]).rstrip(
        os.pathsep
    )
    return [str(root / "usr" / "bin" / "wrk")], env


def wrk_command() -> tuple[list[str], dict[str, str]]:
    """The command that runs wrk here, and its environment (unpacking wrk if needed)."""
    found = shutil.which("wrk")
    if found:
        return [found], dict(os.environ)
    try:
        return _unpacked()
    except Exception as unpack_error:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise RuntimeError(
                f"wrk is not installed and could not be unpacked: {unpack_error}"
            ) from unpack_error
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(step, env=env, check=True, capture_output=True)
    return [shutil.which("wrk") or "/usr/bin/wrk"], dict(os.environ)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    headers: tuple[str, ...] = (),
    timeout: float = 10.0,
) -> WrkResult:
    """Run wrk against ``url`` with ``script`` and return what it measured."""
    command, env = wrk_command()
    argv = [
        *command,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={max(1, round(timeout))}s",
        f"--script={script}",
    ]
    for header in headers:
        argv += ["--header", header]
    argv.append(url)
    before = _children_cpu()
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    cpu = _children_cpu() - before
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip()[-500:]}")
    result = parse_result(done.stdout)
    return WrkResult(**{**result.__dict__, "client_cpu": cpu / result.seconds})
