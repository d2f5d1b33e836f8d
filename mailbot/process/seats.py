"""Who has a seat on a ticket, and so gets its mail: the opener, a capped number of the first message's To/Cc,
agents, and whoever an agent admits (or, where the desk allows it, the customer's colleagues).

Anyone else who writes to a ticket — through its reply address, a Message-ID or a bounce address they learned —
is filed on it as a guest: recorded, shown to the agents, sent nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from mailbot.core.mail import Address, InboundMail
from mailbot.process.desk import Desk
from mailbot.store.models import Participant
from mailbot.store.writer import Writer

GUEST = "guest"
# Roles that receive the ticket's mail (agents get theirs as notifications).
SEATED = ("customer", "cc")


@dataclass(frozen=True)
class FirstSeats:
    seated: tuple[Address, ...]
    left_out: tuple[str, ...]  # beyond max_participants: they become guests if they write


def first_message_seats(mail: InboundMail, sender: str, desk: Desk) -> FirstSeats:
    """The first message's To/Cc that get a seat: never the desk's own addresses, at most max_participants."""
    candidates: dict[str, Address] = {}
    for addr in (*mail.to, *mail.cc):
        if not desk.is_own_address(addr.addr) and addr.addr != sender:
            candidates.setdefault(addr.addr, addr)
    ordered = list(candidates.values())
    cap = desk.max_participants
    return FirstSeats(tuple(ordered[:cap]), tuple(a.addr for a in ordered[cap:]))


_ROLE_OF = select(Participant.role).where(Participant.ticket_id == bindparam("ticket_pk"), Participant.address == bindparam("address"))


def role_of(writer: Writer, ticket_id: int, address: str) -> str | None:
    """The address's role on the ticket (None: not on it); from what was read for the filing group if it can."""
    if writer.reads is not None:
        known, role = writer.reads.role_on(ticket_id, address)
        if known:
            return role
    return writer.conn.execute(_ROLE_OF, {"ticket_pk": ticket_id, "address": address}).scalar()


def seat_for_stranger(customer: str, sender: str, desk: Desk) -> tuple[str, str]:
    """The role someone not on record gets when they write to an existing ticket, and why."""
    if desk.colleagues_from_same_domain and customer and sender.rsplit("@", 1)[-1] == customer.rsplit("@", 1)[-1]:
        return "cc", f"{sender} writes from the domain of the ticket's customer {customer}: admitted (colleagues_from_same_domain)"
    return GUEST, f"{sender} is not a participant of this ticket: filed as a guest, sent nothing until an agent admits them with #cc add {sender}"


def admit(writer: Writer, ticket_id: int, address: str, now: datetime) -> bool:
    """Give `address` a seat (a guest's becomes a real one). False when it had one already."""
    role = role_of(writer, ticket_id, address)
    if role in (*SEATED, "agent"):
        return False
    if role == GUEST:
        writer.participants_changed(ticket_id)
        writer.conn.execute(update(Participant).where(Participant.ticket_id == ticket_id, Participant.address == address).values(role="cc"))
    else:
        writer.insert_id(Participant, ticket_id=ticket_id, address=address, name="", role="cc", added_at=now)
    return True


def unseat(writer: Writer, ticket_id: int, address: str) -> bool:
    """Take a cc's seat away (they stay on record as a guest). False when they had none to take."""
    writer.participants_changed(ticket_id)
    done = writer.conn.execute(
        update(Participant).where(Participant.ticket_id == ticket_id, Participant.address == address, Participant.role == "cc").values(role=GUEST)
    )
    return bool(done.rowcount)


def seated(conn: Connection, ticket_id: int) -> list[Address]:
    """Everyone on the ticket who gets its mail, in the order they joined."""
    rows = conn.execute(
        select(Participant.address, Participant.name).where(Participant.ticket_id == ticket_id, Participant.role.in_(SEATED)).order_by(Participant.id)
    ).all()
    return [Address(addr, name) for addr, name in rows]
