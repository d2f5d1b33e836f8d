"""Find a sender's customer and purchases: an exact address first, else the domain or a parent domain."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from mailbot.core.entitlement import Purchase
from mailbot.store.models import Customer, CustomerAddress, PurchaseRecord


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
_ADDRESSES = select(CustomerAddress.kind, CustomerAddress.value, CustomerAddress.customer_id).where(
    CustomerAddress.value.in_(bindparam("values", expanding=True))
)
_CUSTOMER = select(Customer.external_id, Customer.name, Customer.timezone).where(Customer.id == bindparam("customer_pk"))
_PURCHASES = select(
    PurchaseRecord.product, PurchaseRecord.kind, PurchaseRecord.plan, PurchaseRecord.paid_at, PurchaseRecord.starts_at, PurchaseRecord.ends_at
).where(PurchaseRecord.customer_id == bindparam("customer_pk"))


def find_customer(conn: Connection, address: str) -> CustomerMatch | None:
    address = address.lower()
    domain = address.rsplit("@", 1)[-1]
    candidates = [("address", address)] + [("domain", d) for d in parent_domains(domain)]
    rows = conn.execute(_ADDRESSES, {"values": [v for _, v in candidates]}).all()
    by_key = {(kind, value): customer for kind, value, customer in rows}
    for key in candidates:  # the most specific match wins
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
