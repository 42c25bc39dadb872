"""The steps :mod:`benchmarks.suppression_scale` runs on one backend, each beside its ceiling.

A :class:`Scale` is one backend's store (already migrated); each step adds
:class:`~benchmarks._report.Figure` rows and checks what it did (rows in the
table, the kept count, the import reports, every lookup's answer): a wrong
result is recorded in ``problems``, never silently measured.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Final

from sqlalchemy import text

from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore
from benchmarks._report import Figure, Target
from benchmarks._scale_data import AddressFile, address
from benchmarks._scale_http import (
    LookupLoad,
    LookupResult,
    bulk_import,
    create_key,
    export_api,
    feed_http,
    serve,
)
from benchmarks._scale_proc import Run, acctpipe, database_dump, pg_copy, run, sqlite_executemany

__all__ = ["Scale", "load_in_child", "say"]

IMPORT_TARGET: Final = 100_000.0  # addresses/s (issue 18, target 1)
IMPORT_RATIO: Final = 0.2  # of the database's bulk ceiling
EXPORT_TARGET: Final = 200_000.0  # rows/s (target 2)
FEED_TARGET: Final = 100_000.0  # changes/s (target 4)
P99_TARGET_MS: Final = 50.0
SET_BYTES_TARGET: Final = 16.0  # bytes per address (target 3)
CHECKS_TARGET: Final = 500_000.0
SET_LOAD_RATE: Final = 50e6 / 60  # 50M in 60 s, as entries/s
_REPORT: Final = re.compile(r"(\d+) (rows|added|updated|unchanged|skipped|bad)\b")


def say(message: str) -> None:
    """Print a progress line now (the run is long; the table comes at the end)."""
    print(message, flush=True)


def _report(stdout: str) -> dict[str, int]:
    """The counts ``acctpipe suppress import`` printed (rows, added, updated, …)."""
    return {word: int(n) for n, word in _REPORT.findall(stdout)}


def _rows(url: str) -> tuple[int, int]:
    """Rows in the table (counted) and the store's kept count."""
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            counted = int(conn.execute(text("SELECT count(*) FROM suppressions")).scalar_one())
        return counted, SuppressionStore(engine).count()
    finally:
        engine.dispose()


def _feed_in_process(url: str) -> tuple[int, float]:
    """``changes_since`` pages of 10,000 from cursor 0 to the end: changes, seconds."""
    engine = open_database(url)
    try:
        store = SuppressionStore(engine)
        changes, cursor = 0, 0
        started = time.perf_counter()
        while page := store.changes_since(cursor, 10_000):
            changes += len(page)
            cursor = page[-1].cursor
        return changes, time.perf_counter() - started
    finally:
        engine.dispose()


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _latency(name: str, r: LookupResult) -> str:
    worst = max(r.latencies_ms, default=float("nan"))
    return (
        f"  lookups {name}: {len(r.latencies_ms):,} at {r.rate:,.0f}/s, p50 "
        f"{r.percentile(50):.1f} ms, p99 {r.percentile(99):.1f} ms, max {worst:.0f} ms, "
        f"timed out {r.timeouts}, errors {r.errors}, wrong {r.wrong}"
    )


class Scale:
    """One backend's run over the migrated store at ``url``, scratch files in ``tmp``."""

    def __init__(self, backend: str, url: str, tmp: Path, lookup_rate: float, idle: float):
        self.backend, self.url, self.tmp = backend, url, tmp
        self.lookup_rate, self.idle = lookup_rate, idle
        self.figures: list[Figure] = []
        self.problems: list[str] = []
        pg = backend == "postgresql"
        self.ceiling_name = "psql \\copy, bare table" if pg else "executemany, PRIMARY KEY"
        self.dump_name = "psql \\copy (SELECT …) TO" if pg else "sqlite3 SELECT → csv"

    def figure(
        self,
        name: str,
        value: float,
        unit: str,
        ceiling: tuple[str, float] | None = None,
        target: Target | None = None,
    ) -> None:
        """Add a figure, named after this backend."""
        c_name, c_value = ceiling if ceiling else (None, None)
        self.figures.append(Figure(f"{self.backend}: {name}", value, unit, c_name, c_value, target))

    def expect(self, ok: bool, message: str) -> None:
        """Record ``message`` as a wrong result unless ``ok``."""
        if not ok:
            self.problems.append(f"{self.backend}: {message}")
            say(f"  WRONG: {message}")

    def _ceiling(self, file: AddressFile) -> Run:
        if self.backend == "postgresql":
            return pg_copy(self.url, file.path)
        return sqlite_executemany(file.path, self.tmp / "ceiling.sqlite")

    def _import(self, file: AddressFile) -> tuple[Run, dict[str, int]]:
        done = run(acctpipe("suppress", "import", str(file.path), "--database-url", self.url))
        return done, _report(done.stdout)

    def imports(self, main: AddressFile) -> None:
        """The ceiling, our import, the ceiling again (the faster counts), the re-import."""
        n = main.lines
        before = self._ceiling(main)
        say(f"  ceiling (before): {before.seconds:.2f} s, {n / before.seconds:,.0f}/s")
        ours, report = self._import(main)
        say(f"  import: {ours.seconds:.2f} s, {n / ours.seconds:,.0f}/s, RSS {ours.rss_mb:.0f} MB")
        say(f"    {report}")
        after = self._ceiling(main)
        say(f"  ceiling (after): {after.seconds:.2f} s, {n / after.seconds:,.0f}/s")
        ceiling = (self.ceiling_name, n / min(before.seconds, after.seconds))
        self.expect(report.get("added") == main.distinct, f"import: expected {main.distinct} added")
        self.expect(report.get("bad") == main.invalid, f"import: expected {main.invalid} bad")
        counted, kept = _rows(self.url)
        self.expect(
            counted == kept == main.distinct,
            f"import: {counted} rows, kept count {kept}, expected {main.distinct}",
        )
        ratio = Target(">=", IMPORT_RATIO, of="ratio")
        rate = n / ours.seconds
        self.figure("import (CLI, end to end) beside its ceiling", rate, "addr/s", ceiling, ratio)
        self.figure("import (CLI, end to end)", rate, "addr/s", target=Target(">=", IMPORT_TARGET))
        peak = (self.ceiling_name, max(before.rss_mb, after.rss_mb))
        self.figure("import peak RSS", ours.rss_mb, "MB", peak)
        again, report = self._import(main)
        changed = report.get("added", -1) + report.get("updated", -1)
        say(f"  re-import: {again.seconds:.2f} s, {n / again.seconds:,.0f}/s: {report}")
        target = Target(">=", IMPORT_TARGET)
        self.figure("re-import (all unchanged)", n / again.seconds, "addr/s", ceiling, target)
        self.figure("re-import: rows added or updated", changed, "rows", target=Target("<=", 0))

    def api(self, main: AddressFile, bulk: AddressFile, during: AddressFile) -> None:
        """The bulk import, lookups alone and during an import, export and feed, over HTTP."""
        key = create_key(self.url)
        with serve(self.url, self.tmp / "serve.log") as base:
            seconds, result = bulk_import(base, key, bulk.path)
            rate = bulk.lines / seconds
            say(f"  bulk API: {seconds:.2f} s, {rate:,.0f}/s: {result.get('added')} added")
            self.expect(result.get("added") == bulk.distinct, f"bulk: expected {bulk.distinct}")
            target = Target(">=", IMPORT_TARGET)
            self.figure("bulk API import (streamed body)", rate, "addr/s", target=target)
            self._lookups(base, key, main, during)
            self._export(base, key)
            self._feed(base, key)

    def _lookups(self, base: str, key: str, main: AddressFile, during: AddressFile) -> None:
        step = max(1, main.distinct // 5000)
        hits = [address(i, main.prefix) for i in range(0, main.distinct, step)]
        misses = [address(i, "never.") for i in range(5000)]
        rate = self.lookup_rate
        with LookupLoad(base, key, hits, misses, rate=rate):
            time.sleep(2.0)  # warm up: connections, the server's first requests
        with LookupLoad(base, key, hits, misses, rate=rate) as idle:
            time.sleep(self.idle)
        with LookupLoad(base, key, hits, misses, rate=rate) as busy:
            imported, report = self._import(during)
        for name, r in (("alone", idle.result), ("during import", busy.result)):
            say(_latency(name, r))
            wrong = f"lookups {name}: {r.errors} errors, {r.wrong} wrong answers"
            self.expect(r.errors == r.wrong == 0, wrong)
        n = during.lines
        say(f"  import while lookups run: {imported.seconds:.2f} s, {n / imported.seconds:,.0f}/s")
        self.expect(report.get("added") == during.distinct, f"import during lookups: {report}")
        alone = ("p99 with no import", idle.result.percentile(99))
        p99 = busy.result.percentile(99)
        name = f"lookup p99 at {rate:g}/s during an import of {n:,}"
        self.figure(name, p99, "ms", alone, Target("<", P99_TARGET_MS))

    def _export(self, base: str, key: str) -> None:
        counted, _ = _rows(self.url)
        out = self.tmp / "export.csv"
        dump = database_dump(self.backend, self.url, self.tmp / "dump.csv")
        ours = run(acctpipe("suppress", "export", "-o", str(out), "--database-url", self.url))
        rows = _lines(out) - 1
        out.unlink()
        say(
            f"  export CLI: {rows:,} rows in {ours.seconds:.2f} s, RSS {ours.rss_mb:.0f} MB; "
            f"database dump {dump.seconds:.2f} s, RSS {dump.rss_mb:.0f} MB"
        )
        self.expect(rows == counted, f"export wrote {rows} rows, the table holds {counted}")
        ceiling = (self.dump_name, counted / dump.seconds)
        target = Target(">=", EXPORT_TARGET)
        self.figure("export (CLI, end to end)", rows / ours.seconds, "rows/s", ceiling, target)
        self.figure("export peak RSS", ours.rss_mb, "MB", (self.dump_name, dump.rss_mb))
        api_rows, seconds = export_api(base, key)
        say(f"  export API: {api_rows:,} rows in {seconds:.2f} s")
        self.expect(api_rows == counted, f"export.csv gave {api_rows} rows, the table {counted}")
        name = "export (API export.csv, streamed)"
        self.figure(name, api_rows / seconds, "rows/s", ceiling, target)

    def _feed(self, base: str, key: str) -> None:
        changes, seconds = _feed_in_process(self.url)
        inproc = changes / seconds
        say(f"  feed in process: {changes:,} changes in {seconds:.2f} s, {inproc:,.0f}/s")
        target = Target(">=", FEED_TARGET)
        self.figure("change feed catch-up, in process", inproc, "changes/s", target=target)
        over_http, seconds = feed_http(base, key)
        say(f"  feed over HTTP: {over_http:,} changes in {seconds:.2f} s")
        self.expect(over_http == changes, f"feed over HTTP gave {over_http}, in process {changes}")
        ceiling = ("in process", inproc)
        name = "change feed catch-up, HTTP"
        self.figure(name, over_http / seconds, "changes/s", ceiling, target)

    def node_set(self, main: AddressFile) -> None:
        """A node's set loaded from this store in a fresh process: time, memory, checks."""
        got = load_in_child(self.url, main.distinct, main.prefix)
        counted, _ = _rows(self.url)
        self.expect(got["wrong"] == 0, f"the set gave {got['wrong']} wrong answers")
        self.expect(got["entries"] == counted, f"set holds {got['entries']}, table {counted}")
        n = int(got["entries"])
        rate = Target(">=", SET_LOAD_RATE, note="50M in 60 s")
        name = f"set load from the store ({n:,})"
        self.figure(name, n / got["seconds"], "entries/s", target=rate)
        memory = Target("<=", SET_BYTES_TARGET)
        self.figure("set memory per address (RSS held)", got["bytes_per_entry"], "B", target=memory)
        checks = Target(">=", CHECKS_TARGET)
        name = "set full checks (normalise, 2 scopes)"
        self.figure(name, got["checks_per_s"], "checks/s", target=checks)


def load_in_child(url: str, hits: int, prefix: str) -> dict[str, float]:
    """``python -m benchmarks._scale_set load URL``: its figures (and say them)."""
    argv = [sys.executable, "-m", "benchmarks._scale_set", "load", url]
    done = run([*argv, "--hits", str(hits), "--prefix", prefix])
    got: dict[str, float] = json.loads(done.stdout)
    say(
        f"  set load: {got['entries']:,.0f} entries in {got['seconds']:.2f} s, "
        f"{got['bytes_per_entry']:.1f} B/entry held ({got['nbytes_per_entry']:.1f} B by the set's"
        f" own count), peak +{got['peak_mb']:.0f} MB, "
        f"{got['checks_per_s']:,.0f} checks/s, wrong {got['wrong']:.0f}"
    )
    return got
