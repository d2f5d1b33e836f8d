"""Is the database there at all? Tells a lost connection apart from a failing query, by asking it `SELECT 1`."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


def may_be_unreachable(exc: BaseException) -> bool:
    """Whether `exc` is the kind of error a database that went away raises (then `probe` decides)."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def probe(engine: Engine) -> str | None:
    """None when the database answers; otherwise the first line of why not."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        return (str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]
    return None
