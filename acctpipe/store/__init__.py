"""The DuckDB event store: schema and migrations, offsets, quarantine, one-transaction commits.

See ``docs/schema.md`` for the tables and views analysts query.
"""

from acctpipe.store.db import FileKind, FileState, Store
from acctpipe.store.export import export_parquet
from acctpipe.store.schema import EVENT_COLUMNS, MIGRATIONS, SCHEMA_VERSION, migrate

__all__ = [
    "EVENT_COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "FileKind",
    "FileState",
    "Store",
    "export_parquet",
    "migrate",
]
