"""An agent's proven reply: run its commands, relay its text to the customer; nothing after it applies."""

from __future__ import annotations

from mailbot.process.agent_mail import AgentMail
from mailbot.process.message_context import MessageContext


class AgentReply:
    name = "agent-reply"
    live_only = True  # not run for history (process/pipeline.py)

    def __init__(self, agents: AgentMail) -> None:
        self.agents = agents

    def __call__(self, ctx: MessageContext) -> None:
        if ctx.filed.agent is None:
            return
        self.agents.handle_reply(ctx)
        ctx.done = True
