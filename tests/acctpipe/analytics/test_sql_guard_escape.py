"""The read-only SQL guard must never let a query read a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acctpipe.analytics import SharedStore, SqlError, SqlRefusedError, run_readonly
from acctpipe.eventstore import Store
from tests.acctpipe.analytics._data import build


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture
def shared(events_db: Path) -> Iterator[SharedStore]:
    """The production configuration: the writer's Store, read through a SharedStore."""
    store = Store.open(events_db)
    yield SharedStore(store)
    store.close()


@pytest.fixture
def secret_csv(tmp_path: Path) -> Path:
    """A CSV file outside the events database that no query may read."""
    path = tmp_path / "secret.csv"
    path.write_text("a,b\nTOPSECRET,2\n", encoding="utf-8")
    return path


def _anchor_query(name: str) -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    return (
        f"WITH RECURSIVE {quoted}(a, b) AS (SELECT * FROM {quoted}"
        f" UNION ALL SELECT * FROM {quoted} WHERE false) SELECT * FROM {quoted}"
    )


def test_recursive_cte_anchor_cannot_read_a_file(shared: SharedStore, secret_csv: Path) -> None:
    """A recursive CTE named like a file cannot read that file through its anchor term."""
    with pytest.raises((SqlRefusedError, SqlError)):
        run_readonly(shared, _anchor_query(str(secret_csv)), timeout=5)


def test_recursive_cte_anchor_cannot_glob_files(shared: SharedStore, secret_csv: Path) -> None:
    """A recursive CTE named like a glob cannot read the files it matches."""
    with pytest.raises((SqlRefusedError, SqlError)):
        run_readonly(shared, _anchor_query(str(secret_csv.parent / "*.csv")), timeout=5)
