"""What rules may look at, and what they decide: plain dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailbot.core.mail import InboundMail


@dataclass(frozen=True)
class Facts:
    mail: InboundMail
    received_at: datetime
    new_ticket: bool
    automatic: tuple[str, ...] = ()
    language: str = "en"
    entitlement: str = "unknown"  # active | expired | guarantee-lapsed | unknown
    plan: str | None = None
    queue: str = "support"
    # The sender's plan promises a response time (the promise a guessing rule may not take away on its own).
    promised: bool = False


@dataclass(frozen=True)
class RuleHit:
    rule: str
    file: str
    reasons: tuple[str, ...]
    decide: bool = False  # the rule may change this sender's promise on its own (`decide`)
    suggested: bool = False  # the rule would have taken the sender's promise away: it only suggests its class


@dataclass(frozen=True)
class Suggestion:
    """A class a rule recognised but may not act on for this sender: a person confirms or dismisses it."""

    cls: str
    rule: str
    file: str


@dataclass
class Decision:
    """The outcome of the rules for one message; `hits` and `misses` explain it afterwards."""

    queue: str | None = None
    priority: str | None = None
    tags: list[str] = field(default_factory=list)
    template: str | None = None
    no_reply: bool = False
    assign: str | None = None
    notify: list[str] = field(default_factory=list)
    hold: bool = False
    no_deadline: bool = False
    # The class a rule gave the message (`classify`), the rule that gave it, and whether that rule may act on it
    # by itself for this sender (`decide`); otherwise a change to an entitled customer's promise is a suggestion.
    # A later rule reached through `continue` that classifies again replaces all three, as it does queue and template.
    classify: str | None = None
    classified_by: str | None = None
    decide: bool = False
    # The first rule that would have taken away the sender's promised response time without `decide`: its actions
    # were not applied (the rules went on as if it had not matched); an agent confirms or dismisses its class.
    suggestion: Suggestion | None = None
    hits: list[RuleHit] = field(default_factory=list)
    misses: list[tuple[str, str]] = field(default_factory=list)  # (rule, the first condition that failed)

    def explain(self) -> dict[str, Any]:
        return {
            "matched": [
                {"rule": h.rule, "file": h.file, "because": list(h.reasons), **({"suggested_only": True} if h.suggested else {})}
                for h in self.hits
            ],
            "not_matched": [{"rule": r, "because": why} for r, why in self.misses],
            "queue": self.queue,
            "priority": self.priority,
            "tags": self.tags,
            "template": None if self.no_reply else self.template,
            "assign": self.assign,
            "notify": self.notify,
            "hold": self.hold,
            "no_deadline": self.no_deadline,
            "class": self.classify,
            "classified_by": self.classified_by,
            "decide": self.decide,
            "suggested": None if self.suggestion is None else {"class": self.suggestion.cls, "rule": self.suggestion.rule, "file": self.suggestion.file},
        }
