"""Typed SQLAlchemy models: the database is the single source of truth for mail, tickets and their history."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mailbot.core.ticket_states import InboundStatus, OutboxStatus, TicketStatus


def _one_of(column: str, states: type[StrEnum]) -> str:
    """A CHECK expression allowing exactly the values of `states`."""
    return f"{column} IN ({', '.join(repr(s.value) for s in states)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend and hands back timezone-aware UTC; refuses naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass a timezone-aware value")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class MailboxCursor(Base):
    """How far intake has read one folder: (UIDVALIDITY, last UID), committed with the messages; and what the
    folder held when mailbot first saw it, which is filed as history (IMAP: UIDs up to `history_upto_uid`;
    a Maildir, whose row has UIDVALIDITY 0: what new/ holds until `history_done_at`)."""

    __tablename__ = "mailbox_cursor"
    __table_args__ = (UniqueConstraint("source", "folder", name="uq_cursor_source_folder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]
    first_seen_at: Mapped[datetime | None]  # None: read before history import existed, so it has none
    history_upto_uid: Mapped[int | None] = mapped_column(BigInteger)
    history_done_at: Mapped[datetime | None]  # when the first full pass over the folder ended


class DeskSecret(Base):
    """The secrets that sign reply addresses and Message-IDs, shared by every worker of the desk. The newest row
    signs; an older one still verifies until `verify_until` (set when it was rotated out)."""

    __tablename__ = "desk_secret"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]
    verify_until: Mapped[datetime | None]


# A worker's identity, "<[workers] name>@<host>:<pid>" (store/source_leases.worker_identity): up to 200 + 1 + 255
# (a host name's POSIX limit) + 1 + 10 characters.
OWNER_LENGTH = 500


class SourceLease(Base):
    """Which worker reads a mail source (IMAP account + folder set, or Maildir) until when; renewed by its holder,
    taken over by another worker once it has run out."""

    __tablename__ = "source_lease"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(OWNER_LENGTH))  # the holder's worker identity
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]


class Inbound(Base):
    """One message exactly as it came off the server, and where it is in processing."""

    __tablename__ = "inbound"
    __table_args__ = (
        UniqueConstraint("raw_sha256", name="uq_inbound_raw_sha256"),
        # The claim walks pending rows in id order and takes the first that is due: (status, id) makes that
        # O(1) however many are waiting, where (status, next_attempt_at) had to sort them all.
        Index("ix_inbound_queue", "status", "id"),
        CheckConstraint(_one_of("status", InboundStatus), name="ck_inbound_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    location: Mapped[str | None] = mapped_column(String(500))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    size: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime]
    # pending → done | duplicate | quarantined; quarantined → pending on a manual retry
    status: Mapped[str] = mapped_column(String(20), default=InboundStatus.RECEIVED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    processed_at: Mapped[datetime | None]
    # The folder held it when mailbot first saw the folder: filed into a ticket, never answered, no clock.
    history: Mapped[bool] = mapped_column(default=False, server_default=false())


class InboundRaw(Base):
    """The bytes of an inbound message, apart from its status row: SQLite rewrites a whole row on every
    update, and a status change must not copy the message each time."""

    __tablename__ = "inbound_raw"

    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id"), primary_key=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_status", "status"),
        CheckConstraint(_one_of("status", TicketStatus), name="ck_ticket_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.NEW.value)
    queue: Mapped[str] = mapped_column(String(100), default="support")
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    assignee: Mapped[str | None] = mapped_column(String(320))
    customer: Mapped[str] = mapped_column(String(320), default="")
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Entitlement snapshot, taken from the sender's purchases when the customer writes.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    entitlement_state: Mapped[str] = mapped_column(String(20), default="unknown")
    plan: Mapped[str | None] = mapped_column(String(100))
    entitlement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The response clock (one at a time): first response, then next response after each follow-up.
    sla_clock: Mapped[str | None] = mapped_column(String(10))
    sla_started_at: Mapped[datetime | None]
    sla_resumed_at: Mapped[datetime | None]
    sla_paused_at: Mapped[datetime | None]
    sla_total_seconds: Mapped[int | None] = mapped_column(Integer)
    sla_consumed_seconds: Mapped[int] = mapped_column(Integer, default=0)
    sla_calendar: Mapped[str | None] = mapped_column(String(100))
    sla_due_at: Mapped[datetime | None]
    # When the sweep next has something to do for this ticket; indexed, so a sweep reads only what is due.
    sla_next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # A class a rule recognised but could not act on (it would have taken the customer's promise away), and that
    # rule: an agent confirms (`#scope out`, `#quote`, `#partnership`) or dismisses (`#scope in`) it.
    suggested_class: Mapped[str | None] = mapped_column(String(100))
    suggested_rule: Mapped[str | None] = mapped_column(Text)
    # A customer who writes to a ticket closed long ago opens a new one, linked to the old.
    follows: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))

    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", order_by="TicketMessage.id", cascade="all, delete-orphan"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="ticket", order_by="Participant.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(order_by="Event.id", cascade="all, delete-orphan")


class TicketMessage(Base):
    """A message on a ticket, inbound (from the customer or an agent) or outbound (sent by mailbot)."""

    __tablename__ = "ticket_message"
    __table_args__ = (
        UniqueConstraint("inbound_id", name="uq_ticket_message_inbound"),
        Index("ix_ticket_message_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(20), default="customer")  # customer | agent | system
    # public: the customer saw or sent it; internal: agents only (notes, unproven agent mail, errors)
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    # When credentials in this message are to be removed from the stored copies (privacy.toml); indexed so
    # housekeeping reads only what is due.
    redact_at: Mapped[datetime | None] = mapped_column(index=True)
    message_id: Mapped[str] = mapped_column(String(998), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # core/fingerprint.py: equal for two copies of one message, different for a reused Message-ID
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # how the text was decoded (charsets and why) and what was repaired, as parsing recorded it
    decoding: Mapped[list[Any] | None] = mapped_column(JSON)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", cascade="all, delete-orphan")


class MessageRef(Base):
    """Every Message-ID stored or sent for a ticket, so In-Reply-To/References find it with one indexed lookup."""

    __tablename__ = "message_ref"
    __table_args__ = (UniqueConstraint("message_id", name="uq_message_ref_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)


class Blob(Base):
    """Attachment content, addressed by its SHA-256; never stored under a name taken from the mail."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_message_id: Mapped[int] = mapped_column(ForeignKey("ticket_message.id"), index=True)
    filename: Mapped[str] = mapped_column(String(500), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    disposition: Mapped[str] = mapped_column(String(20), default="attachment")  # attachment | inline
    content_id: Mapped[str | None] = mapped_column(String(998))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))


class Participant(Base):
    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("ticket_id", "address", name="uq_participant_ticket_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    address: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    role: Mapped[str] = mapped_column(String(20), default="customer")  # customer | cc | agent
    added_at: Mapped[datetime]

    ticket: Mapped[Ticket] = relationship(back_populates="participants")


class Event(Base):
    """The ticket's log: what happened, when, and why (threading reasons, rule hits, errors)."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Outbox(Base):
    """A finished outgoing message, written in the same transaction as the decision that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        Index("ix_outbox_queue", "status", "id"),
        CheckConstraint(_one_of("status", OutboxStatus), name="ck_outbox_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # ack | reply | notify | relay | escalation | ...
    # At most one row per key: "ack:1042" makes a second acknowledgement for ticket 1042 impossible.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    mail_from: Mapped[str] = mapped_column(String(320))  # envelope sender (a signed bounce address)
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    automatic: Mapped[bool] = mapped_column(default=False)
    # held → queued (released by a person) → sent | failed | bounced; held or queued → cancelled by a person
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AutoReply(Base):
    """One automatic reply sent (queued) to an address: the daily cap counts these."""

    __tablename__ = "auto_reply"
    __table_args__ = (Index("ix_auto_reply_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))


class Suppression(Base):
    """An address that gets no more automatic mail (it bounced), and why."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("address", name="uq_suppression_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound.id"))


class Customer(Base):
    """Someone who buys: known by the billing system's id, reached at addresses or whole domains."""

    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("external_id", name="uq_customer_external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))  # what mail that is not an answer is written in
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustomerAddress(Base):
    __tablename__ = "customer_address"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_customer_address_kind_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # address | domain
    value: Mapped[str] = mapped_column(String(320))


class PurchaseRecord(Base):
    """One purchase: a support period bought, or a license."""

    __tablename__ = "entitlement"
    __table_args__ = (UniqueConstraint("customer_id", "product", "plan", "paid_at", name="uq_entitlement_purchase"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # support_period | license
    plan: Mapped[str] = mapped_column(String(100))
    paid_at: Mapped[datetime]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(20), default="csv")  # csv | sql
    updated_at: Mapped[datetime]


class Escalation(Base):
    """A warning or breach notice that fired; the unique key makes each fire once, however often the sweep runs."""

    __tablename__ = "escalation"
    __table_args__ = (UniqueConstraint("ticket_id", "clock", "level", "deadline", name="uq_escalation_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    clock: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(50))
    deadline: Mapped[datetime]
    fired_at: Mapped[datetime]
    recipients: Mapped[list[Any]] = mapped_column(default=list)


class WorkerHeartbeat(Base):
    """One running daemon, wherever it runs: it writes `beat_at` on a timer, so `status` sees it from any host."""

    __tablename__ = "worker_heartbeat"

    worker: Mapped[str] = mapped_column(String(OWNER_LENGTH), primary_key=True)  # the worker identity: [name@]host:pid
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class SourceHealthRow(Base):
    """A mail source's last successful poll and last error, as the worker that polled it last saw them."""

    __tablename__ = "source_health"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(OWNER_LENGTH))
    updated_at: Mapped[datetime]
