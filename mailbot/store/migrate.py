"""Run Alembic migrations from the installed package: `mailbot db upgrade` and the start-up check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# The newest migration's revision. Every command checks the database against it, and Alembic (a tenth of a
# second to import, and it reads every migration script) is loaded only when the schema is behind.
# tests/integration/test_store.py keeps it equal to the head of the scripts in migrations/versions.
HEAD = "0017"
_VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "mailbot.store:migrations")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    """The head of the migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: not under migrations yet, or not at exactly one revision)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(_VERSION_TABLE):
            return None
        found = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    return str(found[0]) if len(found) == 1 else None


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == HEAD


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (a no-op when it is already there)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
