"""Write outgoing mail into the outbox inside the caller's transaction, at most once per dedupe key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select

from mailbot.core.mail import Address
from mailbot.core.tokens import Signer
from mailbot.outbox.compose import Outgoing, compose
from mailbot.store.group_reads import AUTO_REPLY_WINDOW
from mailbot.store.models import AutoReply, Outbox, Suppression, TicketMessage
from mailbot.store.writer import Writer


@dataclass(frozen=True)
class MailOrigin:
    """Where outgoing mail comes from: the support address, its name, and what signs its bounce address."""

    support_address: str
    support_name: str
    message_id_domain: str
    signer: Signer
    give_up_after: timedelta

    def new_message_id(self, ticket_id: int, internal: bool = False) -> str:
        return self.signer.message_id(ticket_id, self.message_id_domain, internal=internal)

    def bounce_address(self, message_id: str) -> str:
        return self.signer.bounce_address(self.support_address, message_id)


def existing(conn: Connection, dedupe_key: str) -> int | None:
    return conn.execute(select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)).scalar_one_or_none()


def outbox_values(origin: MailOrigin, out: Outgoing, kind: str, ticket_id: int | None, now: datetime, dedupe_key: str | None, automatic: bool, hold: bool) -> dict[str, object]:
    return {
        "ticket_id": ticket_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "message_id": out.message_id,
        "mail_from": origin.bounce_address(out.message_id),
        "recipients": [a.addr for a in out.to],
        "subject": out.subject,
        "raw": compose(out),
        "automatic": automatic,
        "status": "held" if hold else "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "expires_at": now + origin.give_up_after,
        "created_at": now,
        "sent_at": None,
        "last_error": None,
    }


def enqueue_later(writer: Writer, origin: MailOrigin, out: Outgoing, *, kind: str, ticket_id: int | None, now: datetime, dedupe_key: str) -> None:
    """Queue mail that nothing points back to (escalations, renewal reminders) with the other rows of this
    transaction, one INSERT for many. Its Message-ID is not recorded as one of a ticket's. A second row with
    the same dedupe key is skipped."""
    writer.add(Outbox, **outbox_values(origin, out, kind, ticket_id, now, dedupe_key, automatic=False, hold=False))


def enqueue(
    writer: Writer,
    origin: MailOrigin,
    out: Outgoing,
    *,
    kind: str,
    ticket_id: int,
    now: datetime,
    dedupe_key: str | None = None,
    check_existing: bool = True,
    automatic: bool = False,
    hold: bool = False,
    record_on_ticket: bool = False,
    internal: bool = False,
) -> int:
    """Queue `out` (which carries a Message-ID from `new_message_id`); returns the outbox row's id.

    A row with the same dedupe key wins: its id is returned instead. `check_existing=False` skips that
    lookup where the key cannot exist yet (the unique constraint still stands behind it). `internal` mail
    (for agents) is not recorded as one of the ticket's Message-IDs: answering it proves nothing.
    """
    if dedupe_key is not None and check_existing:
        found = existing(writer.conn, dedupe_key)
        if found is not None:
            return found
    row_id = writer.insert_id(Outbox, **outbox_values(origin, out, kind, ticket_id, now, dedupe_key, automatic, hold))
    if automatic:
        for a in out.to:
            writer.add(AutoReply, address=a.addr, at=now, outbox_id=row_id)
    if not internal:
        writer.message_ref(out.message_id, ticket_id)
    if record_on_ticket:
        writer.add(
            TicketMessage, ticket_id=ticket_id, inbound_id=None, direction="out", author="system", message_id=out.message_id,
            sender=out.from_addr, sender_name=out.from_name, subject=out.subject, text=out.body, html=None,
            sent_at=None, created_at=now,
        )
    return row_id


# Built once: they run for every automatic answer.
_AUTO_REPLIES_SINCE = select(func.count()).select_from(AutoReply).where(AutoReply.address == bindparam("address"), AutoReply.at > bindparam("since"))
_SUPPRESSION_OF = select(Suppression.at, Suppression.reason).where(Suppression.address == bindparam("address"))


def auto_replies_today(writer: Writer, address: str, now: datetime) -> int:
    """Automatic replies to `address` in the last AUTO_REPLY_WINDOW: stored (or read for the group) and collected."""
    since = now - AUTO_REPLY_WINDOW
    reads = writer.reads
    if reads is not None and address in reads.asked_targets and reads.replies_since is not None and since >= reads.replies_since:
        stored = sum(1 for at in reads.auto_replies.get(address, ()) if at > since)
    else:
        stored = int(writer.conn.execute(_AUTO_REPLIES_SINCE, {"address": address, "since": since}).scalar_one())
    return stored + writer.collected_auto_replies(address, since)


def suppression_of(writer: Writer, address: str) -> tuple[datetime, str] | None:
    """(when, why) if `address` gets no automatic mail: stored (or read for the group), else collected."""
    reads = writer.reads
    if reads is not None and address in reads.asked_targets:
        stored = reads.suppressions.get(address)
    else:
        row = writer.conn.execute(_SUPPRESSION_OF, {"address": address}).first()
        stored = (row[0], row[1]) if row is not None else None
    return stored if stored is not None else writer.collected_suppression(address)


def reply_target(reply_to: tuple[Address, ...], sender: Address | None) -> Address | None:
    """Where an answer goes: the first Reply-To address, else the sender."""
    return reply_to[0] if reply_to else sender
