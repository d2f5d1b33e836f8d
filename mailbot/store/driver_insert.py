"""The filing hot path's INSERTs, compiled once per table and set of columns and sent as the driver's SQL.

SQLAlchemy spends more on preparing an INSERT (cache key, parameter processing, result set-up) than SQLite
spends on running it. Here each statement is compiled once, with the column types' own bind processors and
the columns' Python-side defaults looked up once too; every row is then turned into the driver's parameters
and sent with `exec_driver_sql` — on the same connection and transaction, seen by the same events (statement
counts, write turns), one `executemany` for many rows. Only plain INSERTs come here: no SQL expressions as
values, no server-side defaults to read back (the id is the one thing read back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, Table, insert
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


def insert_rows(conn: Connection, table: Table, stmt: Executable, rows: Sequence[dict[str, Any]]) -> None:
    """Send `stmt` (an INSERT of `table`) for `rows`: one executemany. A column that some rows name and others
    do not gets its default in the others, as SQLAlchemy's own INSERT would give it."""
    keys = tuple(dict.fromkeys(key for row in rows for key in row))
    c = _compiled(conn, table, stmt, keys)
    conn.exec_driver_sql(c.sql, [_params(c, r) for r in rows])


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
