"""Load a configuration: files and ``include`` (the only I/O), then the pure passes.

``parse_config_text`` is the sans-IO entry point (tests and fuzzing use it);
``load_config`` reads from disk. Both return a :class:`Config` or raise
:class:`~mta.errors.InvalidConfigError` carrying *every* error found, each located as
``path:line: <section>: message``. Nothing else escapes: a fuzz test holds us to it.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from classifiers import parse_rules
from mta.config._build import build_config
from mta.config._lexer import NAME, Directive, Statement, Where, error_at, lex
from mta.config._parsers import unquote
from mta.config._tree import build_tree
from mta.config.model import Config, RuleFile
from mta.errors import BadFormatError, ConfigError, InvalidConfigError

__all__ = [
    "MAX_ERRORS",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "load_config",
    "parse_config_text",
    "read_regular_file",
]

Reader = Callable[[str], str]
_MAX_INCLUDE_DEPTH = 16
MAX_FILE_BYTES = 1 << 20
"""The largest configuration file (the main file, an include or a rule file) we read."""
MAX_TOTAL_BYTES = 8 << 20
"""The most configuration text one load reads, every include counted."""
_MAX_GLOB_FILES = 256
MAX_ERRORS = 100
"""The most errors one load lists; the rest are counted in one last line."""
_MAX_JUNK_LINES = 20  # lines that cannot be directives before a file is judged no config
_LONGEST_NAME = 48  # as in _tree: longer than any directive name
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def read_regular_file(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (else ValueError).

    Opened without blocking and checked with ``fstat`` on what is open, so a FIFO,
    a device (``/dev/zero``), a directory or a huge file is refused before a byte is
    read, and a file swapped after a check cannot slip past it. Every file the
    configuration names (includes, rule files, DKIM keys) is read this way.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadFormatError("not a regular file")
        too_big = f"larger than {_size_text(limit)}"
        if info.st_size > limit:
            raise BadFormatError(too_big)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew after fstat
                raise BadFormatError(too_big)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n >> 10} KiB"


def _read_file(path: str) -> str:
    """Read a configuration file: a regular file of at most ``MAX_FILE_BYTES`` of UTF-8 text."""
    data = read_regular_file(path)
    if b"\0" in data:
        raise BadFormatError("not a text file (it holds NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFormatError(f"not UTF-8 text (byte {exc.start})") from exc


def _reason(exc: OSError | ValueError) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _shown(name: str) -> str:
    """A file name or pattern for an error message: escaped and cut short."""
    return repr(name if len(name) <= 120 else name[:120] + "…")


class _Budget:
    """What is left of ``MAX_TOTAL_BYTES`` for the rest of one load."""

    def __init__(self) -> None:
        self.left = MAX_TOTAL_BYTES


def _expand(
    text: str,
    path: str,
    reader: Reader | None,
    stack: tuple[str, ...],
    errors: list[ConfigError],
    budget: _Budget | None = None,
) -> tuple[list[Statement], list[str]]:
    budget = budget or _Budget()
    budget.left -= len(text)
    statements, lex_errors = lex(text, path)
    junk = [e.line or 0 for e in lex_errors] + [
        st.where.line
        for st in statements
        if isinstance(st, Directive)
        and (len(st.name) > _LONGEST_NAME or not NAME.fullmatch(st.name))
    ]
    if len(junk) > _MAX_JUNK_LINES:
        # One error for the file, not one per line: an include of a log or a binary
        # blob would list (and a reload would log) every line, and cost seconds.
        msg = (
            f"this does not look like a configuration file: {len(junk)} lines"
            " are not directives; none of it is used"
        )
        errors.append(error_at(Where(path, min(junk)), msg))
        return [], [path]
    errors.extend(lex_errors)
    out: list[Statement] = []
    files = [path]
    for st in statements:
        if not (isinstance(st, Directive) and st.name == "include"):
            out.append(st)
            continue
        sub_statements, sub_files = _include(st, path, reader, stack, errors, budget)
        out.extend(sub_statements)
        files.extend(sub_files)
    return out, files


def _include(
    st: Directive,
    path: str,
    reader: Reader | None,
    stack: tuple[str, ...],
    errors: list[ConfigError],
    budget: _Budget,
) -> tuple[list[Statement], list[str]]:
    target = unquote(st.value)
    if not target:
        errors.append(error_at(st.where, "include needs a file name"))
        return [], []
    if reader is None:
        errors.append(error_at(st.where, "include is not available when parsing text alone"))
        return [], []
    base = Path(path).parent
    pattern = str(base / target) if not Path(target).is_absolute() else target
    if any(ch in target for ch in "*?["):
        matches = sorted(glob.glob(pattern))  # noqa: PTH207 - patterns may be absolute
        if not matches:
            errors.append(error_at(st.where, f"include {_shown(target)} matches no file"))
        if len(matches) > _MAX_GLOB_FILES:
            errors.append(
                error_at(
                    st.where,
                    f"include {_shown(target)} matches {len(matches)} files "
                    f"(at most {_MAX_GLOB_FILES})",
                )
            )
            return [], []
    else:
        matches = [pattern]
    out: list[Statement] = []
    files: list[str] = []
    for match in matches:
        resolved = str(Path(match).resolve())
        if resolved in stack:
            errors.append(error_at(st.where, f"include {_shown(target)} includes itself (loop)"))
            continue
        if len(stack) >= _MAX_INCLUDE_DEPTH:
            errors.append(error_at(st.where, f"includes nested deeper than {_MAX_INCLUDE_DEPTH}"))
            continue
        try:
            text = reader(match)
        except (OSError, ValueError) as exc:
            errors.append(
                error_at(st.where, f"cannot read include {_shown(match)}: {_reason(exc)}")
            )
            continue
        if len(text) > budget.left:
            errors.append(
                error_at(
                    st.where,
                    f"include {_shown(match)}: the configuration and its includes exceed "
                    f"{MAX_TOTAL_BYTES >> 20} MiB",
                )
            )
            return out, files
        sub, sub_files = _expand(text, match, reader, (*stack, resolved), errors, budget)
        out.extend(sub)
        files.extend(sub_files)
    return out, files


def parse_config_text(text: str, path: str = "<config>", *, reader: Reader | None = None) -> Config:
    """Parse configuration ``text`` as if read from ``path``; ``reader`` serves includes."""
    errors: list[ConfigError] = []
    top = str(Path(path).resolve()) if reader is not None else path
    statements, files = _expand(text, path, reader, (top,), errors)
    root, sink = build_tree(statements, Where(path, 1))
    errors.extend(sink.errors)
    config, build_errors, build_warnings = build_config(root, tuple(dict.fromkeys(files)))
    errors.extend(build_errors)
    rule_files = tuple(_read_rule_file(rf, reader, errors) for rf in config.bounce_rule_files)
    if errors:
        errors.sort(key=lambda e: (files.index(e.path) if e.path in files else 0, e.line or 0))
        total = len(errors)
        if total > MAX_ERRORS:
            more = f"{total - MAX_ERRORS} more errors not shown"
            errors[MAX_ERRORS:] = [ConfigError(more, path=path)]
        raise InvalidConfigError(errors, total=total)
    warnings = sorted(
        [*sink.warnings, *build_warnings],
        key=lambda w: (files.index(w.where.path) if w.where.path in files else 0, w.where.line),
    )
    return replace(config, warnings=tuple(warnings), bounce_rule_files=rule_files)


def _read_rule_file(rf: RuleFile, reader: Reader | None, errors: list[ConfigError]) -> RuleFile:
    """Read and validate a ``bounce-rules`` file; problems become located config errors."""
    if reader is None:
        errors.append(error_at(rf.where, "bounce-rules is not available when parsing text alone"))
        return rf
    path = rf.path if Path(rf.path).is_absolute() else str(Path(rf.where.path).parent / rf.path)
    try:
        text = reader(path)
        parse_rules(text, path)
    except (OSError, ValueError) as exc:
        errors.append(error_at(rf.where, f"bounce-rules: {_reason(exc)}"))
        return rf
    return RuleFile(path, text, rf.where)


def load_config(path: str | Path) -> Config:
    """Read and parse the configuration file at ``path`` (and what it includes)."""
    name = str(path)
    try:
        text = _read_file(name)
    except (OSError, ValueError) as exc:
        raise InvalidConfigError(
            [ConfigError(f"cannot read configuration: {_reason(exc)}", path=name)]
        ) from None
    return parse_config_text(text, name, reader=_read_file)
