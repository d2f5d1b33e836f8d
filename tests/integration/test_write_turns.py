"""SQLite writers of one process take turns: a writer that begins again right after it commits (filing in a
burst) does not keep the sender or intake waiting until it is done."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from mailbot.store.db import make_engine, write_turns
from mailbot.store.write_turns import WriteTurns
from tests.support.waiting import wait_until


def test_the_turn_passes_to_the_longest_waiter_and_a_timed_out_waiter_leaves_the_queue() -> None:
    turns = WriteTurns()
    assert turns.take(1)
    order: list[str] = []

    def writer(name: str) -> None:
        assert turns.take(60)
        order.append(name)
        turns.give()

    first = threading.Thread(target=writer, args=("first",))
    first.start()
    wait_until(lambda: turns.waiting == 1, timeout=30, what="the first writer to queue")
    assert not turns.take(0.01)  # gave up: it must not be granted later, or the turn would be lost
    second = threading.Thread(target=writer, args=("second",))
    second.start()
    wait_until(lambda: turns.waiting == 2, timeout=30, what="the second writer to queue")
    turns.give()
    first.join(30)
    second.join(30)
    assert order == ["first", "second"]
    assert turns.take(0.01)  # free again


def test_a_writer_that_begins_again_at_once_does_not_starve_another(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    stop = threading.Event()
    commits = [0]

    def busy_writer() -> None:  # like filing in a burst: commit, begin again, hold the lock a while
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
                stop.wait(0.002)
            commits[0] += 1

    busy = threading.Thread(target=busy_writer)
    busy.start()
    try:
        wait_until(lambda: commits[0] >= 5, timeout=30, what="the busy writer to get going")
        before = commits[0]
        with engine.begin() as conn:  # the sender, say
            during = commits[0] - before
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        stop.set()
        busy.join(30)
        engine.dispose()
    # Its turn came when the transaction in progress ended (the count may have moved on by one more while it
    # asked). Without turns it waits in SQLite's busy handler, and the busy writer commits dozens of times.
    assert during <= 2, during


def test_a_commit_a_rollback_a_failed_begin_or_a_connection_put_back_gives_the_turn_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    turns = write_turns(engine)
    assert turns is not None

    def free() -> bool:
        if not turns.take(0):
            return False
        turns.give()
        return True

    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            assert not free()
        assert free()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.rollback()
            assert free()  # the connection is still ours, its transaction is not
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # put back without commit or rollback
        assert free()
        conn = engine.connect()
        conn.execute(text("SELECT 1"))
        conn.invalidate()  # the connection is thrown away
        assert free()
        other = sqlite3.connect(tmp_path / "turns.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, say: our BEGIN fails after its busy wait
        try:
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA busy_timeout=0")  # no BEGIN: not ours
                with pytest.raises(OperationalError):
                    conn.execute(text("SELECT 1"))
                assert free()
        finally:
            other.rollback()
            other.close()
        assert free()
    finally:
        engine.dispose()
