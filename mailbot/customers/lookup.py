"""Find a sender's customer and purchases: an exact address first, else the domain or a parent domain."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from mailbot.core.entitlement import Purchase
from mailbot.store.group_reads import CUSTOMER_ADDRESSES, GroupReads
from mailbot.store.models import Customer, PurchaseRecord


@dataclass(frozen=True)
class CustomerMatch:
    customer_id: int
    external_id: str
    name: str
    timezone: str | None
    matched: str  # "address alice@x.example" or "domain x.example"
    purchases: tuple[Purchase, ...]


def parent_domains(domain: str) -> list[str]:
    """'mail.shop.example.com' → ['mail.shop.example.com', 'shop.example.com', 'example.com']."""
    labels = domain.lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] or [domain.lower()]


# Built once: the lookup runs for every message.
_CUSTOMER = select(Customer.external_id, Customer.name, Customer.timezone).where(Customer.id == bindparam("customer_pk"))
_PURCHASES = select(
    PurchaseRecord.product, PurchaseRecord.kind, PurchaseRecord.plan, PurchaseRecord.paid_at, PurchaseRecord.starts_at, PurchaseRecord.ends_at
).where(PurchaseRecord.customer_id == bindparam("customer_pk"))


def candidates(address: str) -> list[tuple[str, str]]:
    """What a sender may be known by, the most specific first: the address, its domain, the parent domains."""
    address = address.lower()
    domain = address.rsplit("@", 1)[-1]
    return [("address", address)] + [("domain", d) for d in parent_domains(domain)]


def find_customer(conn: Connection, address: str, reads: GroupReads | None = None) -> CustomerMatch | None:
    """The sender's customer and purchases; `reads`, when given, may already hold the addresses looked for."""
    wanted = candidates(address)
    values = [v for _, v in wanted]
    if reads is not None and reads.asked_values.issuperset(values):
        by_key = {key: reads.customer_keys[key] for key in wanted if key in reads.customer_keys}
    else:
        by_key = {(kind, value): customer for kind, value, customer in conn.execute(CUSTOMER_ADDRESSES, {"values": values})}
    for key in wanted:  # the most specific match wins
        if key in by_key:
            customer_id = by_key[key]
            break
    else:
        return None
    customer = conn.execute(_CUSTOMER, {"customer_pk": customer_id}).one()
    bought = conn.execute(_PURCHASES, {"customer_pk": customer_id}).all()
    return CustomerMatch(
        customer_id=customer_id,
        external_id=customer.external_id,
        name=customer.name,
        timezone=customer.timezone,
        matched=f"{key[0]} {key[1]}",
        purchases=tuple(Purchase(*row) for row in bought),
    )
