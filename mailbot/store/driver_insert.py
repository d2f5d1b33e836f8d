"""The filing hot path's INSERTs, compiled once per table and set of columns and sent as the driver's SQL.

SQLAlchemy spends more on preparing an INSERT (cache key, parameter processing, result set-up) than SQLite
spends on running it. Here each statement is compiled once, with the column types' own bind processors and
the columns' Python-side defaults looked up once too; every row is then turned into the driver's parameters
and sent with `exec_driver_sql` — on the same connection and transaction, seen by the same events (statement
counts, write turns). Many rows go as one `executemany` on SQLite, whose driver loops over them in C. On
PostgreSQL they go as one statement with one array per column (`INSERT .. SELECT * FROM unnest(%(c0)s::INTEGER[],
..)`): psycopg's `executemany` costs about as much per row as a statement of its own, and a multi-row `VALUES`
list is a new statement text for every number of rows (too long for psycopg to cache its parsing, a new plan for
the server), where the arrays keep one short text per table and set of columns. Only plain INSERTs come here: no
SQL expressions as values, no server-side defaults to read back (the id is the one thing read back).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, Insert, Table, insert, literal_column, select
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bind names, in the order of the SQL's parameters
    positional: bool  # qmark/numeric (SQLite) take tuples; pyformat (psycopg) takes dicts
    processors: tuple[Callable[[Any], Any] | None, ...]  # per name: the column type's bind processor
    defaults: dict[str, Callable[[], Any]]  # a column a row does not name: its Python-side default (else NULL)


_COMPILED: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}
_ONE: dict[tuple[str, str], Executable] = {}  # per table and dialect: the INSERT of insert_one


@dataclass(frozen=True)
class _CompiledColumns:
    sql: str  # INSERT INTO t (..) SELECT * FROM unnest(%(c0)s::T0[], ..) [ON CONFLICT ..]: one array per column
    keys: tuple[str, ...]  # the columns sent: those the rows name, then those with a Python-side default
    processors: tuple[Callable[[Any], Any] | None, ...]  # per column of `keys`: its type's bind processor
    defaults: dict[str, Callable[[], Any]]


_COMPILED_COLUMNS: dict[tuple[int, str, tuple[str, ...]], _CompiledColumns] = {}
_ROWS = "__mailbot_rows__"


def _array_cast(dialect: Any, column: Any) -> str:
    # The column's type by its DDL name, as an array; VARCHAR without its length, so a value too long fails as
    # it would in an INSERT instead of being cut to fit by the cast.
    return re.sub(r"^VARCHAR\(\d+\)$", "VARCHAR", dialect.type_compiler_instance.process(column.type)) + "[]"


def _python_default(column: Any) -> Callable[[], Any] | None:
    default = column.default
    if default is None:
        return None
    if isinstance(default, ScalarElementColumnDefault):
        value = default.arg
        return lambda: value
    if isinstance(default, CallableColumnDefault):
        fn: Any = default.arg
        return lambda: fn(None)  # SQLAlchemy wraps zero-argument callables (list, dict) to take a context
    # A SQL expression or a sequence: SQLAlchemy's own path is the one that knows how to send it.
    raise TypeError(f"column {column} has a default this path does not send ({type(default).__name__})")


def _compile(conn: Connection, table: Table, stmt: Executable, keys: tuple[str, ...]) -> _Compiled:
    dialect = conn.dialect
    defaults = {c.key: fn for c in table.columns if (fn := _python_default(c)) is not None}
    assert isinstance(stmt, ClauseElement)
    compiled = stmt.compile(dialect=dialect, column_keys=[*keys, *(k for k in defaults if k not in keys)])
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    processors = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
    return _Compiled(compiled.string, names, compiled.positional, processors, defaults)


def _compiled(conn: Connection, table: Table, stmt: Executable, keys: tuple[str, ...]) -> _Compiled:
    # Keyed by the statement object: callers build each statement once (store/writer.py) and keep it.
    key = (id(stmt), conn.dialect.name, keys)
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = _compile(conn, table, stmt, keys)
    return found


def _params(c: _Compiled, row: dict[str, Any]) -> Any:
    values = [row[n] if n in row else (fn() if (fn := c.defaults.get(n)) else None) for n in c.names]
    values = [v if p is None else p(v) for v, p in zip(values, c.processors)]
    return tuple(values) if c.positional else dict(zip(c.names, values))


def _compiled_columns(conn: Connection, table: Table, stmt: Executable, keys: tuple[str, ...]) -> _CompiledColumns:
    key = (id(stmt), conn.dialect.name, keys)
    found = _COMPILED_COLUMNS.get(key)
    if found is None:
        dialect = conn.dialect
        defaults = {c.key: fn for c in table.columns if (fn := _python_default(c)) is not None}
        columns = (*keys, *(k for k in defaults if k not in keys))
        assert isinstance(stmt, Insert)
        # SQLAlchemy writes the INSERT (names quoted, the ON CONFLICT clause of `stmt`) around a placeholder.
        shell = stmt.from_select(columns, select(literal_column(_ROWS)), include_defaults=False).compile(dialect=dialect).string
        arrays = ", ".join(f"%(c{j})b::{_array_cast(dialect, table.c[k])}" for j, k in enumerate(columns))
        sql = shell.replace(f"SELECT {_ROWS}", f"SELECT * FROM unnest({arrays})")
        assert sql != shell, shell
        processors = tuple(table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in columns)
        found = _COMPILED_COLUMNS[key] = _CompiledColumns(sql, columns, processors, defaults)
    return found


def _insert_columns(conn: Connection, table: Table, stmt: Executable, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> None:
    c = _compiled_columns(conn, table, stmt, keys)
    params: dict[str, Any] = {}
    for j, (k, p) in enumerate(zip(c.keys, c.processors)):
        fn = c.defaults.get(k)
        values = [row[k] if k in row else (fn() if fn else None) for row in rows]
        params[f"c{j}"] = values if p is None else [p(v) for v in values]
    conn.exec_driver_sql(c.sql, params)


def insert_rows(conn: Connection, table: Table, stmt: Executable, rows: Sequence[dict[str, Any]]) -> None:
    """Send `stmt` (an INSERT of `table`) for `rows`: one executemany on SQLite, multi-row INSERTs elsewhere. A
    column that some rows name and others do not gets its default in the others, as SQLAlchemy's own INSERT would
    give it."""
    keys = tuple(dict.fromkeys(key for row in rows for key in row))
    if conn.dialect.name == "sqlite":
        c = _compiled(conn, table, stmt, keys)
        conn.exec_driver_sql(c.sql, [_params(c, r) for r in rows])
        return
    _insert_columns(conn, table, stmt, keys, rows)


def insert_one(conn: Connection, table: Table, row: dict[str, Any]) -> int:
    """INSERT one row of `table` now and return its id. SQLite hands the new rowid back with every INSERT
    (`lastrowid`), which costs the driver nothing, where a RETURNING clause costs SQLAlchemy a result set up for
    it; other databases are asked with RETURNING."""
    dialect = conn.dialect.name
    stmt = _ONE.get((table.name, dialect))
    if stmt is None:
        stmt = _ONE[(table.name, dialect)] = insert(table) if dialect == "sqlite" else insert(table).returning(table.c.id)
    c = _compiled(conn, table, stmt, tuple(row))
    result = conn.exec_driver_sql(c.sql, _params(c, row))
    return int(result.lastrowid if dialect == "sqlite" else result.scalar_one())
