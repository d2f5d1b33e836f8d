"""How the CLI shows things: one-line texts cut to a width, times in a zone, mail's text never raw to a terminal."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from mailbot.core.control_chars import escape_controls


def echo(text: str = "") -> None:
    """Print a line that may hold text from mail: control characters and escape sequences shown escaped."""
    print(escape_controls(text))


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def local_time(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if at else "-"
