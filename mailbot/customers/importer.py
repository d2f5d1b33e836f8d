"""Import customers and purchases: idempotent, a bad row is reported by line and the rest still imports."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mailbot.core.addresses import valid_addr_spec
from mailbot.core.entitlement import KINDS, PlanTerms
from mailbot.store.models import Customer, CustomerAddress, PurchaseRecord

COLUMNS = ("customer", "name", "email", "domain", "timezone", "language", "product", "kind", "plan", "paid", "starts", "ends")
REQUIRED = ("customer", "product", "plan", "paid")
_SPLIT = re.compile(r"[\s,;]+")
_LANGUAGE = re.compile(r"[a-z]{2}")  # ISO 639-1, the codes templates are named with


class RowError(ValueError):
    """What is wrong with one row (the importer reports it with the line number and goes on)."""


@dataclass
class ImportReport:
    rows: int = 0
    customers_added: int = 0
    purchases_added: int = 0
    purchases_updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.rows} rows: {self.customers_added} new customers, {self.purchases_added} new purchases, "
            f"{self.purchases_updated} updated, {self.unchanged} unchanged, {self.removed} removed, {len(self.errors)} rejected"
        )


def _moment(value: str, zone: ZoneInfo, column: str) -> datetime:
    value = value.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{column}: {value!r} is not a date (2026-03-01) or a date and time (2026-03-01T14:30:00+03:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@dataclass(frozen=True)
class Row:
    customer: str
    name: str
    emails: tuple[str, ...]
    domains: tuple[str, ...]
    timezone: str | None
    product: str
    kind: str
    plan: str
    paid: datetime
    starts: datetime | None
    ends: datetime | None
    language: str | None = None


def check_row(raw: Mapping[str, Any], plans: Mapping[str, PlanTerms], desk_zone: ZoneInfo) -> Row:
    values = {k.strip().lower(): ("" if v is None else str(v)).strip() for k, v in raw.items() if k}
    missing = [c for c in REQUIRED if not values.get(c)]
    if missing:
        raise RowError(f"missing {', '.join(missing)}")
    plan = values["plan"]
    if plan not in plans:
        raise RowError(f"plan: unknown plan {plan!r} (plans.toml has: {', '.join(sorted(plans)) or 'none'})")
    kind = values.get("kind") or plans[plan].kind
    if kind not in KINDS:
        raise RowError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if kind != plans[plan].kind:
        raise RowError(f"kind: plan {plan!r} is a {plans[plan].kind} plan, the row says {kind}")
    emails = tuple(e.lower() for e in _SPLIT.split(values.get("email", "")) if e)
    bad = [e for e in emails if not valid_addr_spec(e)]
    if bad:
        raise RowError(f"email: {bad[0]!r} is not an e-mail address")
    domains = tuple(d.lower().lstrip("@") for d in _SPLIT.split(values.get("domain", "")) if d)
    bad = [d for d in domains if not valid_addr_spec(f"x@{d}") or "." not in d]
    if bad:
        raise RowError(f"domain: {bad[0]!r} is not a domain")
    zone_name = values.get("timezone") or None
    zone = desk_zone
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise RowError(f"timezone: unknown time zone {zone_name!r}") from None
    paid = _moment(values["paid"], zone, "paid")
    starts = _moment(values["starts"], zone, "starts") if values.get("starts") else None
    ends = _moment(values["ends"], zone, "ends") if values.get("ends") else None
    if starts and ends and ends <= starts:
        raise RowError("ends must come after starts")
    language = values.get("language", "").lower() or None
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise RowError(f"language: {values['language']!r} is not a two-letter language code such as 'en' or 'ru'")
    return Row(values["customer"], values.get("name", ""), emails, domains, zone_name, values["product"], kind, plan, paid, starts, ends, language)


Key = tuple[int, str, str, datetime]


def _store(session: Session, row: Row, source: str, now: datetime) -> tuple[Key, bool, str]:
    """Write one row; returns its purchase key, whether the customer is new, and added/updated/unchanged."""
    customer = session.scalars(select(Customer).where(Customer.external_id == row.customer)).one_or_none()
    if customer is None:
        customer = Customer(external_id=row.customer, name=row.name, timezone=row.timezone, language=row.language, created_at=now, updated_at=now)
        session.add(customer)
        session.flush()
        new_customer = True
    else:
        new_customer = False
        if row.name and customer.name != row.name:
            customer.name, customer.updated_at = row.name, now
        if row.timezone and customer.timezone != row.timezone:
            customer.timezone, customer.updated_at = row.timezone, now
        if row.language and customer.language != row.language:
            customer.language, customer.updated_at = row.language, now
    for kind, values in (("address", row.emails), ("domain", row.domains)):
        for value in values:
            owner = session.scalars(select(CustomerAddress).where(CustomerAddress.kind == kind, CustomerAddress.value == value)).one_or_none()
            if owner is None:
                session.add(CustomerAddress(customer_id=customer.id, kind=kind, value=value))
            elif owner.customer_id != customer.id:
                other = session.get_one(Customer, owner.customer_id).external_id
                raise RowError(f"{'email' if kind == 'address' else 'domain'}: {value} already belongs to customer {other!r}")
    found = session.scalars(
        select(PurchaseRecord).where(
            PurchaseRecord.customer_id == customer.id, PurchaseRecord.product == row.product,
            PurchaseRecord.plan == row.plan, PurchaseRecord.paid_at == row.paid,
        )
    ).one_or_none()
    if found is None:
        session.add(
            PurchaseRecord(customer_id=customer.id, product=row.product, kind=row.kind, plan=row.plan, paid_at=row.paid,
                        starts_at=row.starts, ends_at=row.ends, source=source, updated_at=now)
        )
        outcome = "added"
    elif (found.kind, found.starts_at, found.ends_at, found.source) != (row.kind, row.starts, row.ends, source):
        found.kind, found.starts_at, found.ends_at, found.source, found.updated_at = row.kind, row.starts, row.ends, source, now
        outcome = "updated"
    else:
        outcome = "unchanged"
    session.flush()
    return (customer.id, row.product, row.plan, row.paid), new_customer, outcome


def import_rows(
    session: Session, rows: Iterable[tuple[int, Mapping[str, Any]]], plans: Mapping[str, PlanTerms], desk_zone: ZoneInfo,
    source: str, now: datetime, full_sync: bool = False,
) -> ImportReport:
    """Import `(line, row)` pairs. Each row is its own savepoint: a bad one is reported and skipped.

    With `full_sync`, purchases of this `source` that the rows no longer contain are removed (the billing
    database is the truth); a CSV import only adds and updates.
    """
    report = ImportReport()
    seen: set[Key] = set()
    for line, raw in rows:
        report.rows += 1
        try:
            row = check_row(raw, plans, desk_zone)
            with session.begin_nested():
                key, new_customer, outcome = _store(session, row, source, now)
        except RowError as exc:
            report.errors.append((line, str(exc)))
            continue
        seen.add(key)
        report.customers_added += new_customer
        if outcome == "added":
            report.purchases_added += 1
        elif outcome == "updated":
            report.purchases_updated += 1
        else:
            report.unchanged += 1
    if full_sync:
        for ent in session.scalars(select(PurchaseRecord).where(PurchaseRecord.source == source)):
            if (ent.customer_id, ent.product, ent.plan, ent.paid_at) not in seen:
                session.delete(ent)
                report.removed += 1
    return report


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with a header line, as (line number, row). Unknown columns are an error up front."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        unknown = [h for h in header if h and h not in COLUMNS]
        if unknown:
            raise RowError(f"{path}: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
        for row in reader:
            yield reader.line_num, row


def read_sql(url: str, query: str) -> list[tuple[int, dict[str, Any]]]:
    """Rows of the billing database's query, numbered from 1, with the same columns as the CSV."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [(i, dict(r._mapping)) for i, r in enumerate(conn.execute(text(query)), start=1)]
    finally:
        engine.dispose()

