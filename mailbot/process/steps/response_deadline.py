"""Start (or keep) the response clock the sender's plan promises, unless a rule says no time is promised."""

from __future__ import annotations

from mailbot.process import response_clock
from mailbot.process.message_context import MessageContext


class StartResponseClock:
    name = "deadline"

    def __call__(self, ctx: MessageContext) -> None:
        ent, decision = ctx.entitlement, ctx.decision
        if ent is None or decision is None:
            return  # automatic mail: nobody owes it an answer
        if decision.no_deadline:
            rule = next((h.rule for h in decision.hits), "a rule")
            ctx.event("sla.none", reason=f"rule {rule!r}: no response time promised")
            return
        ticket, terms = ctx.ticket, ctx.policy.terms
        promise = terms.promise_of(ent)
        before = (ticket.sla_clock, ticket.sla_due_at)
        clock = response_clock.on_customer_message(ticket, ctx.filed.received_at or ctx.now, promise, terms, ctx.filed.new_ticket)
        ctx.deadline = clock.deadline if clock is not None else None
        if clock is not None and promise is not None and promise.same_day_before is not None:
            ctx.same_day = clock.calendar.same_day(ctx.filed.received_at or ctx.now, promise.same_day_before)
        if clock is not None and (ticket.sla_clock, ticket.sla_due_at) != before:
            ctx.event(
                "sla.started", clock=clock.kind, promise=promise.describe() if promise else None,
                started=clock.counting_since.isoformat(), deadline=ctx.deadline.isoformat() if ctx.deadline else None,
                calendar=clock.calendar.name,
            )
        elif promise is None and ctx.filed.new_ticket:
            ctx.event("sla.none", reason=f"entitlement {ent.state}: no response time is promised")
