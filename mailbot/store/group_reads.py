"""Reads done once for a whole filing group: the Message-IDs, tickets' participants, customers and answer addresses it names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from mailbot.store.models import AutoReply, CustomerAddress, MessageRef, Participant, Suppression

# Built once, and used by the one-message lookups too (thread_lookup, customers.lookup).
STORED_REFS = select(MessageRef.message_id, MessageRef.ticket_id).where(MessageRef.message_id.in_(bindparam("ids", expanding=True)))
CUSTOMER_ADDRESSES = select(CustomerAddress.kind, CustomerAddress.value, CustomerAddress.customer_id).where(
    CustomerAddress.value.in_(bindparam("values", expanding=True))
)
_AUTO_REPLIES = select(AutoReply.address, AutoReply.at).where(
    AutoReply.address.in_(bindparam("addresses", expanding=True)), AutoReply.at > bindparam("since")
)
_PARTICIPANTS = select(Participant.ticket_id, Participant.address, Participant.role).where(
    Participant.ticket_id.in_(bindparam("ticket_pks", expanding=True))
)
_SUPPRESSIONS = select(Suppression.address, Suppression.at, Suppression.reason).where(Suppression.address.in_(bindparam("addresses", expanding=True)))
# The daily cap on automatic replies looks this far back.
AUTO_REPLY_WINDOW = timedelta(days=1)
# Bound parameters per query: SQLite allows 32,766, PostgreSQL 65,535; a group names far fewer.
_CHUNK = 5000


@dataclass
class GroupReads:
    """What the database held when the group began, for the keys its messages name (asked): an answer for a
    key outside `asked_*` is not known here and is read as before."""

    asked_ids: frozenset[str] = frozenset()
    refs: dict[str, int] = field(default_factory=dict)  # stored Message-ID → its ticket
    asked_values: frozenset[str] = frozenset()
    customer_keys: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, value) → customer
    asked_targets: frozenset[str] = frozenset()  # addresses the group may answer
    replies_since: datetime | None = None  # auto_replies holds the replies later than this
    auto_replies: dict[str, list[datetime]] = field(default_factory=dict)  # address → its automatic replies in the window
    suppressions: dict[str, tuple[datetime, str]] = field(default_factory=dict)  # address → (when, why)
    # ticket → address → role, for the tickets the stored Message-IDs lead to, until the group changes them
    participants: dict[int, dict[str, str]] = field(default_factory=dict)

    def role_on(self, ticket_id: int, address: str) -> tuple[bool, str | None]:
        """(known here, the address's role on the ticket or None)."""
        roles = self.participants.get(ticket_id)
        return (False, None) if roles is None else (True, roles.get(address))

    def forget_participants(self, ticket_id: int) -> None:
        """The group changed who is on the ticket: ask the database from now on."""
        self.participants.pop(ticket_id, None)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def read_for_group(
    conn: Connection, now: datetime, message_ids: Iterable[str], customer_values: Iterable[str], targets: Iterable[str],
) -> GroupReads:
    """One query each, for a whole group: the stored Message-IDs, the participants of the tickets they lead
    to, the customer addresses and domains, the automatic replies since `now` - AUTO_REPLY_WINDOW (messages
    filed later than `now` look less far back, and count from these) and the suppressions.

    Valid while the group's transaction sends none of these rows to the database (filing collects Message-IDs,
    automatic replies and suppressions until the end of the group, see store/writer.py, and forgets a ticket's
    participants when it adds one; customers are written by imports only)."""
    ids = sorted(set(message_ids))
    values = sorted(set(customer_values))
    addresses = sorted(set(targets))
    since = now - AUTO_REPLY_WINDOW
    reads = GroupReads(asked_ids=frozenset(ids), asked_values=frozenset(values), asked_targets=frozenset(addresses), replies_since=since)
    for chunk in _chunks(ids):
        reads.refs.update((mid, ticket) for mid, ticket in conn.execute(STORED_REFS, {"ids": chunk}))
    for chunk in _chunks(values):
        reads.customer_keys.update(((kind, value), customer) for kind, value, customer in conn.execute(CUSTOMER_ADDRESSES, {"values": chunk}))
    tickets = sorted(set(reads.refs.values()))
    for start in range(0, len(tickets), _CHUNK):
        reads.participants.update((t, {}) for t in tickets[start:start + _CHUNK])
        for ticket_id, address, role in conn.execute(_PARTICIPANTS, {"ticket_pks": tickets[start:start + _CHUNK]}):
            reads.participants[ticket_id][address] = role
    replies: dict[str, list[datetime]] = defaultdict(list)
    for chunk in _chunks(addresses):
        for address, at in conn.execute(_AUTO_REPLIES, {"addresses": chunk, "since": since}):
            replies[address].append(at)
        reads.suppressions.update((address, (at, reason)) for address, at, reason in conn.execute(_SUPPRESSIONS, {"addresses": chunk}))
    reads.auto_replies = dict(replies)
    return reads
