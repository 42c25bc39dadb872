"""The DuckDB event store: schema and migrations, offsets, quarantine, one-transaction commits.

See ``docs/schema.md`` for the tables and views analysts query.
"""

from acctpipe.eventstore.export import export_parquet
from acctpipe.eventstore.schema import EVENT_COLUMNS, MIGRATIONS, SCHEMA_VERSION, migrate
from acctpipe.eventstore.store import FileKind, FileState, Store

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
