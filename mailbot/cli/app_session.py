"""The App a command works with: built from the config and `--now`, schema brought up to date, closed after;
and one ticket loaded in a transaction for the commands that act on one."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.config import Config
from mailbot.errors import SchemaNotReady
from mailbot.process.filing import TicketState, load_ticket
from mailbot.store import migrate
from mailbot.store.db import unit_of_work


@contextmanager
def opened_app(config: Config, args: argparse.Namespace, migrate: bool = True) -> Iterator[App]:
    config.check_state_dir()
    config.configured_secret()  # a missing or short secret_file stops the command here, not in every job later
    app = App(config, args.clock)
    try:
        if migrate:
            app.ensure_schema()
            app.secrets  # a worker whose secret disagrees with the desk's stops here, before it signs anything
        yield app
    finally:
        app.close()


@contextmanager
def opened_reader(config: Config, args: argparse.Namespace) -> Iterator[App]:
    """The App for a command that only reads: it creates no file, folder or table, and says what to run when the
    schema is missing or behind."""
    from sqlalchemy.engine import make_url

    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(url.database).exists():
            raise SchemaNotReady(f"no database at {url.database}; run `mailbot db upgrade` (or start `mailbot run`)")
    app = App(config, args.clock)
    try:
        current, head = migrate.current_revision(app.engine), migrate.HEAD
        if current != head:
            raise SchemaNotReady(
                f"the database schema is at revision {current or 'none'}, this mailbot needs {head}; run `mailbot db upgrade`"
            )
        yield app
    finally:
        app.close()


def on_ticket(
    config: Config, args: argparse.Namespace, command: Callable[[App, Session, TicketState], int], read_only: bool = False,
) -> int:
    """Run `command` on ticket `args.number` in one transaction; 1 when there is no such ticket."""
    opened = opened_reader(config, args) if read_only else opened_app(config, args)
    with opened as app, unit_of_work(app.sessions) as session:
        try:
            ticket = load_ticket(session.connection(), args.number, to_change=not read_only)
        except NoResultFound:
            print(f"no ticket #{args.number}")
            return 1
        return command(app, session, ticket)

