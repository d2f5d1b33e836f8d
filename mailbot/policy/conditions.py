"""Named conditions a rule's `when` / `unless` tables can use. Each validates its value once, at load time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailbot.core.credentials import find as find_credentials
from mailbot.core.linear_regex import LinearPattern, PatternError, compile_linear
from mailbot.policy.facts import Facts

ENTITLEMENT_STATES = ("active", "expired", "guarantee-lapsed", "unknown")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    compile: Callable[[Any], Any]  # raises ValueError with the reason
    check: Callable[[Facts, Any], tuple[bool, str]]


REGISTRY: dict[str, Condition] = {}


Check = Callable[[Facts, Any], tuple[bool, str]]


def condition(name: str, description: str, compile: Callable[[Any], Any]) -> Callable[[Check], Check]:
    def register(check: Callable[[Facts, Any], tuple[bool, str]]) -> Callable[[Facts, Any], tuple[bool, str]]:
        REGISTRY[name] = Condition(name, description, compile, check)
        return check

    return register


# value compilers -----------------------------------------------------------------------------------------

def strings(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise ValueError("expected a non-empty string or a list of non-empty strings")
    return tuple(i.lower() for i in items)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def regex(value: Any) -> LinearPattern:
    """A pattern for the linear-time engine: no input a stranger writes can make it backtrack."""
    if not isinstance(value, str):
        raise ValueError("expected a regular expression string")
    try:
        return compile_linear(value)
    except PatternError as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None


def regexes(value: Any) -> tuple[LinearPattern, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of regular expressions")
    return tuple(regex(v) for v in value)


def header_regexes(value: Any) -> tuple[tuple[str, LinearPattern], ...]:
    if not isinstance(value, dict) or not value:
        raise ValueError('expected a table of header = "regex"')
    return tuple((str(k), regex(v)) for k, v in value.items())


def states(value: Any) -> tuple[str, ...]:
    found = strings(value)
    bad = [s for s in found if s not in ENTITLEMENT_STATES]
    if bad:
        raise ValueError(f"unknown entitlement state {bad[0]!r} (use {', '.join(ENTITLEMENT_STATES)})")
    return found


def _clock(text: str) -> time:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    if not m:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    return time(int(m.group(1)), int(m.group(2)))


def schedule(value: Any) -> tuple[ZoneInfo, tuple[int, ...], time | None, time | None]:
    if not isinstance(value, dict):
        raise ValueError('expected a table such as { days = ["sat", "sun"], from = "18:00", to = "09:00", timezone = "Europe/Berlin" }')
    unknown = set(value) - {"days", "from", "to", "timezone"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} (use days, from, to, timezone)")
    try:
        zone = ZoneInfo(str(value.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value.get('timezone')!r}") from None
    days = tuple(range(7))
    if "days" in value:
        names = strings(value["days"])
        bad = [d for d in names if d not in DAYS]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r} (use {', '.join(DAYS)})")
        days = tuple(DAYS.index(d) for d in names)
    start = _clock(value["from"]) if "from" in value else None
    end = _clock(value["to"]) if "to" in value else None
    if (start is None) != (end is None):
        raise ValueError("give both from and to, or neither")
    return zone, days, start, end


# matching helpers ----------------------------------------------------------------------------------------

def _glob(value: str, patterns: tuple[str, ...]) -> str | None:
    return next((p for p in patterns if fnmatchcase(value, p)), None)


def _contains(text: str, needles: tuple[str, ...]) -> str | None:
    low = text.lower()
    return next((n for n in needles if n in low), None)


# the conditions --------------------------------------------------------------------------------------------

@condition("sender", "the sender's address matches a glob (alice@example.com, *@example.com)", strings)
def _sender(facts: Facts, patterns: tuple[str, ...]) -> tuple[bool, str]:
    if facts.mail.sender is None:
        return False, "no usable sender address"
    addr = facts.mail.sender.addr
    hit = _glob(addr, patterns)
    return hit is not None, f"sender {addr} {'matches ' + hit if hit else 'matches none of ' + ', '.join(patterns)}"


@condition("sender_domain", "the sender's domain matches a glob (example.com, *.example.com)", strings)
def _sender_domain(facts: Facts, patterns: tuple[str, ...]) -> tuple[bool, str]:
    if facts.mail.sender is None:
        return False, "no usable sender address"
    domain = facts.mail.sender.domain
    hit = _glob(domain, patterns)
    return hit is not None, f"sender domain {domain} {'matches ' + hit if hit else 'does not match'}"


@condition("recipient", "any To/Cc/delivery address matches a glob (sales@example.com, *+billing@*)", strings)
def _recipient(facts: Facts, patterns: tuple[str, ...]) -> tuple[bool, str]:
    for addr in facts.mail.recipients:
        hit = _glob(addr.addr, patterns)
        if hit:
            return True, f"recipient {addr.addr} matches {hit}"
    return False, f"no recipient matches {', '.join(patterns)}"


@condition("header_present", "the message has this header (or any of these)", strings)
def _header_present(facts: Facts, names: tuple[str, ...]) -> tuple[bool, str]:
    for name in names:
        if facts.mail.header(name) is not None:
            return True, f"header {name} present"
    return False, f"none of the headers {', '.join(names)} present"


@condition("header_matches", 'a header matches a regex: { "X-Priority" = "^1" }', header_regexes)
def _header_matches(facts: Facts, pairs: tuple[tuple[str, LinearPattern], ...]) -> tuple[bool, str]:
    for name, pattern in pairs:
        for value in facts.mail.header_all(name):
            if pattern.search(value):
                return True, f"header {name} matches /{pattern.source}/"
    return False, "no header matches"


@condition("subject_contains", "the subject contains a text (case-insensitive; a list means any)", strings)
def _subject_contains(facts: Facts, needles: tuple[str, ...]) -> tuple[bool, str]:
    hit = _contains(facts.mail.subject, needles)
    return hit is not None, f"subject contains {hit!r}" if hit else "subject contains none of the texts"


@condition("subject_matches", "the subject matches a regular expression", regex)
def _subject_matches(facts: Facts, pattern: LinearPattern) -> tuple[bool, str]:
    ok = pattern.search(facts.mail.subject) is not None
    return ok, f"subject {'matches' if ok else 'does not match'} /{pattern.source}/"


@condition("body_contains", "the text body contains a text (case-insensitive; a list means any)", strings)
def _body_contains(facts: Facts, needles: tuple[str, ...]) -> tuple[bool, str]:
    hit = _contains(facts.mail.text, needles)
    return hit is not None, f"body contains {hit!r}" if hit else "body contains none of the texts"


@condition("body_matches", "the text body matches a regular expression", regex)
def _body_matches(facts: Facts, pattern: LinearPattern) -> tuple[bool, str]:
    ok = pattern.search(facts.mail.text) is not None
    return ok, f"body {'matches' if ok else 'does not match'} /{pattern.source}/"


@condition("body_matches_all", "the text body matches every one of these regular expressions, in any order", regexes)
def _body_matches_all(facts: Facts, patterns: tuple[LinearPattern, ...]) -> tuple[bool, str]:
    # Several short patterns instead of one "A.*B|B.*A": no pattern has to span the text between the two.
    for pattern in patterns:
        if pattern.search(facts.mail.text) is None:
            return False, f"body does not match /{pattern.source}/"
    return True, "body matches " + " and ".join(f"/{p.source}/" for p in patterns)


@condition("language", "the detected language is one of these ISO 639-1 codes", strings)
def _language(facts: Facts, codes: tuple[str, ...]) -> tuple[bool, str]:
    ok = facts.language in codes
    return ok, f"language is {facts.language}"


@condition("automatic", "the mail is (true) or is not (false) automatic: auto-replies, lists, bounces", boolean)
def _automatic(facts: Facts, wanted: bool) -> tuple[bool, str]:
    is_auto = bool(facts.automatic)
    why = "; ".join(facts.automatic) if is_auto else "written by a person"
    return is_auto == wanted, f"automatic: {why}"


@condition("entitlement", "the sender's entitlement state: active, expired, guarantee-lapsed, unknown", states)
def _entitlement(facts: Facts, wanted: tuple[str, ...]) -> tuple[bool, str]:
    return facts.entitlement in wanted, f"entitlement is {facts.entitlement}"


@condition("plan", "the sender's plan is one of these names", strings)
def _plan(facts: Facts, plans: tuple[str, ...]) -> tuple[bool, str]:
    plan = (facts.plan or "").lower()
    return plan in plans, f"plan is {facts.plan or '(none)'}"


@condition("new_ticket", "the message opens a new ticket (true) or follows up on one (false)", boolean)
def _new_ticket(facts: Facts, wanted: bool) -> tuple[bool, str]:
    return facts.new_ticket == wanted, "opens a new ticket" if facts.new_ticket else "follows up on a ticket"


@condition("queue", "the ticket is in one of these queues (as set so far)", strings)
def _queue(facts: Facts, queues: tuple[str, ...]) -> tuple[bool, str]:
    return facts.queue.lower() in queues, f"queue is {facts.queue}"


@condition(
    "time",
    'received on these days and/or between these times: { days = ["sat","sun"], from = "18:00", to = "09:00", timezone = "Europe/Berlin" }',
    schedule,
)
def _time(facts: Facts, spec: tuple[ZoneInfo, tuple[int, ...], time | None, time | None]) -> tuple[bool, str]:
    zone, days, start, end = spec
    local = facts.received_at.astimezone(zone)
    now = local.time().replace(second=0, microsecond=0)
    day_ok = local.weekday() in days
    if start is None or end is None:
        time_ok = True
    elif start <= end:
        time_ok = start <= now < end
    else:  # a range over midnight, 18:00–09:00
        time_ok = now >= start or now < end
    stamp = f"{DAYS[local.weekday()]} {local:%H:%M} {zone.key}"
    return day_ok and time_ok, f"received {stamp}"


@condition("credentials", "the message carries server credentials (FTP/SSH/database/admin login with a password)", boolean)
def _credentials(facts: Facts, wanted: bool) -> tuple[bool, str]:
    found = facts.credentials if facts.credentials_checked else find_credentials(facts.mail.text)
    why = f"credentials found ({', '.join(found.kinds)})" if found else "no credentials found"
    return (found is not None) == wanted, why
