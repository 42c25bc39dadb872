"""The data of :mod:`benchmarks.suppression_scale`: a plain address list, and the databases.

:func:`write_addresses` streams a one-column CSV (header ``email``) of N lines
to disk, never holding it in memory: line ``i`` is address number ``i`` of
:func:`address` (several domains, about 5% with upper-case letters, 5% with a
``+tag``), except that about 1% of the lines repeat an earlier address (in
another case: the same suppression once normalised) and one line in 20,000 is
not an address at all. It returns what a correct import must find: the
distinct addresses and the invalid lines.

:func:`postgres_database` creates a database of its own at the server (dropped
afterwards, forcibly); :func:`sqlite_url` names a file in a directory.
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg
from psycopg import sql
from sqlalchemy import make_url

__all__ = [
    "ADMIN_URL",
    "DOMAINS",
    "AddressFile",
    "address",
    "postgres_database",
    "sqlite_url",
    "write_addresses",
]

ADMIN_URL: Final = os.environ.get(
    "ACCTPIPE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Weighted like a consumer list: the big mailbox providers first, then companies.
DOMAINS: Final = (
    *("gmail.com",) * 6,
    *("yahoo.com", "outlook.com", "hotmail.com") * 2,
    "icloud.com",
    "gmx.de",
    "web.de",
    "mail.ru",
    "orange.fr",
    "example.org",
    "corp.example.com",
    "shop.example.net",
)
_FIRST: Final = ("anna", "ben", "chloe", "david", "eva", "felix", "grace", "hugo", "ines", "jon")
_LAST: Final = ("smith", "meyer", "rossi", "dubois", "novak", "garcia", "kim", "olsen", "ito")
_TAGS: Final = ("news", "shop", "promo", "2024")
_INVALID: Final = ("not-an-address", "user@", "@example.com", "two words@example.com", "a@@b.c")
_DUPLICATE_EVERY: Final = 100  # ~1% of the lines repeat an earlier address
_INVALID_EVERY: Final = 20_000


def address(i: int, prefix: str = "") -> str:
    """Address number ``i`` (of the list ``prefix`` names), as the file spells it."""
    first, last = _FIRST[i % len(_FIRST)], _LAST[(i // 10) % len(_LAST)]
    local = f"{prefix}{first}.{last}{i}"
    if i % 20 == 7:
        local += f"+{_TAGS[i % len(_TAGS)]}"
    domain = DOMAINS[(i * 7919) % len(DOMAINS)]
    if i % 20 == 3:
        return f"{local.capitalize()}@{domain.capitalize()}"
    return f"{local}@{domain}"


@dataclass(frozen=True)
class AddressFile:
    """A generated list and what its import must give."""

    path: Path
    lines: int  # address lines (the header not counted)
    distinct: int  # suppressions a correct import holds
    invalid: int  # lines that are not addresses
    prefix: str

    @property
    def size_mb(self) -> float:
        """The file's size in MB."""
        return self.path.stat().st_size / 1e6


def write_addresses(path: Path, lines: int, *, seed: int, prefix: str = "") -> AddressFile:
    """Write ``lines`` address lines (plus the header) to ``path``; streamed, 64k lines a write."""
    rng = random.Random(seed)
    distinct = invalid = 0
    chunk: list[str] = ["email\n"]
    with path.open("w", encoding="utf-8", newline="") as out:
        for n in range(lines):
            if n % _INVALID_EVERY == _INVALID_EVERY - 1:
                chunk.append(_INVALID[(n // _INVALID_EVERY) % len(_INVALID)] + "\n")
                invalid += 1
            elif distinct and rng.randrange(_DUPLICATE_EVERY) == 0:
                chunk.append(address(rng.randrange(distinct), prefix).swapcase() + "\n")
            else:
                chunk.append(address(distinct, prefix) + "\n")
                distinct += 1
            if len(chunk) >= 65_536:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return AddressFile(path, lines, distinct, invalid, prefix)


def sqlite_url(directory: Path, name: str = "store.sqlite") -> str:
    """The URL of a SQLite file in ``directory``."""
    return f"sqlite:///{directory / name}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_URL, connect_timeout=5, autocommit=True)


@contextmanager
def postgres_database(label: str = "scale") -> Iterator[str]:
    """A new empty database ``acctpipe_bench_<label>_<random>``; its URL; dropped afterwards."""
    name = f"acctpipe_bench_{label}_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
