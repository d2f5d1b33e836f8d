"""How the CLI shows things: one-line texts cut to a width, times in a zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def local_time(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if at else "-"
