"""The steps after a message is filed, as an ordered list of named steps run in the message's transaction.

Each step is a small module under process/steps/ with a `name` and one call taking the MessageContext; the list
is assembled here and nowhere else, so adding a step is one module and one line. A step that handles a message
completely (an agent's reply) sets `done`, and the steps after it do not run. The event log names the step
that recorded each decision.

A step that acts on the world now (sends mail, starts a clock, silences an address) says `live_only = True`;
for history (mail the folder held when mailbot first saw it) those steps do not run, and one event on the
ticket names them and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from mailbot.policy.in_force import Policy
from mailbot.process.filing import Filed
from mailbot.process.message_context import MessageContext
from mailbot.store.writer import Writer


class Step(Protocol):
    name: str

    def __call__(self, ctx: MessageContext) -> None: ...


class Pipeline:
    def __init__(self, steps: Sequence[Step], policy: Callable[[], Policy]) -> None:
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique: {names}")
        self.steps = tuple(steps)
        self.policy = policy

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def __call__(self, writer: Writer, inbound_id: int, filed: Filed, now: datetime) -> MessageContext:
        ctx = MessageContext(writer, inbound_id, filed, now, self.policy())
        skipped = [s.name for s in self.steps if filed.history and getattr(s, "live_only", False)]
        for step in self.steps:
            if ctx.done:
                break
            if step.name in skipped:
                continue
            ctx.step = step.name
            step(ctx)
        if skipped:
            ctx.step = "pipeline"
            reason = "history: the folder held this message when mailbot first saw it; nothing is sent and no clock starts"
            ctx.event("steps.skipped", steps=skipped, reason=reason)
        return ctx
