"""Gather the store's facts for threading: tokens, stored Message-IDs, subject tags and participants.

At most three indexed queries, and none for a first message that names nothing: this runs for every message.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from mailbot.core.bounces import returned_message_ids
from mailbot.core.fingerprint import content_fingerprint
from mailbot.core.mail import InboundMail
from mailbot.core.subject import ticket_tags
from mailbot.core.thread_match import ThreadFacts
from mailbot.core.tokens import ReplyToken, Signer
from mailbot.store.group_reads import STORED_REFS, GroupReads
from mailbot.store.models import Attachment, Participant, Ticket, TicketMessage



# Built once: these run for every message.
_EXISTING = select(Ticket.id).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_PARTICIPATES = select(Participant.ticket_id).where(
    Participant.ticket_id.in_(bindparam("ids", expanding=True)), Participant.address == bindparam("address"), Participant.role != "guest"
)


def find_token(addresses: Iterable[str], signer: Signer, base_address: str, kinds: tuple[str, ...] = ("t", "a", "b")) -> ReplyToken | None:
    """The first valid signed token of one of `kinds` among `addresses` (`MailAnalysis.token_candidates`).

    Bounce addresses (kind b) name the ticket of the message that bounced, like ticket addresses do.
    """
    for candidate in addresses:
        token = signer.token_in_address(candidate, base_address)
        if token is not None and token.kind in kinds:
            return token
    return None


def named_ids(mail: InboundMail) -> tuple[list[str], list[str]]:
    """The Message-IDs `mail` points at (References, In-Reply-To, the message a delivery report returns), and
    its own Message-ID (a list of at most one)."""
    # A delivery report answers the message it returns, whose Message-ID it quotes in an attached part.
    returned = returned_message_ids(mail) if mail.content_type == "multipart/report" else []
    ids = [m for m in dict.fromkeys([*mail.thread_ids, *returned]) if m != mail.message_id]
    return ids, ([mail.message_id] if mail.message_id else [])


def opens_ticket(
    mail: InboundMail, token_candidates: Iterable[str], signer: Signer, base_address: str, domain: str,
    stored: Container[str], earlier: Container[str],
) -> bool:
    """True when filing is sure to open a new ticket for `mail`: no Message-ID it names or has is `stored` or
    `earlier` (the own Message-IDs of the messages filed before it in its transaction), or one of ours, its
    subject has no ticket tag and its recipients no reply token. False says nothing: threading decides.

    Used to draw ticket ids ahead (process/runner.py). A new kind of proof in `gather` must make this False
    too; were it wrong, a ticket id would wait unused for the next new ticket, and nothing would be misfiled."""
    ids, own = named_ids(mail)
    if any(mid in stored or mid in earlier or signer.ticket_of_message_id(mid, domain) is not None for mid in ids + own):
        return False
    return not ticket_tags(mail.subject) and find_token(token_candidates, signer, base_address) is None


@dataclass(frozen=True)
class Lookup:
    facts: ThreadFacts
    seen_before: bool  # the message's own Message-ID is already stored: maybe a second copy of it


def gather(
    conn: Connection, mail: InboundMail, token: ReplyToken | None, signer: Signer, domain: str,
    collected: Callable[[str], int | None] = lambda message_id: None, reads: GroupReads | None = None,
) -> Lookup:
    """The facts for threading `mail`; `collected` answers for Message-IDs this transaction filed and has not
    sent to the database yet (a stored Message-ID keeps its ticket, as the INSERT that skips duplicates does);
    `reads`, when given, holds the stored Message-IDs its group names, read at once for the whole group."""
    ids, own = named_ids(mail)
    refs: dict[str, int] = {}
    if ids or own:
        if reads is not None and reads.asked_ids.issuperset(ids + own):
            refs = {mid: reads.refs[mid] for mid in ids + own if mid in reads.refs}
        else:
            refs = {mid: ticket for mid, ticket in conn.execute(STORED_REFS, {"ids": ids + own})}
        for mid in ids + own:
            if mid not in refs and (ticket := collected(mid)) is not None:
                refs[mid] = ticket

    # Every ticket number claimed by a proof that does not come from our own table: check they exist, at once.
    signed = {mid: signer.ticket_of_message_id(mid, domain) for mid in ids if mid not in refs}
    tags = tuple(dict.fromkeys(ticket_tags(mail.subject)))
    claimed = {t for t in (token.ticket_id if token else None, *signed.values(), *tags) if t is not None}
    existing: set[int] = set()
    if claimed:
        existing = set(conn.execute(_EXISTING, {"ids": sorted(claimed)}).scalars())

    reference_ticket = reference_id = None
    for mid in ids:
        ticket = refs.get(mid)
        if ticket is None and signed.get(mid) in existing:
            ticket = signed[mid]  # a Message-ID we generated proves its ticket by its signature
        if ticket is not None:
            reference_ticket, reference_id = ticket, mid
            break

    tag_tickets = tuple(t for t in tags if t in existing)
    participates: frozenset[int] = frozenset()
    if mail.sender is not None and tag_tickets:
        participates = frozenset(conn.execute(_PARTICIPATES, {"ids": list(tag_tickets), "address": mail.sender.addr}).scalars())
    facts = ThreadFacts(
        token_ticket=token.ticket_id if token else None,
        token_ticket_exists=token is not None and token.ticket_id in existing,
        reference_ticket=reference_ticket,
        reference_id=reference_id,
        tag_tickets=tag_tickets,
        sender_participates_in=participates,
        missing_tag_tickets=tuple(t for t in tags if t not in existing),
    )
    return Lookup(facts=facts, seen_before=mail.message_id in refs)


@dataclass(frozen=True)
class EarlierCopy:
    """A message stored before under the same Message-ID from the same sender."""

    ticket_id: int
    row_id: int
    same_content: bool  # True: this is that message again; False: the Message-ID was reused


def _stored_fingerprint(conn: Connection, row_id: int, text: str) -> str:
    """The fingerprint of a row filed before fingerprints were stored, from its text and attachments."""
    digests = conn.execute(select(Attachment.sha256).where(Attachment.ticket_message_id == row_id)).scalars().all()
    return content_fingerprint(text, digests)


def find_earlier_copy(conn: Connection, mail: InboundMail, fingerprint: str) -> EarlierCopy | None:
    """The stored message with this one's Message-ID and sender: the same message (a second mailbox, a resend
    with other headers) when the content fingerprints match, otherwise a different message reusing the id."""
    if not mail.message_id or mail.sender is None:
        return None
    rows = conn.execute(
        select(TicketMessage.ticket_id, TicketMessage.id, TicketMessage.content_hash, TicketMessage.text)
        .where(TicketMessage.message_id == mail.message_id, TicketMessage.direction == "in", TicketMessage.sender == mail.sender.addr)
        .order_by(TicketMessage.id)
        .limit(20)
    ).all()
    if not rows:
        return None
    for ticket_id, row_id, stored, text in rows:
        if (stored or _stored_fingerprint(conn, row_id, text)) == fingerprint:
            return EarlierCopy(ticket_id, row_id, same_content=True)
    return EarlierCopy(rows[0][0], rows[0][1], same_content=False)
