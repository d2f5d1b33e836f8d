"""Which ticket a message belongs to, decided from proofs in order: token, references, subject tag, new."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ThreadFacts:
    """What the store knows about the message's claims to an existing ticket."""

    token_ticket: int | None = None  # ticket named by a valid signed token in a recipient address
    token_ticket_exists: bool = False
    reference_ticket: int | None = None  # ticket owning the nearest In-Reply-To/References Message-ID
    reference_id: str | None = None
    tag_tickets: tuple[int, ...] = ()  # tickets named by [#N] tags in the subject that exist
    sender_participates_in: frozenset[int] = field(default_factory=frozenset)  # of tag_tickets
    missing_tag_tickets: tuple[int, ...] = ()


@dataclass(frozen=True)
class ThreadDecision:
    ticket_id: int | None  # None: open a new ticket
    how: str  # token | reference | subject-tag | new
    reasons: tuple[str, ...]


def decide_thread(facts: ThreadFacts) -> ThreadDecision:
    notes: list[str] = []
    if facts.token_ticket is not None:
        if facts.token_ticket_exists:
            return ThreadDecision(facts.token_ticket, "token", (f"signed reply token for ticket {facts.token_ticket}",))
        notes.append(f"signed token names ticket {facts.token_ticket}, which does not exist")
    if facts.reference_ticket is not None:
        return ThreadDecision(
            facts.reference_ticket,
            "reference",
            (*notes, f"answers <{facts.reference_id}>, a message of ticket {facts.reference_ticket}"),
        )
    for ticket in facts.tag_tickets:
        if ticket in facts.sender_participates_in:
            return ThreadDecision(ticket, "subject-tag", (*notes, f"subject tag [#{ticket}] from a participant"))
        notes.append(f"subject tag [#{ticket}] ignored: the sender is not a participant of ticket {ticket}")
    for ticket in facts.missing_tag_tickets:
        notes.append(f"subject tag [#{ticket}] ignored: no such ticket")
    return ThreadDecision(None, "new", (*notes, "no proof of an existing ticket: new ticket"))
