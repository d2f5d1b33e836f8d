"""Engine and session factory; SQLite gets WAL, a busy timeout and foreign keys, PostgreSQL works the same."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mailbot.store.write_turns import WriteTurns

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The stdlib driver opens its own transactions lazily; take control so BEGIN is explicit.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Deleted and overwritten content is zeroed in the file, so a redacted secret leaves no copy in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


_TURNS: WeakKeyDictionary[Engine, WriteTurns] = WeakKeyDictionary()
_TURN = "mailbot_write_turn"  # in a connection's info while its transaction holds this process's write turn


def _sqlite_begin(turns: WriteTurns, conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
    # instead of one failing with "database is locked" when it upgrades a read lock. Writers of this
    # process take turns first (store/write_turns.py).
    if not conn.info.get(_TURN) and turns.take(SQLITE_BUSY_TIMEOUT_MS / 1000):
        conn.info[_TURN] = True
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # when it fails, the rollback that follows gives the turn back


def _sqlite_end(turns: WriteTurns, conn: Any) -> None:
    if conn.info.pop(_TURN, False):
        turns.give()


def make_engine(url: str) -> Engine:
    """Create the engine for `url`, creating the SQLite file's folder when needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        turns = _TURNS[engine] = WriteTurns()
        event.listen(engine, "begin", partial(_sqlite_begin, turns))
        event.listen(engine, "commit", partial(_sqlite_end, turns))
        event.listen(engine, "rollback", partial(_sqlite_end, turns))
        # A connection put back in the pool, or thrown away, with its transaction still open.
        event.listen(engine, "reset", lambda dbapi_conn, record, state: _sqlite_end(turns, record))
        event.listen(engine, "invalidate", lambda dbapi_conn, record, exc: _sqlite_end(turns, record))
        return engine
    return create_engine(url, pool_pre_ping=True)


def write_turns(engine: Engine) -> WriteTurns | None:
    """The write turns of a SQLite engine's writers in this process (None for other databases)."""
    return _TURNS.get(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    with factory() as session:
        with session.begin():
            yield session


def release_old_pages(engine: Engine) -> bool:
    """SQLite: copy the write-ahead log into the database and empty the log file, so page images from before a
    redaction do not linger in it. Returns whether the log could be emptied (a long reader may hold it; the next
    run tries again). PostgreSQL: nothing here (its old row versions go with VACUUM)."""
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cur.fetchone()
        busy = bool(row and row[0])
        cur.close()
    finally:
        raw.close()
    return not busy
