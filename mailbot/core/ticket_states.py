"""The states a ticket and an inbound message can be in, once, with what each does to the response clock.

Every status in the store, the CLI, the agents' mail commands and the deadline sweep is one of these; the
database holds them under a CHECK constraint.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class ClockEffect(Enum):
    RUNS = "runs"  # a response is owed (if the plan promises one) and its time counts
    PAUSED = "paused"  # waiting on the customer: time does not count; their next message resumes it
    STOPPED = "stopped"  # nothing is owed; the customer's next message starts a new clock


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def clock(self) -> ClockEffect:
        return _CLOCK[self]

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_CLOCK = {
    TicketStatus.NEW: ClockEffect.RUNS,
    TicketStatus.OPEN: ClockEffect.RUNS,
    TicketStatus.PENDING: ClockEffect.PAUSED,
    TicketStatus.SOLVED: ClockEffect.STOPPED,
    TicketStatus.CLOSED: ClockEffect.STOPPED,
}
_MEANING = {
    TicketStatus.NEW: "opened by a customer's message; nobody has answered yet",
    TicketStatus.OPEN: "being worked on; the response clock runs while an answer is owed",
    TicketStatus.PENDING: "waiting on the customer; the response clock is paused until they write",
    TicketStatus.SOLVED: "answered and believed solved; no clock runs; the customer's reply reopens it",
    TicketStatus.CLOSED: "done; no clock runs; a reply within the reopen window reopens it, later ones open a new ticket",
}


class InboundStatus(StrEnum):
    """Where a stored inbound message is in processing."""

    RECEIVED = "received"  # stored, waiting to be filed (or to be retried)
    FILED = "filed"  # on a ticket
    DUPLICATE = "duplicate"  # the same message arrived before and is filed once
    QUARANTINED = "quarantined"  # could not be filed; a person looks at it (`mailbot quarantine`)


class OutboxStatus(StrEnum):
    HELD = "held"  # waits for a person to release it
    QUEUED = "queued"  # to be sent (now, or at its next attempt)
    SENT = "sent"
    FAILED = "failed"  # refused permanently, expired, or could not be written; `outbox retry` sends it again
    BOUNCED = "bounced"  # accepted, then a delivery report said it failed
    CANCELLED = "cancelled"  # withdrawn by a person (`outbox cancel`); never sent


def parse_ticket_status(text: str) -> TicketStatus:
    try:
        return TicketStatus(text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown status {text!r} (use one of: {', '.join(s.value for s in TicketStatus)})") from None
