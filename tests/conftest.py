"""Shared fixtures: a frozen clock, a real database (SQLite and PostgreSQL), a real Dovecot, configs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from mailbot.config import Config, parse
from mailbot.store import migrate
from mailbot.store.db import make_engine, session_factory
from mailbot.store.models import Base
from mailbot.time_source import FixedClock
from tests.support.dovecot import Dovecot, ImapUser
from tests.support.smtp import SmtpServer
from tests.support.token_endpoint import TokenEndpoint

DATA = Path(__file__).parent / "data"
# Rules that acknowledge every new ticket: for tests of the machinery rather than of entitlement policies.
ACK_ALL = DATA / "rules" / "ack-all"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PG_ADMIN_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def clock() -> FixedClock:
    # A Monday morning in March, before any DST change in Europe or the US.
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))


# --- databases ----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One throw-away PostgreSQL database for the run; absent PostgreSQL is a failure, not a skip."""
    name = f"mailbot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    # A test's commits need not wait for the disk: the server is never crashed under a test, and a
    # slow disk otherwise sets the pace of every test that truncates or commits (the daemon's own durability is
    # tested by killing the daemon, whose commits still reach the server before it answers).
    admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend the store supports."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mailbot.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        return url
    url: str = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


# --- configuration ------------------------------------------------------------------------------------

def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (date, datetime)):  # a TOML date or date-time, not a string
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # a sub-table such as imap.oauth2, written inline
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: dict[str, Any]) -> Path:
    """Write a TOML config from {section: {key: value}} (a list of dicts becomes an array of tables)."""
    lines: list[str] = []
    for section, body in sections.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
            lines.append("")
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def make_config(tmp_path: Path, db_url: str):
    """Build a Config on the test's database; keyword sections override the defaults."""

    def build(**sections: Any) -> Config:
        desk = {
            "state_dir": str(tmp_path / "state"),
            "database_url": db_url,
            "secret": "test-secret-0123456789abcdef",
            "support_address": "support@example.com",
        }
        desk.update(sections.pop("mailbot", {}))
        sections.setdefault("rules", {"dir": str(ACK_ALL)})
        # In-process analysis: these tests drive the App directly, and a worker process per App would make each
        # of them start a process. The worker itself is tested by test_analysis_worker.py, test_hostile_mail.py and
        # every test of the real daemon (their configs keep the default, isolate = true).
        sections["processing"] = {"isolate": False, **sections.get("processing", {})}
        path = write_config(tmp_path / "mailbot.toml", {"mailbot": desk, **sections})
        return parse(path.read_text(), path)

    return build


# --- SMTP ---------------------------------------------------------------------------------------------

@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A recording SMTP server (aiosmtpd) on a free loopback port."""
    server = SmtpServer().start()
    yield server
    server.stop()


# --- Dovecot ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot().start()
    yield server
    server.destroy()


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    return dovecot.add_user()


@pytest.fixture
def token_endpoint(dovecot: Dovecot) -> Iterator[TokenEndpoint]:
    """A local OAuth2 token endpoint whose access tokens the test Dovecot accepts."""
    endpoint = TokenEndpoint(dovecot.oauth2_key).start()
    yield endpoint
    endpoint.stop()


def imap_section(dovecot: Dovecot, user: ImapUser, **extra: Any) -> dict[str, Any]:
    """An [[imap]] table for the test server: STARTTLS with the throw-away certificate."""
    section = {
        "name": "support",
        "host": "127.0.0.1",
        "port": dovecot.port,
        "security": "starttls",
        "username": user.name,
        "password": user.password,
        "timeout_seconds": 10,
    }
    if dovecot.cert is not None:
        section["ca_file"] = str(dovecot.cert)
    section.update(extra)
    return {k: v for k, v in section.items() if v is not None}
