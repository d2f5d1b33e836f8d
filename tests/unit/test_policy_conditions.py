"""Every rule condition: what it matches, what it refuses, and the reason it gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from mailbot.parse import parse_mail
from mailbot.policy.conditions import REGISTRY
from mailbot.policy.facts import Facts

# A Monday morning in March (UTC).
MONDAY_0900 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

RAW = (
    b"From: Alice Customer <Alice@Customer.example>\r\n"
    b"To: Sales <sales@example.com>\r\n"
    b"Cc: billing+eu@example.com\r\n"
    b"Delivered-To: support@example.com\r\n"
    b"Subject: Refund for invoice 2026-17\r\n"
    b"Message-ID: <c-1@customer.example>\r\n"
    b"X-Priority: 1 (Highest)\r\n"
    b"\r\n"
    b"Hello, our production is down since the update.\r\n"
    b"Order number 12345.\r\n"
)


def facts(raw: bytes = RAW, **overrides: Any) -> Facts:
    base = Facts(mail=parse_mail(raw), received_at=MONDAY_0900, new_ticket=True)
    return replace(base, **overrides)


def check(name: str, value: Any, f: Facts) -> tuple[bool, str]:
    cond = REGISTRY[name]
    return cond.check(f, cond.compile(value))


# name, value, facts overrides, expected match, words the reason must contain
CASES: list[tuple[str, Any, dict[str, Any], bool, tuple[str, ...]]] = [
    ("sender", "alice@customer.example", {}, True, ("alice@customer.example", "matches")),
    ("sender", "*@customer.example", {}, True, ("matches *@customer.example",)),
    ("sender", ["bob@*", "*@other.example"], {}, False, ("matches none of", "bob@*", "*@other.example")),
    ("sender_domain", "customer.example", {}, True, ("customer.example", "matches")),
    ("sender_domain", "*.customer.example", {}, False, ("customer.example", "does not match")),
    ("recipient", "sales@example.com", {}, True, ("recipient sales@example.com matches",)),
    ("recipient", "*+eu@*", {}, True, ("billing+eu@example.com",)),
    ("recipient", "support@example.com", {}, True, ("support@example.com",)),
    ("recipient", "nobody@example.com", {}, False, ("no recipient matches nobody@example.com",)),
    ("header_present", "x-priority", {}, True, ("header x-priority present",)),
    ("header_present", ["List-Id", "X-Spam"], {}, False, ("none of the headers", "list-id", "x-spam")),
    ("header_matches", {"X-Priority": "^1"}, {}, True, ("X-Priority", "/^1/")),
    ("header_matches", {"X-Priority": "^5"}, {}, False, ("no header matches",)),
    ("header_matches", {"X-Missing": "."}, {}, False, ("no header matches",)),
    ("subject_contains", "REFUND", {}, True, ("'refund'",)),
    ("subject_contains", ["password", "login"], {}, False, ("none of the texts",)),
    ("subject_matches", r"invoice \d{4}-\d+", {}, True, ("matches", r"/invoice \d{4}-\d+/")),
    ("subject_matches", r"^Invoice", {}, False, ("does not match", "/^Invoice/")),
    ("body_contains", "Production Is Down", {}, True, ("'production is down'",)),
    ("body_contains", "site is down", {}, False, ("none of the texts",)),
    ("body_matches", r"Order number \d+", {}, True, ("body matches",)),
    ("body_matches", r"Ticket #\d+", {}, False, ("body does not match",)),
    ("body_matches_all", [r"(?i)production", r"Order number \d+"], {}, True, ("body matches /(?i)production/ and /Order number \\d+/",)),
    ("body_matches_all", [r"Order number \d+", r"(?i)since the update"], {}, True, ("body matches",)),  # any order
    ("body_matches_all", [r"(?i)production", r"refund"], {}, False, ("body does not match /refund/",)),
    ("language", ["de", "ru"], {"language": "ru"}, True, ("language is ru",)),
    ("language", "de", {"language": "en"}, False, ("language is en",)),
    ("automatic", True, {"automatic": ("Precedence: bulk", "machine sender x@y")}, True, ("Precedence: bulk; machine sender x@y",)),
    ("automatic", True, {}, False, ("written by a person",)),
    ("automatic", False, {}, True, ("written by a person",)),
    ("automatic", False, {"automatic": ("Precedence: bulk",)}, False, ("Precedence: bulk",)),
    ("entitlement", ["expired", "guarantee-lapsed"], {"entitlement": "expired"}, True, ("entitlement is expired",)),
    ("entitlement", "active", {"entitlement": "unknown"}, False, ("entitlement is unknown",)),
    ("plan", "Gold", {"plan": "gold"}, True, ("plan is gold",)),
    ("plan", ["gold", "silver"], {"plan": None}, False, ("plan is (none)",)),
    ("new_ticket", True, {"new_ticket": True}, True, ("opens a new ticket",)),
    ("new_ticket", True, {"new_ticket": False}, False, ("follows up on a ticket",)),
    ("new_ticket", False, {"new_ticket": False}, True, ("follows up on a ticket",)),
    ("queue", "Billing", {"queue": "billing"}, True, ("queue is billing",)),
    ("queue", "billing", {"queue": "support"}, False, ("queue is support",)),
    ("time", {"days": ["mon"]}, {}, True, ("received mon 09:00 UTC",)),
    ("time", {"days": ["sat", "sun"]}, {}, False, ("received mon 09:00 UTC",)),
    ("credentials", True, {"mail": parse_mail(b"From: a@b.example\r\nSubject: access\r\n\r\nFTP host ftp.b.example\r\nlogin: web\r\npassword: Xy7pq2!\r\n")}, True, ("credentials found (ftp)",)),
    ("credentials", True, {}, False, ("no credentials found",)),
    ("credentials", False, {}, True, ("no credentials found",)),
]


@pytest.mark.parametrize(
    "name, value, overrides, expected, words",
    CASES,
    ids=[f"{c[0]}-{'match' if c[3] else 'miss'}-{i}" for i, c in enumerate(CASES)],
)
def test_condition(name: str, value: Any, overrides: dict[str, Any], expected: bool, words: tuple[str, ...]) -> None:
    ok, why = check(name, value, facts(**overrides))
    assert ok is expected
    for word in words:
        assert word in why


def test_every_registered_condition_is_covered() -> None:
    matched = {c[0] for c in CASES if c[3]}
    missed = {c[0] for c in CASES if not c[3]}
    assert matched == set(REGISTRY) == missed


def test_every_condition_has_a_description() -> None:
    for name, cond in REGISTRY.items():
        assert cond.name == name and cond.description.strip()


def test_sender_reason_without_a_sender() -> None:
    raw = b"From: not an address\r\nTo: support@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    ok, why = check("sender", "*@*", facts(raw))
    assert not ok and "no usable sender" in why


# --- the time condition ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "received, expected",
    [
        (datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), True),  # from is inclusive
        (datetime(2026, 3, 2, 12, 30, tzinfo=timezone.utc), True),
        (datetime(2026, 3, 2, 16, 59, 59, tzinfo=timezone.utc), True),
        (datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc), False),  # to is exclusive
        (datetime(2026, 3, 2, 8, 59, tzinfo=timezone.utc), False),
        (datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc), False),
    ],
)
def test_time_daytime_range(received: datetime, expected: bool) -> None:
    ok, why = check("time", {"from": "09:00", "to": "17:00"}, facts(received_at=received))
    assert ok is expected
    assert why == f"received mon {received:%H:%M} UTC"


@pytest.mark.parametrize(
    "hour, minute, expected",
    [(18, 0, True), (23, 59, True), (0, 0, True), (3, 15, True), (8, 59, True), (9, 0, False), (12, 0, False), (17, 59, False)],
)
def test_time_range_over_midnight(hour: int, minute: int, expected: bool) -> None:
    received = datetime(2026, 3, 3, hour, minute, tzinfo=timezone.utc)
    ok, _ = check("time", {"from": "18:00", "to": "09:00"}, facts(received_at=received))
    assert ok is expected


def test_time_days_and_range_must_both_hold() -> None:
    spec = {"days": ["sat", "sun"], "from": "18:00", "to": "09:00"}
    saturday_night = datetime(2026, 3, 7, 22, 0, tzinfo=timezone.utc)
    saturday_noon = datetime(2026, 3, 7, 12, 0, tzinfo=timezone.utc)
    monday_night = datetime(2026, 3, 2, 22, 0, tzinfo=timezone.utc)
    assert check("time", spec, facts(received_at=saturday_night))[0] is True
    assert check("time", spec, facts(received_at=saturday_noon))[0] is False
    assert check("time", spec, facts(received_at=monday_night))[0] is False


def test_time_zone_is_applied() -> None:
    # Sunday 20:00 in UTC is Monday 05:00 in Tokyo.
    sunday_utc = datetime(2026, 3, 1, 20, 0, tzinfo=timezone.utc)
    assert sunday_utc.weekday() == 6
    ok, why = check("time", {"days": ["mon"], "timezone": "Asia/Tokyo"}, facts(received_at=sunday_utc))
    assert ok is True
    assert why == "received mon 05:00 Asia/Tokyo"
    ok, why = check("time", {"days": ["mon"]}, facts(received_at=sunday_utc))
    assert ok is False
    assert why == "received sun 20:00 UTC"
    ok, _ = check("time", {"days": ["mon"], "from": "00:00", "to": "06:00", "timezone": "Asia/Tokyo"}, facts(received_at=sunday_utc))
    assert ok is True


# --- validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("subject_matches", "(unclosed", "bad regular expression '(unclosed'"),
        ("body_matches", "[a-", "bad regular expression"),
        ("body_matches_all", "production", "expected a list of regular expressions"),
        ("body_matches_all", [], "expected a list of regular expressions"),
        ("body_matches_all", ["ok", "[a-"], "bad regular expression '[a-'"),
        ("header_matches", {"X-Priority": "*1"}, "bad regular expression '*1'"),
        ("subject_matches", 5, "expected a regular expression string"),
        ("header_matches", "X-Priority", 'expected a table of header = "regex"'),
        ("header_matches", {}, 'expected a table of header = "regex"'),
        ("header_matches", {"X-Priority": 1}, "expected a regular expression string"),
        ("sender", 42, "expected a non-empty string or a list of non-empty strings"),
        ("sender", "", "expected a non-empty string"),
        ("recipient", [], "expected a non-empty string"),
        ("subject_contains", ["ok", 3], "expected a non-empty string"),
        ("automatic", "yes", "expected true or false"),
        ("new_ticket", 1, "expected true or false"),
        ("entitlement", "lapsed", "unknown entitlement state 'lapsed' (use active, expired, guarantee-lapsed, unknown)"),
        ("entitlement", ["active", "gold"], "unknown entitlement state 'gold'"),
        ("time", "weekends", "expected a table"),
        ("time", {"days": ["sat", "sunday"]}, "unknown day 'sunday' (use mon, tue, wed, thu, fri, sat, sun)"),
        ("time", {"days": 6}, "expected a non-empty string"),
        ("time", {"timezone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ("time", {"from": "18:00"}, "give both from and to, or neither"),
        ("time", {"to": "09:00"}, "give both from and to, or neither"),
        ("time", {"from": "25:00", "to": "09:00"}, "'25:00' is not a time of day (HH:MM)"),
        ("time", {"from": "6pm", "to": "09:00"}, "'6pm' is not a time of day"),
        ("time", {"day": ["mon"]}, "unknown key 'day' (use days, from, to, timezone)"),
    ],
)
def test_bad_values_are_refused_with_a_reason(name: str, value: Any, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        REGISTRY[name].compile(value)
    assert reason in str(info.value)
