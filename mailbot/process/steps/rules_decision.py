"""Run the rules on the filed message and apply what they set on the ticket (queue, priority, tags, assignee)."""

from __future__ import annotations

from mailbot.policy.facts import Facts
from mailbot.process.message_context import MessageContext


class DecideByRules:
    name = "rules"

    def __init__(self, default_language: str) -> None:
        self.default_language = default_language

    def __call__(self, ctx: MessageContext) -> None:
        ticket, mail = ctx.ticket, ctx.mail
        facts = Facts(
            mail=mail,
            received_at=ctx.now,
            new_ticket=ctx.filed.new_ticket,
            automatic=ctx.automatic,
            # The ticket's language, detected when it was opened (or, for an old ticket without one, now).
            language=ticket.language or ctx.filed.analysis.language,
            entitlement=ticket.entitlement_state,
            plan=ticket.plan,
            queue=ticket.queue,
            credentials=ctx.filed.analysis.credentials,
            credentials_checked=True,
        )
        decision = ctx.policy.rules.evaluate(facts)
        if decision.queue:
            ticket.set("queue", decision.queue)
        if decision.priority:
            ticket.set("priority", decision.priority)
        if decision.tags:
            ticket.set("tags", list(dict.fromkeys([*ticket.tags, *decision.tags])))
        if decision.assign:
            ticket.set("assignee", decision.assign)
        ctx.event("rules.decided", language=facts.language, automatic=list(facts.automatic), **decision.explain())
        ctx.facts, ctx.decision = facts, decision
