"""The typed views templates see, built once from the ticket, the message and the support terms."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from mailbot.core.credentials import hide
from mailbot.core.entitlement import last_day
from mailbot.core.mail import Address, InboundMail
from mailbot.core.template_contexts import CustomerView, DeskView, EntitlementView, MessageView, TicketView
from mailbot.outbox.enqueue import MailOrigin
from mailbot.policy.terms import Terms
from mailbot.process.filing import TicketState


def ticket_view(ticket: TicketState) -> TicketView:
    return TicketView(ticket.id, ticket.subject, ticket.queue, ticket.priority, ticket.status, ticket.assignee, tuple(ticket.tags))


def desk_view(origin: MailOrigin) -> DeskView:
    return DeskView(origin.support_name, origin.support_address)


def display_zone(ticket: TicketState, terms: Terms | None) -> str:
    """Times shown to the customer: their own time zone when known, else the zone of the calendar their
    deadline counts on, else the desk's."""
    if ticket.entitlement.get("timezone"):
        return str(ticket.entitlement["timezone"])
    if terms is None:
        return "UTC"
    calendar = terms.calendars.get(ticket.sla_calendar or "")
    return calendar.zone.key if calendar is not None else terms.desk_zone.key


def customer_view(who: Address | None, zone: str) -> CustomerView:
    return CustomerView(who.addr if who else "", who.name if who else "", zone)


def message_view(mail: InboundMail, text: str | None = None, secrets: tuple[str, ...] = ()) -> MessageView:
    """The customer's message as mail mailbot writes may show it: any credentials they sent masked."""
    return MessageView(hide(mail.subject, secrets), hide(mail.text if text is None else text, secrets), mail.message_id)


def entitlement_view(ticket: TicketState, terms: Terms | None) -> EntitlementView:
    ent = ticket.entitlement
    until = datetime.fromisoformat(ent["valid_until"]) if ent.get("valid_until") else None
    return EntitlementView(
        state=ticket.entitlement_state,
        plan=ticket.plan,
        product=ent.get("product"),
        reason=ent.get("reason", ""),
        valid_until=until,
        renew_url=terms.renew_urls.get(ticket.plan or "", "") if terms else "",
        last_day=last_day(until, ZoneInfo(ent["timezone"]) if ent.get("timezone") else terms.desk_zone) if until and terms else None,
    )
