"""What the sender has paid for, decided now and kept on the ticket as a snapshot with its reason."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from mailbot.core.entitlement import decide_entitlement
from mailbot.customers.lookup import find_customer
from mailbot.process.message_context import MessageContext


class CheckEntitlement:
    name = "entitlement"

    def __call__(self, ctx: MessageContext) -> None:
        if ctx.automatic or ctx.filed.guest:
            # Neither automatic mail nor someone without a seat changes what the ticket's customer is entitled to,
            # and with no entitlement decided no response clock starts for them.
            return
        mail, ticket, terms = ctx.mail, ctx.ticket, ctx.policy.terms
        found = find_customer(ctx.writer.conn, mail.sender.addr, ctx.writer.reads) if mail.sender else None
        if found is None:
            ent = decide_entitlement([], terms.plans, ctx.now, terms.desk_zone)
            why = "sender not found among customers" if mail.sender else "no usable sender address"
            snapshot = {"reason": f"{why}: presales / unknown", "matched": None}
        else:
            # Days are the customer's own when their time zone is known (a purchase dated 1 March in New York
            # gives support to the end of 31 March there), else the desk's.
            zone = ZoneInfo(found.timezone) if found.timezone else terms.desk_zone
            ent = decide_entitlement(found.purchases, terms.plans, ctx.now, zone)
            snapshot = {"reason": ent.reason, "matched": found.matched, "customer": found.external_id, "timezone": found.timezone}
        snapshot.update(
            product=ent.product,
            valid_until=ent.valid_until.isoformat() if ent.valid_until else None,
            promise=ent.promise.describe() if ent.promise else None,
        )
        changed = (ticket.entitlement_state, ticket.plan) != (ent.state, ent.plan)
        ticket.set("customer_id", found.customer_id if found else None)
        ticket.set("entitlement_state", ent.state)
        ticket.set("plan", ent.plan)
        ticket.set("entitlement", {k: v for k, v in snapshot.items() if v is not None})
        if changed or ctx.filed.new_ticket:
            ctx.event("entitlement", state=ent.state, plan=ent.plan, reason=snapshot["reason"])
        ctx.entitlement = ent
