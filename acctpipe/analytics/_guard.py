"""Decide whether a SQL text is one read-only SELECT over the events database.

The SQL endpoint shares the tailer's DuckDB instance, so instance-wide switches
(``enable_external_access = false``) are not available: the tailer and the
Parquet export need files. The defence is to read the query the way DuckDB
does — its own parser, ``json_serialize_sql`` — and walk the whole tree:

* table references must name a table or view of the events database (schema
  ``main``) or a CTE in scope; anything else — ``FROM 'x.csv'``, a path, another
  catalog — would be a replacement scan or an attached database;
* table functions come from a short allowlist (``range``, ``unnest``, …);
* every function call must be a DuckDB built-in (so no extension gets
  auto-installed) and not on the denylist (files, sequences, settings, …);
* casts only to built-in types;
* any node kind this walker does not know is refused: a DuckDB upgrade that
  adds syntax fails closed, never open.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

import duckdb

from acctpipe.analytics.errors import SqlError, SqlRefusedError

_CTE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "DENIED_FUNCTIONS",
    "MAX_SQL_LENGTH",
    "Catalog",
    "check_readonly",
    "check_select",
    "warm",
]

MAX_SQL_LENGTH: Final = 20_000
"""Longest query text accepted, in characters (the API's ``SqlIn.sql`` limit too)."""

ALLOWED_TABLE_FUNCTIONS: Final = frozenset(
    {"range", "generate_series", "unnest", "json_each", "json_tree"}
)
"""Table functions a query may call in FROM: they compute rows, they read nothing."""

DENIED_FUNCTIONS: Final = frozenset(
    {
        "glob",
        "sniff_csv",
        "nextval",
        "currval",
        "setval",
        "setseed",
        "getenv",
        "query",
        "query_table",
        "current_setting",
        "checkpoint",
        "force_checkpoint",
        "install",
        "load",
        "copy",
        "export",
        "httpfs",
        "sleep_ms",
        "write_log",
        "which_secret",
        "json_execute_serialized_sql",
        # Take SQL text and plan it on the connection: the text is not walked here.
        "json_serialize_plan",
        "json_serialize_sql",
        "json_deserialize_sql",
    }
)
"""Function names refused anywhere (besides :data:`DENIED_PREFIXES`)."""

DENIED_PREFIXES: Final = (
    "read_",
    "parquet_",
    "pragma_",
    "write_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "iceberg_",
    "delta_",
    "duckdb_",
    "enable_",
    "disable_",
)

# Built-ins with side effects that are harmless to a reader (random numbers, ids,
# introspection of the running query). Every other side-effecting function is refused.
_SAFE_SIDE_EFFECTS: Final = frozenset(
    {
        "random",
        "uuid",
        "uuidv4",
        "uuidv7",
        "gen_random_uuid",
        "error",
        "current_query",
        "current_query_id",
        "current_connection_id",
        "current_transaction_id",
        "stats",
        "vector_type",
    }
)

_QUERY_NODES: Final = frozenset(
    {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
)
_PASSIVE_REFS: Final = frozenset({"JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST", "PIVOT"})
_OTHER_TYPES: Final = frozenset(
    {
        "ORDER_MODIFIER",
        "LIMIT_MODIFIER",
        "LIMIT_PERCENT_MODIFIER",
        "DISTINCT_MODIFIER",
        "ORDER_DEFAULT",
        "ASCENDING",
        "DESCENDING",
    }
)
_EXPRESSION_CLASSES: Final = frozenset(
    {
        "BETWEEN",
        "CASE",
        "CAST",
        "COLLATE",
        "COLUMN_REF",
        "COMPARISON",
        "CONJUNCTION",
        "CONSTANT",
        "LAMBDA",
        "LAMBDA_REF",
        "OPERATOR",
        "PARAMETER",
        "POSITIONAL_REFERENCE",
        "STAR",
        "SUBQUERY",
        "DEFAULT",
    }
)
_SHOW_SPECIAL: Final = frozenset({"tables"})
# Parsed as function calls but bound by DuckDB itself, so not in duckdb_functions().
_SPECIAL_FUNCTIONS: Final = frozenset({"unnest", "unlist"})


class Catalog:
    """What a query may name: the tables and views of one database's ``main`` schema."""

    def __init__(self, database: str, relations: Iterable[str]) -> None:
        self.database = database.lower()
        self.relations = frozenset(r.lower() for r in relations)

    @classmethod
    def of(cls, conn: duckdb.DuckDBPyConnection) -> Catalog:
        """The tables and views of ``conn``'s current database, schema ``main``."""
        rows = conn.execute(
            "SELECT table_name FROM duckdb_tables()"
            " WHERE database_name = current_database() AND schema_name = 'main'"
            " UNION ALL SELECT view_name FROM duckdb_views()"
            " WHERE database_name = current_database() AND schema_name = 'main'"
            " AND NOT internal"
        ).fetchall()
        found = conn.execute("SELECT current_database()").fetchone()
        return cls(str(found[0]) if found else "", [str(r[0]) for r in rows])


def _called(tree: Any) -> set[str]:
    """Every function name in a parse tree (scalar, aggregate, window and table)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            name = node.get("function_name")
            if isinstance(name, str):
                found.add(name.lower())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class _Builtins:
    """Function and type names of a stock DuckDB (no extension beyond the built-in ones)."""

    def __init__(self) -> None:
        conn = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
        try:
            rows = conn.execute(
                "SELECT lower(function_name), function_type, has_side_effects, macro_definition"
                " FROM duckdb_functions()"
            ).fetchall()
            types = conn.execute("SELECT DISTINCT lower(type_name) FROM duckdb_types()").fetchall()
            bodies: dict[str, set[str]] = {}
            for name, kind, _, definition in rows:
                # Table macros are called in FROM only, where the allowlist already rules.
                if definition and kind == "macro":
                    text = str(definition)
                    if not text.lstrip().upper().startswith(("SELECT", "WITH", "FROM")):
                        text = "SELECT " + text
                    found = conn.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
                    tree = json.loads(found[0]) if found else {}
                    # A body that cannot be read is refused: fail closed.
                    calls = {"<unparsable>"} if tree.get("error") else _called(tree)
                    bodies.setdefault(str(name), set()).update(calls)
        finally:
            conn.close()
        callable_kinds = {"scalar", "aggregate", "macro", "window"}
        self.functions = _SPECIAL_FUNCTIONS | {r[0] for r in rows if r[1] in callable_kinds}
        self.side_effects = frozenset(r[0] for r in rows if r[2]) - _SAFE_SIDE_EFFECTS
        self.types = frozenset(str(r[0]) for r in types)
        self.macro_denied = self._expand(bodies)

    def _expand(self, bodies: Mapping[str, set[str]]) -> dict[str, str]:
        """Macro name -> the refused function its body calls, directly or through macros.

        ``pg_sleep`` is a macro over ``sleep_ms``: names are judged after expansion.
        """
        denied: dict[str, str] = {}
        changed = True
        while changed:
            changed = False
            for macro, calls in bodies.items():
                if macro in denied:
                    continue
                for call in sorted(calls):
                    culprit = call if _denied(call) or call in self.side_effects else None
                    if culprit is None and call == "<unparsable>":
                        culprit = "an unreadable body"
                    culprit = culprit or denied.get(call)
                    if culprit is not None and call != macro:
                        denied[macro] = culprit
                        changed = True
                        break
        return denied


@functools.cache
def _builtins() -> _Builtins:
    return _Builtins()


_PARSER_LOCK = threading.Lock()


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {
        "enable_external_access": False,
        "autoload_known_extensions": False,
    }
    return duckdb.connect(":memory:", config=config)


def warm() -> None:
    """Build the built-in tables and the parser now (a worker does it before its first query)."""
    _builtins()
    _parser()


def parse(sql: str) -> dict[str, Any]:
    """DuckDB's parse tree of ``sql`` (one statement), from ``json_serialize_sql``."""
    with _PARSER_LOCK:
        row = _parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        message = str(tree.get("error_message") or "the query cannot be parsed")
        raise SqlRefusedError(f"not a plain SELECT: {message}")
    statements = tree.get("statements")
    if not isinstance(statements, list) or len(statements) != 1:
        raise SqlRefusedError("exactly one SELECT statement is allowed")
    statement = statements[0]
    if not isinstance(statement, dict):
        raise SqlRefusedError("the query cannot be parsed")
    return statement


def _denied(name: str) -> bool:
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)


class _Walker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.builtins = _builtins()

    # -- generic descent ---------------------------------------------------------------

    def walk(self, node: Any, ctes: frozenset[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self.walk(item, ctes)
        elif isinstance(node, dict):
            self.visit(node, ctes)

    def children(self, node: Mapping[str, Any], ctes: frozenset[str], *skip: str) -> None:
        for key, value in node.items():
            if key not in skip:
                self.walk(value, ctes)

    def visit(self, node: Mapping[str, Any], ctes: frozenset[str]) -> None:
        cls, kind = node.get("class"), node.get("type")
        if isinstance(cls, str):
            self.expression(node, cls, ctes)
        elif isinstance(kind, str):
            self.typed(node, kind, ctes)
        else:
            self.untyped(node, ctes)

    def untyped(self, node: Mapping[str, Any], ctes: frozenset[str]) -> None:
        # Containers (argument wrappers, literals, names). A table or function hiding in
        # one would carry these keys: refuse rather than guess what it means.
        for key in ("function_name", "table_name"):
            if key in node:
                raise SqlRefusedError(f"unsupported query construct (a bare {key})")
        self.children(node, ctes)

    # -- query nodes and table references ------------------------------------------------

    def typed(self, node: Mapping[str, Any], kind: str, ctes: frozenset[str]) -> None:
        if kind in _QUERY_NODES:
            self.query_node(node, ctes)
        elif kind == "BASE_TABLE":
            self.table(node, ctes)
        elif kind == "TABLE_FUNCTION":
            self.table_function(node, ctes)
        elif kind == "SHOW_REF":
            self.show(node, ctes)
        elif kind in _PASSIVE_REFS or kind in _OTHER_TYPES:
            self.untyped(node, ctes)
        elif kind.endswith("_QUERY_NODE"):  # WITH x AS (DELETE ... RETURNING *) SELECT ...
            verb = kind.removesuffix("_QUERY_NODE")
            raise SqlRefusedError(f"a data-modifying CTE ({verb}) is not allowed")
        else:
            raise SqlRefusedError(f"unsupported query construct {kind}")

    def query_node(self, node: Mapping[str, Any], ctes: frozenset[str]) -> None:
        entries = (node.get("cte_map") or {}).get("map") or []
        if not isinstance(entries, list):
            raise SqlRefusedError("unsupported query construct (CTE list)")
        scope = ctes
        for entry in entries:
            name = entry.get("key") if isinstance(entry, dict) else None
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not isinstance(value, dict):
                raise SqlRefusedError("unsupported query construct (CTE)")
            if not _CTE_NAME.fullmatch(name):
                # A name like "x.csv" or "/data/*.parquet" is also a file to DuckDB: where
                # the CTE is not yet bound (a recursive CTE's anchor), it reads the file.
                raise SqlRefusedError(
                    f"CTE name {name!r}: use a plain identifier (letters, digits, _)"
                )
            body = value.get("query_node")
            recursive = isinstance(body, dict) and body.get("type") == "RECURSIVE_CTE_NODE"
            # A CTE sees the ones before it (and itself only when recursive): inside its
            # own body a plain CTE's name is NOT the CTE — ``WITH "x.csv" AS (FROM
            # "x.csv")`` would read the file.
            self.walk(value, scope | {name} if recursive else scope)
            scope = scope | {name}
        self.children(node, scope, "cte_map")

    def table(self, node: Mapping[str, Any], ctes: frozenset[str]) -> None:
        name = node.get("table_name")
        catalog, schema = node.get("catalog_name") or "", node.get("schema_name") or ""
        if not isinstance(name, str) or not isinstance(catalog, str) or not isinstance(schema, str):
            raise SqlRefusedError("unsupported table reference")
        if not catalog and not schema and name in ctes:
            self.children(node, ctes, "table_name")
            return
        self.check_relation(name, catalog, schema)
        self.children(node, ctes, "table_name")

    def check_relation(self, name: str, catalog: str, schema: str) -> None:
        if catalog and catalog.lower() != self.catalog.database:
            raise SqlRefusedError(f"only the events database can be read, not {catalog!r}")
        # ``db.events`` names the catalog ``db`` when no schema of that name exists.
        schemas = {"main"} if catalog else {"main", self.catalog.database}
        if schema and schema.lower() not in schemas:
            raise SqlRefusedError(f"only schema main can be read, not {schema!r}")
        if name.lower() in self.catalog.relations:
            return
        if any(c in name for c in "./\\:*?~"):
            raise SqlRefusedError(f"reading files is not allowed: {name!r}")
        known = ", ".join(sorted(self.catalog.relations))
        raise SqlRefusedError(f"unknown table {name!r}: the tables and views are {known}")

    def table_function(self, node: Mapping[str, Any], ctes: frozenset[str]) -> None:
        function = node.get("function")
        if not isinstance(function, dict) or function.get("class") != "FUNCTION":
            raise SqlRefusedError("unsupported table function call")
        name = str(function.get("function_name", "")).lower()
        if function.get("catalog") or function.get("schema") or name not in ALLOWED_TABLE_FUNCTIONS:
            allowed = ", ".join(sorted(ALLOWED_TABLE_FUNCTIONS))
            raise SqlRefusedError(
                f"table function {name}() is not allowed (allowed in FROM: {allowed})"
            )
        self.children(function, ctes, "function_name")
        self.children(node, ctes, "function")

    def show(self, node: Mapping[str, Any], ctes: frozenset[str]) -> None:
        show_type, query = node.get("show_type"), node.get("query")
        name = str(node.get("table_name") or "")
        if show_type in ("DESCRIBE", "SUMMARY") and isinstance(query, dict) and not name:
            self.walk(query, frozenset())  # no CTE names inside: fail closed
        elif show_type == "SHOW" and name and query is None:
            catalog, schema = node.get("catalog_name") or "", node.get("schema_name") or ""
            self.check_relation(name, str(catalog), str(schema))
        elif show_type == "SHOW_SPECIAL" and name.strip('"').lower() in _SHOW_SPECIAL:
            return
        else:
            raise SqlRefusedError(f"unsupported statement ({show_type} {name})".strip())

    # -- expressions ------------------------------------------------------------------------

    def expression(self, node: Mapping[str, Any], cls: str, ctes: frozenset[str]) -> None:
        if cls in ("FUNCTION", "WINDOW"):
            self.function(node)
            self.children(node, ctes, "function_name")
        elif cls == "TYPE":
            self.type_name(node)
            self.children(node, ctes, "type_name")
        elif cls in _EXPRESSION_CLASSES:
            self.untyped(node, ctes)
        else:
            raise SqlRefusedError(f"unsupported expression {cls}")

    def function(self, node: Mapping[str, Any]) -> None:
        name = str(node.get("function_name", "")).lower()
        if _denied(name) or name in self.builtins.side_effects:
            raise SqlRefusedError(f"function {name}() is not allowed in a read-only query")
        culprit = self.builtins.macro_denied.get(name)
        if culprit is not None:
            raise SqlRefusedError(
                f"function {name}() is not allowed in a read-only query (it calls {culprit})"
            )
        if str(node.get("catalog") or "") or str(node.get("schema") or "").lower() not in (
            "",
            "main",
        ):
            raise SqlRefusedError(f"qualified function names are not allowed: {name}()")
        if name not in self.builtins.functions:
            raise SqlRefusedError(f"unknown function {name}(): only DuckDB built-ins")

    def type_name(self, node: Mapping[str, Any]) -> None:
        name = str(node.get("type_name", "")).lower()
        if node.get("catalog") or node.get("schema") or name not in self.builtins.types:
            raise SqlRefusedError(f"unknown type {name}: only DuckDB built-in types")


def check_select(sql: str, catalog: Catalog) -> None:
    """Raise :class:`SqlRefusedError` unless ``sql`` is one read-only SELECT over ``catalog``."""
    try:
        statement = parse(sql)
        node = statement.get("node")
        if not isinstance(node, dict) or node.get("type") not in _QUERY_NODES:
            raise SqlRefusedError("only SELECT queries are allowed")
        _Walker(catalog).walk(statement, frozenset())
    except RecursionError:
        raise SqlRefusedError("the query is nested too deeply") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_readonly(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Return the one statement of ``sql`` if it may run on ``conn``; else raise.

    Raises :class:`SqlRefusedError` with the reason: not exactly one statement,
    not a SELECT, or a SELECT that reads something other than the events
    database's tables and views.
    """
    if len(sql) > MAX_SQL_LENGTH:
        raise SqlRefusedError(f"the query is longer than {MAX_SQL_LENGTH} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(_first_line(exc)) from exc
    if not statements:
        raise SqlRefusedError("the query is empty")
    if len(statements) > 1:
        raise SqlRefusedError(
            f"exactly one statement is allowed, got {len(statements)}: remove the extra `;`"
        )
    statement = statements[0]
    try:
        kind = statement.type
    except ValueError as exc:  # a statement type this duckdb module has no name for
        raise SqlRefusedError(f"unsupported statement: {_first_line(exc)}") from exc
    if kind != duckdb.StatementType.SELECT:
        raise SqlRefusedError(
            f"only SELECT is allowed, not {kind.name}: the SQL endpoint is read-only"
        )
    text = statement.query
    check_select(text, Catalog.of(conn))
    return text
