"""The status a ticket built from imported history gets: closed, unless its last word is a recent,
unanswered customer message (then open, for a person to look at; still no clock: nothing was promised)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbot.core.ticket_states import TicketStatus


@dataclass(frozen=True)
class LastWord:
    """The latest message on the ticket: when it was written, and whether support wrote it."""

    at: datetime
    by_support: bool


def history_status(last: LastWord, now: datetime, open_days: int) -> tuple[TicketStatus, str]:
    """The status for a history ticket whose latest message is `last`, and why."""
    when = f"{last.at:%Y-%m-%d %H:%M} UTC"
    if last.by_support:
        return TicketStatus.CLOSED, f"history: the last message ({when}) is an answer from support"
    if now - last.at <= timedelta(days=open_days):
        return TicketStatus.OPEN, (
            f"history: the last message ({when}) is a customer's, within history_open_days = {open_days}, "
            "and unanswered: left open for a person, with no response clock"
        )
    return TicketStatus.CLOSED, f"history: the last message ({when}) is older than history_open_days = {open_days}"
