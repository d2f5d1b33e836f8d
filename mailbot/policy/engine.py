"""Evaluate rules in order: all `when` conditions must hold and no `unless` one; first match wins unless `continue`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailbot.policy.actions import Action
from mailbot.policy.conditions import Condition
from mailbot.policy.facts import Decision, Facts, RuleHit, Suggestion


@dataclass(frozen=True)
class Rule:
    name: str
    file: str
    description: str
    when: tuple[tuple[Condition, Any], ...]
    unless: tuple[tuple[Condition, Any], ...]
    then: tuple[tuple[Action, Any], ...]
    keep_going: bool  # `continue = true`
    # `decide`: the entitlement states for which this rule may change the sender's promise on its own
    # (`true` = every state, `false` = none, the default: for an entitled customer it only suggests).
    decide: frozenset[str] = frozenset()

    @property
    def classifies(self) -> bool:
        return any(act.name == "classify" for act, _ in self.then)

    @property
    def takes_promise(self) -> bool:
        """A classifying rule that would take away the response time the sender's plan promises."""
        return self.classifies and any(act.name == "no_deadline" for act, _ in self.then)

    @property
    def assigned_class(self) -> str | None:
        return next((arg for act, arg in self.then if act.name == "classify"), None)

    def outcome(self) -> Decision:
        """What this rule's actions alone decide (an agent's confirmation of its class applies them)."""
        decision = Decision()
        for act, arg in self.then:
            act.apply(decision, arg)
        decision.classify, decision.classified_by, decision.decide = self.assigned_class, self.name, True
        return decision

    def matches(self, facts: Facts) -> tuple[bool, list[str]]:
        """Whether the rule applies, with the reasons (or the one reason it does not)."""
        reasons: list[str] = []
        for cond, arg in self.when:
            ok, why = cond.check(facts, arg)
            if not ok:
                return False, [f"{cond.name}: {why}"]
            reasons.append(f"{cond.name}: {why}")
        for cond, arg in self.unless:
            ok, why = cond.check(facts, arg)
            if ok:
                return False, [f"unless {cond.name}: {why}"]
            reasons.append(f"not {cond.name}: {why}")
        return True, reasons or ["no conditions: matches everything"]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    source: str

    def by_name(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def classifying(self, cls: str) -> Rule | None:
        """The first rule that assigns this class."""
        return next((r for r in self.rules if r.assigned_class == cls), None)

    def evaluate(self, facts: Facts) -> Decision:
        decision = Decision()
        for rule in self.rules:
            ok, reasons = rule.matches(facts)
            if not ok:
                decision.misses.append((rule.name, reasons[0]))
                continue
            decides = facts.entitlement in rule.decide
            if rule.takes_promise and facts.promised and not decides:
                # A guess never takes away a promise: the rule only suggests, and the rules go on as if it had
                # not matched, so the customer gets the answer (and the deadline) their plan promises.
                if decision.suggestion is None:
                    decision.suggestion = Suggestion(rule.assigned_class or "", rule.name, rule.file)
                decision.hits.append(RuleHit(rule.name, rule.file, tuple(reasons), False, suggested=True))
                continue
            decision.hits.append(RuleHit(rule.name, rule.file, tuple(reasons), decides))
            stop = False
            for act, arg in rule.then:
                act.apply(decision, arg)
                stop = stop or act.name == "stop"
            if rule.classifies:
                decision.classified_by, decision.decide = rule.name, decides
            if stop or not rule.keep_going:
                break
        return decision
