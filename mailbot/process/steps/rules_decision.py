"""Run the rules on the filed message and apply what they set on the ticket (queue, priority, tags, assignee, suggestion)."""

from __future__ import annotations

from mailbot.core.language import detect
from mailbot.policy.facts import Facts
from mailbot.process.message_context import MessageContext


class DecideByRules:
    name = "rules"

    def __init__(self, default_language: str) -> None:
        self.default_language = default_language

    def __call__(self, ctx: MessageContext) -> None:
        ticket, mail = ctx.ticket, ctx.mail
        if ctx.filed.guest and not ctx.automatic:
            # Someone without a seat changes nothing on the ticket: no queue, priority, tags or reply from rules.
            ctx.event("rules.skipped", reason="a guest's message: the rules decide nothing for it")
            return
        facts = Facts(
            mail=mail,
            received_at=ctx.now,
            new_ticket=ctx.filed.new_ticket,
            automatic=ctx.automatic,
            # The ticket's language, detected when it was opened: detection costs more than all the rules.
            language=ticket.language or detect(mail, self.default_language),
            entitlement=ticket.entitlement_state,
            plan=ticket.plan,
            queue=ticket.queue,
            promised=ctx.entitlement is not None and ctx.policy.terms.promise_of(ctx.entitlement) is not None,
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
        if decision.suggestion is not None:
            s = decision.suggestion
            ticket.set("suggested_class", s.cls)
            ticket.set("suggested_rule", s.rule)
            ctx.event(
                "rules.suggested", suggested_class=s.cls, rule=s.rule, file=s.file,
                reason=f"entitlement {ticket.entitlement_state}: the plan promises a response time, and the rule may not "
                "take it away on its own (no `decide` for this sender); an agent confirms or dismisses the class",
            )
        ctx.facts, ctx.decision = facts, decision
