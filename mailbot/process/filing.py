"""File one parsed message into its ticket: the ticket, the message, attachments, participants and events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from mailbot.core.agents import Agent, Proof, identify
from mailbot.core.bounces import is_delivery_report
from mailbot.core.mail_age import mail_time
from mailbot.core.mail import InboundMail
from mailbot.core.mail_analysis import MailAnalysis, analyze
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
        # The SET clause is the parameters' columns: one cached statement per set of changed columns.
        conn.execute(_SAVE_TICKET, {"ticket_pk": self.id, "updated_at": now, **self.changes})
        self.changes.clear()


STATE_FIELDS = [f.name for f in fields(TicketState) if f.name != "changes"]
TICKET_COLUMNS = [getattr(Ticket, name) for name in STATE_FIELDS]
# Built once: building a statement costs more than running it (these run for nearly every message).
_LOAD_TICKET = select(*TICKET_COLUMNS).where(Ticket.id == bindparam("ticket_pk"))
# Filing reads FOR UPDATE (PostgreSQL; SQLite has one writer at a time anyway): two workers filing mail of one
# ticket take turns. Commands that only show a ticket lock nothing.
_LOAD_TICKET_TO_CHANGE = _LOAD_TICKET.with_for_update()
_LOAD_TICKETS = select(*TICKET_COLUMNS).where(Ticket.id.in_(bindparam("ticket_pks", expanding=True))).order_by(Ticket.id).with_for_update()
_SAVE_TICKET = update(Ticket).where(Ticket.id == bindparam("ticket_pk"))
_SENDER_ON_TICKET = select(Participant.id).where(Participant.ticket_id == bindparam("ticket_pk"), Participant.address == bindparam("address"))


def state_from_row(row: Sequence[Any]) -> TicketState:
    """A TicketState from a row selected as TICKET_COLUMNS."""
    values = dict(zip(STATE_FIELDS, row))
    values["tags"] = list(values["tags"] or [])
    values["entitlement"] = dict(values["entitlement"] or {})
    return TicketState(**values)


def load_ticket(conn: Connection, ticket_id: int, to_change: bool = False) -> TicketState:
    """The ticket's state; `to_change` locks its row until the transaction ends (PostgreSQL)."""
    return state_from_row(conn.execute(_LOAD_TICKET_TO_CHANGE if to_change else _LOAD_TICKET, {"ticket_pk": ticket_id}).one())


class GroupTickets:
    """The tickets a filing group has read or opened, kept from one message to the next: each is read once
    (all those its messages name by Message-ID in one query) and written once, when the group ends.

    Only filing writes a ticket while a group's transaction is open; on PostgreSQL the rows are locked as they
    are read (FOR UPDATE), so another worker's group on the same ticket waits for this one to commit instead
    of writing over it.
    """

    def __init__(self) -> None:
        self._states: dict[int, TicketState] = {}
        self._touched: dict[int, datetime] = {}  # ticket → when a message of the group last changed it

    def read(self, conn: Connection, ticket_ids: Sequence[int]) -> None:
        wanted = sorted(set(ticket_ids) - self._states.keys())
        for start in range(0, len(wanted), 1000):
            for row in conn.execute(_LOAD_TICKETS, {"ticket_pks": wanted[start:start + 1000]}):
                state = state_from_row(row)
                self._states[state.id] = state

    def load(self, conn: Connection, ticket_id: int) -> TicketState:
        state = self._states.get(ticket_id)
        if state is None:
            state = self._states[ticket_id] = load_ticket(conn, ticket_id, to_change=True)
        return state

    def opened(self, state: TicketState) -> None:
        self._states[state.id] = state

    def touched(self, state: TicketState, now: datetime) -> None:
        """A message was filed on the ticket: it is written at the end of the group, stamped `now`."""
        self._touched[state.id] = now

    def save_all(self, conn: Connection) -> None:
        """One UPDATE per set of changed columns, for every ticket the group touched."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for ticket_id, at in self._touched.items():
            state = self._states[ticket_id]
            by_columns.setdefault(tuple(sorted(state.changes)), []).append({"ticket_pk": ticket_id, "updated_at": at, **state.changes})
            state.changes.clear()
        for params in by_columns.values():
            conn.execute(_SAVE_TICKET, params)
        self._touched.clear()


@dataclass(frozen=True)
class Filed:
    analysis: MailAnalysis  # computed before the transaction: the steps read it, never recompute it
    ticket: TicketState
    message_row_id: int
    new_ticket: bool
    duplicate: bool
    thread: ThreadDecision | None
    received_at: datetime | None = None  # when mailbot got the message: response clocks start here
    proof: Proof | None = None  # set when the message claimed to be an agent's (or was)
    history: bool = False  # the folder held it when mailbot first saw the folder: filed, never answered
    seat: str = ""  # the sender's role on the ticket: customer, cc, agent, or guest (sent nothing); "" without a sender

    @property
    def guest(self) -> bool:
        return self.seat == seats.GUEST

    @property
    def mail(self) -> InboundMail:
        """The message as the steps see it: bounded (InputLimits); the stored row has all of it."""
        return self.analysis.mail

    @property
    def agent(self) -> Agent | None:
        return self.proof.agent if self.proof else None

    @property
    def ticket_id(self) -> int:
        return self.ticket.id


def file_message(
    writer: Writer, inbound_id: int, whole: InboundMail, desk: Desk, now: datetime, received_at: datetime | None = None,
    analysis: MailAnalysis | None = None, history: bool = False, tickets: GroupTickets | None = None,
) -> Filed:
    """File `whole` (stored as it came); every decision is taken on the analysis' bounded view of it. With
    `tickets`, tickets are read through it (the caller saves them); without, each is read from the database."""
    def load(ticket_id: int) -> TicketState:
        return tickets.load(writer.conn, ticket_id) if tickets is not None else load_ticket(writer.conn, ticket_id, to_change=True)

    if analysis is None:
        analysis = analyze(whole, desk.limits, desk.default_language)
    mail = analysis.mail
    token = find_token(analysis.token_candidates, desk.signer, desk.support_address)
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
    lookup = gather(writer.conn, mail, token, desk.signer, desk.message_id_domain, writer.collected_ref, writer.reads)
    digests, fingerprint = analysis.attachment_digests, analysis.fingerprint
    reused_from: int | None = None
    if lookup.seen_before:
        earlier = find_earlier_copy(writer.conn, mail, fingerprint)
        if earlier is not None and earlier.same_content:
            writer.event(earlier.ticket_id, "message.duplicate", now, inbound_id=inbound_id, message_id=mail.message_id, first_copy=earlier.row_id)
            return Filed(
                analysis, load(earlier.ticket_id), earlier.row_id, new_ticket=False, duplicate=True, thread=None,
                received_at=received_at or now,
            )
        if earlier is not None:
            reused_from = earlier.row_id

    decision = decide_thread(lookup.facts)
    sender = mail.sender.addr if mail.sender else ""
    sender_name = mail.sender.name if mail.sender else ""
    agent = proof.agent
    follows: int | None = None
    # History is threaded by when it was written, not by when it is imported.
    written = (mail_time(mail.headers, received_at or now).at or now) if history else now
    old: TicketState | None = None
    if decision.ticket_id is not None and agent is None:
        old = load(decision.ticket_id)
        if old.status == TicketStatus.CLOSED and old.closed_at is not None and written - old.closed_at > timedelta(days=desk.reopen_days):
            # Too long ago to reopen: a new ticket that points at the old one.
            notes.append(f"ticket {old.id} closed on {old.closed_at:%Y-%m-%d}, more than {desk.reopen_days} days ago: new ticket")
            follows, decision = old.id, ThreadDecision(None, "new", (*decision.reasons, notes[-1]))
    new = decision.ticket_id is None
    if new:
        subject = strip_prefixes(mail.subject) or "(no subject)"
        language = analysis.language  # the customer's language, for the ticket's lifetime
        ticket_id = writer.insert_id(
            Ticket, subject=subject, status=TicketStatus.NEW, queue="support", priority="normal", customer=sender, tags=[],
            language=language, follows=follows, created_at=written, updated_at=now,
        )
        ticket = TicketState(ticket_id, subject, TicketStatus.NEW, "support", "normal", None, sender, language, [])
        if tickets is not None:
            tickets.opened(ticket)
        writer.event(ticket.id, "ticket.opened", now, inbound_id=inbound_id, customer=sender, follows=follows)
    else:
        assert decision.ticket_id is not None
        ticket = old if old is not None and old.id == decision.ticket_id else load(decision.ticket_id)
    seat, seat_note, on_record = _seat(writer, ticket, mail, agent is not None, new, desk)
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
        subject=whole.subject,
        text=whole.text,
        html=whole.html,
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

    if seat and sender and not on_record:
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
    return Filed(
        analysis, ticket, message_row_id, new_ticket=new, duplicate=False, thread=decision, received_at=received_at or now,
        proof=proof, history=history, seat=seat,
    )


def _seat(writer: Writer, ticket: TicketState, mail: InboundMail, is_agent: bool, new: bool, desk: Desk) -> tuple[str, str, bool]:
    """The sender's role on the ticket, a note for the event log when a stranger became a guest, and whether
    the ticket has the sender on record already (then nothing is added)."""
    if mail.sender is None:
        # Nobody to give a seat to: on an existing ticket it is a guest's message, changing nothing.
        return ("", "", False) if new else (seats.GUEST, "no usable sender address: filed as a guest's message, sent nothing", False)
    if is_agent:
        return "agent", "", False
    if new:
        return "customer", "", False
    known = seats.role_of(writer, ticket.id, mail.sender.addr)
    if known is not None:
        return known, "", True
    return (*seats.seat_for_stranger(ticket.customer, mail.sender.addr, desk), False)


def _may_use_agent_token(conn: Connection, token: ReplyToken, mail: InboundMail, desk: Desk) -> bool:
    """Without agent proof, an agent's reply address still files the message on its ticket when the sender
    is that agent (unauthenticated: a customer message, never relayed) or already on the ticket."""
    if mail.sender is None:
        return False
    agent = desk.agents.by_key(token.extra)
    if agent is not None and agent.address == mail.sender.addr:
        return True
    found = conn.execute(_SENDER_ON_TICKET, {"ticket_pk": token.ticket_id, "address": mail.sender.addr}).first()
    return found is not None
