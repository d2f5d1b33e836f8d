"""Reads done once for a whole filing group: the stored Message-IDs and customer addresses its messages name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, select

from mailbot.store.models import CustomerAddress, MessageRef

# Built once, and used by the one-message lookups too (thread_lookup, customers.lookup).
STORED_REFS = select(MessageRef.message_id, MessageRef.ticket_id).where(MessageRef.message_id.in_(bindparam("ids", expanding=True)))
CUSTOMER_ADDRESSES = select(CustomerAddress.kind, CustomerAddress.value, CustomerAddress.customer_id).where(
    CustomerAddress.value.in_(bindparam("values", expanding=True))
)
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


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def read_for_group(conn: Connection, message_ids: Iterable[str], customer_values: Iterable[str]) -> GroupReads:
    """One query for the Message-IDs and one for the customer addresses and domains of a whole group.

    Valid while the group's transaction writes no Message-ID and no customer address to the database (filing
    sends Message-IDs at the end of the group; customers are written by imports only)."""
    ids = sorted(set(message_ids))
    values = sorted(set(customer_values))
    reads = GroupReads(asked_ids=frozenset(ids), asked_values=frozenset(values))
    for chunk in _chunks(ids):
        reads.refs.update((mid, ticket) for mid, ticket in conn.execute(STORED_REFS, {"ids": chunk}))
    for chunk in _chunks(values):
        reads.customer_keys.update(((kind, value), customer) for kind, value, customer in conn.execute(CUSTOMER_ADDRESSES, {"values": chunk}))
    return reads
