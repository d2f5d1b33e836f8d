"""File one parsed message into its ticket: the ticket, the message, attachments, participants and events."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from mailbot.core.agents import Agent, Proof, identify
from mailbot.core.fingerprint import content_fingerprint
from mailbot.core.bounces import is_delivery_report
from mailbot.core.language import detect
from mailbot.core.mail import InboundMail
from mailbot.core.subject import strip_prefixes
from mailbot.core.thread_match import ThreadDecision, decide_thread
from mailbot.core.ticket_states import ClockEffect, TicketStatus
from mailbot.core.tokens import ReplyToken
from mailbot.process import seats
from mailbot.process.desk import Desk
from mailbot.process.thread_lookup import find_earlier_copy, find_token, gather
from mailbot.store.models import Participant, Ticket, TicketMessage
from mailbot.store.writer import Writer


@dataclass
class TicketState:
    """The ticket as processing sees and changes it; written back with one UPDATE at the end."""

    id: int
    subject: str
    status: str
    queue: str
    priority: str
    assignee: str | None
    customer: str
    language: str | None
    tags: list[str] = field(default_factory=list)
    customer_id: int | None = None
    entitlement_state: str = "unknown"
    plan: str | None = None
    entitlement: dict[str, Any] = field(default_factory=dict)
    sla_clock: str | None = None
    sla_started_at: datetime | None = None
    sla_resumed_at: datetime | None = None
    sla_paused_at: datetime | None = None
    sla_total_seconds: int | None = None
    sla_consumed_seconds: int = 0
    sla_calendar: str | None = None
    sla_due_at: datetime | None = None
    sla_next_check_at: datetime | None = None
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    suggested_class: str | None = None
    suggested_rule: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    def set(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changes[name] = value

    def view(self) -> dict[str, Any]:
        """What templates see of the ticket."""
        return {"id": self.id, "subject": self.subject, "queue": self.queue, "priority": self.priority, "status": self.status, "assignee": self.assignee}

    def save(self, conn: Connection, now: datetime) -> None:
        conn.execute(update(Ticket).where(Ticket.id == self.id).values(updated_at=now, **self.changes))
        self.changes.clear()


STATE_FIELDS = [f.name for f in fields(TicketState) if f.name != "changes"]
TICKET_COLUMNS = [getattr(Ticket, name) for name in STATE_FIELDS]


def state_from_row(row: Sequence[Any]) -> TicketState:
    """A TicketState from a row selected as TICKET_COLUMNS."""
    values = dict(zip(STATE_FIELDS, row))
    values["tags"] = list(values["tags"] or [])
    values["entitlement"] = dict(values["entitlement"] or {})
    return TicketState(**values)


def load_ticket(conn: Connection, ticket_id: int) -> TicketState:
    return state_from_row(conn.execute(select(*TICKET_COLUMNS).where(Ticket.id == ticket_id)).one())


@dataclass(frozen=True)
class Filed:
    mail: InboundMail
    ticket: TicketState
    message_row_id: int
    new_ticket: bool
    duplicate: bool
    thread: ThreadDecision | None
    received_at: datetime | None = None  # when mailbot got the message: response clocks start here
    proof: Proof | None = None  # set when the message claimed to be an agent's (or was)
    seat: str = ""  # the sender's role on the ticket: customer, cc, agent, or guest (sent nothing); "" without a sender

    @property
    def guest(self) -> bool:
        return self.seat == seats.GUEST

    @property
    def agent(self) -> Agent | None:
        return self.proof.agent if self.proof else None

    @property
    def ticket_id(self) -> int:
        return self.ticket.id


def file_message(writer: Writer, inbound_id: int, mail: InboundMail, desk: Desk, now: datetime, received_at: datetime | None = None) -> Filed:
    token = find_token(mail, desk.signer, desk.support_address)
    proof = identify(mail, token, desk.agents, desk.authserv_id, desk.require_authentication)
    notes: list[str] = [proof.reason] if proof.reason else []
    if token is not None and token.kind == "b" and not is_delivery_report(mail):
        # A bounce address takes delivery reports only: anything else proves nothing about a ticket.
        notes.append(f"sent to the bounce address of a message of ticket {token.ticket_id}, but not a delivery report: not proof")
        token = None
    if token is not None and token.kind == "a" and proof.agent is None and not _may_use_agent_token(writer.conn, token, mail, desk):
        # A forwarded notification, or a guessed address: it proves nothing about who writes.
        notes.append(f"agent reply address of ticket {token.ticket_id} used by someone not on that ticket: not proof")
        token = None
    lookup = gather(writer.conn, mail, token, desk.signer, desk.message_id_domain)
    digests = [hashlib.sha256(part.payload).hexdigest() for part in mail.parts]
    fingerprint = content_fingerprint(mail.text, digests)
    reused_from: int | None = None
    if lookup.seen_before:
        earlier = find_earlier_copy(writer.conn, mail, fingerprint)
        if earlier is not None and earlier.same_content:
            writer.event(earlier.ticket_id, "message.duplicate", now, inbound_id=inbound_id, message_id=mail.message_id, first_copy=earlier.row_id)
            return Filed(
                mail, load_ticket(writer.conn, earlier.ticket_id), earlier.row_id, new_ticket=False, duplicate=True, thread=None,
                received_at=received_at or now,
            )
        if earlier is not None:
            reused_from = earlier.row_id

    decision = decide_thread(lookup.facts)
    sender = mail.sender.addr if mail.sender else ""
    sender_name = mail.sender.name if mail.sender else ""
    agent = proof.agent
    follows: int | None = None
    if decision.ticket_id is not None and agent is None:
        old = load_ticket(writer.conn, decision.ticket_id)
        if old.status == TicketStatus.CLOSED and old.closed_at is not None and now - old.closed_at > timedelta(days=desk.reopen_days):
            # Too long ago to reopen: a new ticket that points at the old one.
            notes.append(f"ticket {old.id} closed on {old.closed_at:%Y-%m-%d}, more than {desk.reopen_days} days ago: new ticket")
            follows, decision = old.id, ThreadDecision(None, "new", (*decision.reasons, notes[-1]))
    new = decision.ticket_id is None
    if new:
        subject = strip_prefixes(mail.subject) or "(no subject)"
        language = detect(mail, desk.default_language)  # the customer's language, for the ticket's lifetime
        ticket_id = writer.insert_id(
            Ticket, subject=subject, status=TicketStatus.NEW, queue="support", priority="normal", customer=sender, tags=[],
            language=language, follows=follows, created_at=now, updated_at=now,
        )
        ticket = TicketState(ticket_id, subject, TicketStatus.NEW, "support", "normal", None, sender, language, [])
        writer.event(ticket.id, "ticket.opened", now, inbound_id=inbound_id, customer=sender, follows=follows)
    else:
        assert decision.ticket_id is not None
        ticket = load_ticket(writer.conn, decision.ticket_id)
    seat, seat_note = _seat(writer, ticket, mail, agent is not None, new, desk)
    if seat_note:
        notes.append(seat_note)
    if not new:
        if TicketStatus(ticket.status).clock is ClockEffect.STOPPED and agent is None and seat != seats.GUEST:
            # A customer writing to a solved or closed ticket reopens it (the clock starts in the pipeline).
            ticket.set("status", TicketStatus.OPEN)
            ticket.set("closed_at", None)
            writer.event(ticket.id, "ticket.reopened", now, inbound_id=inbound_id, by=sender or None)

    message_row_id = writer.insert_id(
        TicketMessage,
        ticket_id=ticket.id,
        inbound_id=inbound_id,
        direction="in",
        author="agent" if agent else "customer",
        visibility="public",
        message_id=mail.message_id,
        sender=sender,
        sender_name=sender_name,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        sent_at=mail.date,
        created_at=now,
        content_hash=fingerprint,
        decoding=list(mail.decoding) or None,
    )
    for part, digest in zip(mail.parts, digests):
        writer.attachment(message_row_id, part, digest)
    writer.message_ref(mail.message_id, ticket.id)
    if reused_from is not None:
        # Same Message-ID and sender, different content: a second message, filed, and the reuse said.
        writer.event(ticket.id, "message.id_reused", now, inbound_id=inbound_id, message_id=mail.message_id, earlier_message=reused_from, message=message_row_id)

    if seat and sender:
        writer.participant(ticket.id, sender, sender_name, seat, now)
    if new:
        opening = seats.first_message_seats(mail, sender, desk)
        for addr in opening.seated:
            writer.participant(ticket.id, addr.addr, addr.name, "cc", now)
        if opening.left_out:
            writer.event(
                ticket.id, "participants.capped", now, inbound_id=inbound_id, limit=desk.max_participants,
                left_out=list(opening.left_out[:50]), more=max(0, len(opening.left_out) - 50),
            )

    writer.event(
        ticket.id, "message.received", now, inbound_id=inbound_id,
        message=message_row_id, sender=sender or None, sender_problem=mail.sender_problem,
        thread=decision.how, reasons=list(decision.reasons), attachments=len(mail.parts),
        defects=list(mail.defects[:10]), author="agent" if agent else "customer", proof=" | ".join(notes) or None, seat=seat or None,
    )
    return Filed(mail, ticket, message_row_id, new_ticket=new, duplicate=False, thread=decision, received_at=received_at or now, proof=proof, seat=seat)


def _seat(writer: Writer, ticket: TicketState, mail: InboundMail, is_agent: bool, new: bool, desk: Desk) -> tuple[str, str]:
    """The sender's role on the ticket, and a note for the event log when a stranger became a guest."""
    if mail.sender is None:
        # Nobody to give a seat to: on an existing ticket it is a guest's message, changing nothing.
        return ("", "") if new else (seats.GUEST, "no usable sender address: filed as a guest's message, sent nothing")
    if is_agent:
        return "agent", ""
    if new:
        return "customer", ""
    return seats.seat_for_writer(writer.conn, ticket.id, ticket.customer, mail.sender.addr, desk)


def _may_use_agent_token(conn: Connection, token: ReplyToken, mail: InboundMail, desk: Desk) -> bool:
    """Without agent proof, an agent's reply address still files the message on its ticket when the sender
    is that agent (unauthenticated: a customer message, never relayed) or already on the ticket."""
    if mail.sender is None:
        return False
    agent = desk.agents.by_key(token.extra)
    if agent is not None and agent.address == mail.sender.addr:
        return True
    found = conn.execute(
        select(Participant.id).where(Participant.ticket_id == token.ticket_id, Participant.address == mail.sender.addr)
    ).first()
    return found is not None
