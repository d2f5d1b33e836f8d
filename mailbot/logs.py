"""Logging as one key=value line per event on stderr, a format journald and grep both keep well."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from mailbot.core.control_chars import escape_controls
from mailbot.core.url_passwords import hide_passwords

_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")


def _quote(value: Any) -> str:
    text = str(value)
    if text and _BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escape_controls(escaped, keep_newlines=False) + '"'


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"level": record.levelname.lower(), "event": record.getMessage()}
        fields.update((k, v) for k, v in getattr(record, "kv", {}).items() if v is not None)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields.setdefault("error", f"{type(exc).__name__}: {exc}")
        # A connection URL in any field (or in an error's text) keeps its password to itself.
        return " ".join(f"{k}={_quote(hide_passwords(str(v)))}" for k, v in fields.items())


class StillRunning(logging.Filter):
    """APScheduler warns whenever a job's next turn comes while it is still running. With `max_instances=1,
    coalesce=True` that is the intended behaviour under load (the job that is running takes the new work too),
    so it becomes a debug-level `job.skipped` event instead of a warning on every busy minute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" not in record.getMessage():
            return True
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        name = getattr(job, "name", None) or str(job)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.msg, record.args = "job.skipped", ()
        record.kv = {"job": name, "reason": "still running"}
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def setup(level: str = "info") -> None:
    """Send all of mailbot's logging to stderr as key=value lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries speak only when something is wrong.
    for noisy in ("apscheduler", "imapclient", "aiosmtplib", "alembic", "sqlalchemy", "authlib", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("mailparser").setLevel(logging.ERROR)  # see mailbot/parse.py
    scheduler = logging.getLogger("apscheduler.scheduler")
    scheduler.filters[:] = [f for f in scheduler.filters if not isinstance(f, StillRunning)]
    scheduler.addFilter(StillRunning())


def log(logger: logging.Logger, level: int, event: str, exc_info: bool = False, **fields: Any) -> None:
    """Log `event` with `fields` as key=value pairs."""
    logger.log(level, event, extra={"kv": fields}, exc_info=exc_info)
