"""Tell the ticket's agents about a customer's message; each gets their own signed reply address."""

from __future__ import annotations

from mailbot.process.agent_mail import AgentMail
from mailbot.process.message_context import MessageContext


class NotifyAgents:
    name = "agents"
    live_only = True  # not run for history (process/pipeline.py)

    def __init__(self, agents: AgentMail) -> None:
        self.agents = agents

    def __call__(self, ctx: MessageContext) -> None:
        if not ctx.automatic:
            self.agents.notify(ctx)
