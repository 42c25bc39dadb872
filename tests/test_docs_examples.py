"""The examples in README.md and docs/*.md run, and print what they show.

Conventions (docs/README say so too), so an example cannot drift from behaviour:

* A fenced block with the info string ``console`` is a shell session: each line
  that starts with ``$ `` is run with bash in a fresh directory per document
  (``acctpipe`` is this checkout's CLI; ``TZ=UTC``, 100 columns, no colour), and
  the lines up to the next ``$ `` are its output, stdout and stderr merged.
  ``...`` (or ``…``) stands for any text within a line; a line that is only
  ``...`` stands for any number of lines.
* A fenced block whose info string carries ``file=NAME`` (```` ```text file=hot.conf ````)
  is written to ``NAME`` in that directory before the sessions after it run.
* A ``python`` block that starts with ``>>>`` is a doctest (ellipsis allowed).
* A console block that cannot run here (a live server, the network) is preceded by
  ``<!-- docs-test: skip REASON -->``; the reason is required.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests._paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\b(?P<reason>.*?)-->\s*$")
_ANY_LINES = ("...", "…")


@dataclass
class Block:
    """One fenced block: where it starts (1-based line of its text), its info and text."""

    line: int
    lang: str
    attrs: dict[str, str]
    text: str
    skip: str | None = None  # the reason given, when marked to be skipped


@dataclass
class Failure:
    """A command whose output differs from the one shown."""

    where: str
    command: str
    expected: str
    actual: str

    def __str__(self) -> str:
        shown, printed = f"--- shown\n{self.expected}", f"--- printed\n{self.actual}"
        return f"{self.where}: $ {self.command}\n{shown}\n{printed}"


@dataclass
class Session:
    """Runs one document's examples in its own directory."""

    directory: Path
    failures: list[Failure] = field(default_factory=list)
    globs: dict[str, object] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment commands see: this checkout's CLI first on PATH, nothing of ours."""
        kept = {k: v for k, v in os.environ.items() if not k.startswith("ACCTPIPE_")}
        path = f"{Path(sys.executable).parent}{os.pathsep}{kept.get('PATH', '')}"
        fixed = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "TZ": "UTC"}
        home = str(self.directory)
        return {**kept, **fixed, "PATH": path, "HOME": home, "PYTHONUNBUFFERED": "1"}

    def run(self, name: str, block: Block) -> None:
        """Write, run or check ``block``."""
        if "file" in block.attrs:
            (self.directory / block.attrs["file"]).write_text(block.text, encoding="utf-8")
        elif block.lang == "console" and block.skip is None:
            for offset, command, expected in commands(block.text):
                self.check(f"{name}:{block.line + offset}", command, expected)
        elif block.lang in ("python", "pycon") and block.text.lstrip().startswith(">>>"):
            self.doctest(name, block)

    def check(self, where: str, command: str, expected: list[str]) -> None:
        """Run one command line; record a failure unless its output matches ``expected``."""
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=self.directory,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=60,
        )
        actual = [line.rstrip() for line in proc.stdout.decode("utf-8", "replace").splitlines()]
        while actual and not actual[-1]:
            actual.pop()
        if not matches(expected, actual):
            self.failures.append(Failure(where, command, "\n".join(expected), "\n".join(actual)))

    def doctest(self, name: str, block: Block) -> None:
        """Run a ``>>>`` block in the document's namespace (blocks share names, in order)."""
        parser, flags = doctest.DocTestParser(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        test = parser.get_doctest(block.text, self.globs, name, name, block.line - 1)
        runner = doctest.DocTestRunner(optionflags=flags)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        if runner.failures:
            self.failures.append(Failure(f"{name}:{block.line}", "(doctest)", "", "".join(report)))


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with the skip marker before each, if any."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        fence, info = opened["fence"], opened["info"].split()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), len(lines))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = _SKIP.match(before.strip())
        attrs = dict(word.split("=", 1) for word in info[1:] if "=" in word)
        body = "".join(f"{line}\n" for line in lines[i + 1 : end])
        lang = info[0] if info else ""
        skip = marker["reason"].strip() if marker else None
        found.append(Block(i + 2, lang, attrs, body, skip))
        i = end + 1
    return found


def commands(text: str) -> list[tuple[int, str, list[str]]]:
    """(line offset, command, expected output lines) of each ``$ `` line of a session."""
    out: list[tuple[int, str, list[str]]] = []
    for offset, line in enumerate(text.splitlines()):
        if line.startswith("$ "):
            out.append((offset, line[2:], []))
        elif out:
            out[-1][2].append(line.rstrip())
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``expected`` with its ``...`` placeholders filled in."""
    parts = []
    for line in expected:
        if line.strip() in _ANY_LINES:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = re.split(r"\.\.\.|…", line)
            parts.append("[^\n]*?".join(re.escape(p) for p in pieces) + r"\n")
    text = "".join(f"{line}\n" for line in actual)
    return re.fullmatch("".join(parts), text) is not None


def _documents_with_examples() -> list[Path]:
    return [
        path
        for path in DOCS
        if any(
            b.skip is None and (b.lang == "console" or "file" in b.attrs or ">>>" in b.text)
            for b in blocks(path.read_text(encoding="utf-8"))
        )
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", _documents_with_examples(), ids=lambda p: p.name)
def test_the_documented_examples_print_what_they_show(path: Path, tmp_path: Path) -> None:
    """Every command shown in a doc, run as a reader would, prints the output shown."""
    session = Session(tmp_path)
    name = str(path.relative_to(ROOT))
    for block in blocks(path.read_text(encoding="utf-8")):
        session.run(name, block)
    assert not session.failures, "\n\n".join(str(f) for f in session.failures)


def test_every_untested_console_block_says_why() -> None:
    """A console block is skipped only with a reason a reader can see in the source."""
    unexplained = [
        f"{path.relative_to(ROOT)}:{block.line}"
        for path in DOCS
        for block in blocks(path.read_text(encoding="utf-8"))
        if block.skip == ""
    ]
    assert unexplained == []


def test_the_runner_catches_a_drifted_example(tmp_path: Path) -> None:
    """An example whose output changed fails; ``...`` covers only what it stands for."""
    doc = (
        "```text file=greeting.txt\nhello\nworld\n```\n\n"
        "```console\n$ cat greeting.txt\nhello\nworld\n$ cat greeting.txt\nhe...\n...\n"
        "$ echo 'exit 3'\nexit 4\n```\n"
    )
    session = Session(tmp_path)
    for block in blocks(doc):
        session.run("doc.md", block)
    assert [(f.where, f.command) for f in session.failures] == [("doc.md:13", "echo 'exit 3'")]
    assert not matches(["he..."], ["hello", "world"])
    assert matches(["...", "world"], ["hello", "world"])
