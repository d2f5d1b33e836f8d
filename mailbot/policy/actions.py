"""Named actions a rule's `then` table can use. Each validates its value once, at load time."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from mailbot.core.addresses import valid_addr_spec
from mailbot.policy.conditions import boolean
from mailbot.policy.facts import Decision

PRIORITIES = ("low", "normal", "high", "urgent")
CLASS_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")  # run on rules files only, never on mail


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    compile: Callable[[Any, Collection[str]], Any]  # (value, known templates) → argument; raises ValueError
    apply: Callable[[Decision, Any], None]


REGISTRY: dict[str, Action] = {}


Apply = Callable[[Decision, Any], None]


def action(name: str, description: str, compile: Callable[[Any, Collection[str]], Any]) -> Callable[[Apply], Apply]:
    def register(apply: Callable[[Decision, Any], None]) -> Callable[[Decision, Any], None]:
        REGISTRY[name] = Action(name, description, compile, apply)
        return apply

    return register


def _name(value: Any, _templates: Collection[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty name")
    return value.strip()


def _true(value: Any, _templates: Collection[str]) -> bool:
    if boolean(value) is not True:
        raise ValueError("only `true` makes sense here; leave the key out otherwise")
    return True


def _priority(value: Any, _templates: Collection[str]) -> str:
    if value not in PRIORITIES:
        raise ValueError(f"unknown priority {value!r} (use {', '.join(PRIORITIES)})")
    return str(value)


def _tags(value: Any, _templates: Collection[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ValueError("expected a tag or a list of tags")
    return tuple(i.strip() for i in items)


def _address(value: Any, _templates: Collection[str]) -> str:
    if not isinstance(value, str) or not valid_addr_spec(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.lower()


def _addresses(value: Any, templates: Collection[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError("expected an address or a list of addresses")
    return tuple(_address(i, templates) for i in items)


def _class_name(value: Any, _templates: Collection[str]) -> str:
    if not isinstance(value, str) or not CLASS_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a class name (lower-case letters, digits and hyphens, e.g. \"out-of-scope\")")
    return value


def _template(value: Any, templates: Collection[str]) -> str:
    name = _name(value, templates)
    if name not in templates:
        known = ", ".join(sorted(templates)) or "none"
        raise ValueError(f"unknown template {name!r} (known: {known})")
    return name


@action("queue", "put the ticket in this queue", _name)
def _set_queue(d: Decision, value: str) -> None:
    d.queue = value


@action("priority", "set the priority: low, normal, high, urgent", _priority)
def _set_priority(d: Decision, value: str) -> None:
    d.priority = value


@action("tags", "add these tags to the ticket", _tags)
def _add_tags(d: Decision, value: tuple[str, ...]) -> None:
    d.tags.extend(t for t in value if t not in d.tags)


@action("template", "answer with this reply template (by name, e.g. \"ack\")", _template)
def _set_template(d: Decision, value: str) -> None:
    d.template = value
    d.no_reply = False


@action("no_reply", "send no automatic reply", _true)
def _no_reply(d: Decision, _value: bool) -> None:
    d.no_reply = True


@action("assign", "assign the ticket to this agent's address", _address)
def _assign(d: Decision, value: str) -> None:
    d.assign = value


@action("notify", "send a notification about the message to these addresses", _addresses)
def _notify(d: Decision, value: tuple[str, ...]) -> None:
    d.notify.extend(a for a in value if a not in d.notify)


@action("hold", "hold the automatic reply for a person to release (mailbot outbox release)", _true)
def _hold(d: Decision, _value: bool) -> None:
    d.hold = True


@action("stop", "stop: no later rule is looked at, even after a rule that says continue", _true)
def _stop(d: Decision, _value: bool) -> None:
    """Handled by the engine; nothing to record on the decision."""


@action("no_deadline", "promise no response time for this message (no response clock, no warnings)", _true)
def _no_deadline(d: Decision, _value: bool) -> None:
    d.no_deadline = True


@action(
    "classify",
    "name the class of request this rule recognises (out-of-scope, customization-quote, …): kept on the ticket and "
    "in the decision; a rule without `decide` only suggests it when it would change an entitled customer's promise",
    _class_name,
)
def _classify(d: Decision, value: str) -> None:
    d.classify = value
