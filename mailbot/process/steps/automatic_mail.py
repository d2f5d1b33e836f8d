"""Is this automatic mail (an out-of-office reply, a bounce, a list) or our own? Then nobody owes it an answer."""

from __future__ import annotations

from mailbot.core.automatic import automatic_reasons
from mailbot.process.desk import Desk
from mailbot.process.message_context import MessageContext


class DetectAutomatic:
    name = "automatic"

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def __call__(self, ctx: MessageContext) -> None:
        mail = ctx.mail
        came_from_us = bool(mail.message_id) and self.desk.signer.is_ours(mail.message_id, self.desk.message_id_domain)
        ctx.automatic = tuple(automatic_reasons(mail, self.desk.is_own_address, came_from_us, ctx.filed.analysis.automatic_signals))
