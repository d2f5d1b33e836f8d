"""plans.toml, calendars.toml and escalation.toml: loaded into terms, or refused naming file, key and reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailbot.errors import ConfigError
from mailbot.policy.terms import load_terms

ROOT = Path(__file__).resolve().parents[2]


def folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text)
    return tmp_path


def test_defaults_without_files(tmp_path: Path) -> None:
    terms = load_terms(tmp_path, "Europe/Berlin")
    assert terms.plans == {} and terms.unknown_promise is None
    office = terms.calendars["default"]
    assert office.zone.key == "Europe/Berlin" and office.week[5] == ()
    assert [lv.fraction for lv in terms.levels] == [0.5, 0.75, 0.9, 1.0]


def test_shipped_default_terms_load() -> None:
    terms = load_terms(ROOT / "rules" / "default", "UTC")
    assert set(terms.plans) == {"standard", "commercial"}
    assert terms.plans["standard"].promise is not None and terms.plans["commercial"].guarantee_days == 365


def test_calendar_with_holidays_closures_and_special_days(tmp_path: Path) -> None:
    terms = load_terms(folder(tmp_path, calendars='''
[calendars.moscow]
timezone = "Europe/Moscow"
hours = { mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = ["09:00-13:00", "14:00-18:00"] }
holidays = { country = "RU" }
closures = [2026-12-30]
special = { "2026-12-31" = "09:00-12:00", "2026-11-07" = "10:00-14:00" }
'''), "UTC")
    cal = terms.calendars["moscow"]
    assert cal.hours_on(date(2026, 11, 4)) == ((), "public holiday: Unity Day")
    assert cal.hours_on(date(2026, 12, 30)) == ((), "closed (local closure)")
    assert cal.hours_on(date(2026, 12, 31))[0] == ((540, 720),)
    assert cal.hours_on(date(2026, 11, 7))[0] == ((600, 840),)  # an extra working Saturday
    assert cal.week[4] == ((540, 780), (840, 1080))
    start = datetime(2026, 11, 6, 12, 0, tzinfo=timezone.utc)  # Friday 15:00 Moscow
    assert cal.add(start, timedelta(hours=4)).astimezone(cal.zone).strftime("%a %H:%M") == "Sat 11:00"


@pytest.mark.parametrize(
    "name, text, key, reason",
    [
        ("calendars", '[calendars.x]\ntimezone = "Mars/Base"\nhours = { mon = "09:00-17:00" }\n', "calendars.x.timezone", "unknown time zone"),
        ("calendars", '[calendars.x]\ntimezone = "UTC"\nhours = { mon = "17:00-09:00" }\n', "calendars.x.hours", "the end must come after the start"),
        ("calendars", '[calendars.x]\ntimezone = "UTC"\nhours = { funday = "09:00-17:00" }\n', "calendars.x.hours", "unknown day 'funday'"),
        ("calendars", '[calendars.x]\ntimezone = "UTC"\nhours = { mon = "" }\n', "calendars.x", "never open"),
        ("calendars", '[calendars.x]\ntimezone = "UTC"\nhours = { mon = ["09:00-13:00", "12:00-17:00"] }\n', "calendars.x.hours", "overlap"),
        ("calendars", '[calendars.x]\ntimezone = "UTC"\nhours = { mon = "09:00-17:00" }\nholidays = { country = "ZZ" }\n', "calendars.x", "holidays: Country ZZ not available"),
        ("calendars", '[calendars.x]\ntimezone = "UTC"\nhours = { mon = "09:00-17:00" }\nspecial = { "tomorrow" = "09:00-12:00" }\n', "calendars.x.special", "keys are dates"),
        ("plans", '[plans.p]\nkind = "support_period"\n', "plans.p", "needs period"),
        ("plans", '[plans.p]\nkind = "license"\nresponse = { hours = 24 }\n', "plans.p", "needs guarantee_days"),
        ("plans", '[plans.p]\nkind = "support_period"\nperiod = "a month"\n', "plans.p", "'a month' is not a period such as '1 month'"),
        ("plans", '[plans.p]\nkind = "support_period"\nperiod = "1 month"\nperiod_days = 30\n', "plans.p", "one of them"),
        ("plans", '[plans.p]\nkind = "license"\nguarantee_days = 365\nresponse = { hours = 9, same_day_before = "3pm" }\n', "plans.p.response.same_day_before", "'3pm' is not a time of day"),
        ("plans", '[plans.p]\nkind = "subscription"\n', "plans.p.kind", "'support_period' or 'license'"),
        ("plans", '[plans.p]\nkind = "license"\nguarantee_days = 365\nresponse = { hours = 24, calendar = "nope" }\n', "plans.p.response.calendar", "unknown calendar 'nope'"),
        ("plans", '[plans.p]\nkind = "license"\nguarantee_days = 365\nresponse = { hours = 0 }\n', "plans.p.response.hours", "greater than 0"),
        ("escalation", '[[level]]\nname = "w"\nat = 1.5\nnotify = ["assignee"]\n', "level[0].at", "less than or equal to 1"),
        ("escalation", '[[level]]\nname = "w"\nat = 0.5\nnotify = ["boss"]\n', "escalation", "'boss', which is not 'assignee' or a [recipients] group"),
        ("escalation", '[recipients]\nteam = ["not-an-address"]\n', "recipients", "is not an e-mail address"),
    ],
)
def test_bad_terms_name_file_key_and_reason(tmp_path: Path, name: str, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_terms(folder(tmp_path, **{name: text}), "UTC")
    message = str(info.value)
    assert f"{tmp_path / (name + '.toml')}" in message
    assert key in message or key == "escalation"
    assert reason in message


def test_saturdays_made_working_days_by_decree_open_with_weekday_hours(tmp_path: Path) -> None:
    """The `holidays` package knows the days a government moves: Russia worked Saturday 1 November 2025 and
    Saturday 20 February 2027; the days off moved to weekdays are holidays. No `special` entries needed."""
    text = '[calendars.moscow]\ntimezone = "Europe/Moscow"\nhours = { mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-18:00" }\nholidays = { country = "RU" }\n'
    moscow = load_terms(folder(tmp_path, calendars=text), "UTC").calendars["moscow"]
    hours, note = moscow.hours_on(date(2027, 2, 20))
    assert hours == ((540, 1080),) and note == "working day: moved by decree (holidays: RU)"
    assert moscow.hours_on(date(2025, 11, 1))[0] == ((540, 1080),)
    assert moscow.hours_on(date(2027, 2, 22))[1].startswith("public holiday: Day off (substituted from 02/20/2027)")
    assert moscow.hours_on(date(2027, 2, 27)) == ((), "")  # an ordinary Saturday stays closed
    off = load_terms(folder(tmp_path, calendars=text.replace('country = "RU" }', 'country = "RU", moved_working_days = false }')), "UTC")
    assert off.calendars["moscow"].hours_on(date(2027, 2, 20)) == ((), "")


def test_usually_the_same_day_is_read_from_the_promise() -> None:
    terms = load_terms(ROOT / "rules" / "license-age", "Europe/Moscow")
    promise = terms.plans["commercial"].promise
    assert promise is not None and promise.same_day_before == 15 * 60
    moscow = terms.calendars["moscow"]
    msk = moscow.zone
    assert moscow.same_day(datetime(2026, 11, 10, 14, 59, tzinfo=msk), 900)
    assert not moscow.same_day(datetime(2026, 11, 10, 15, 0, tzinfo=msk), 900)
    assert not moscow.same_day(datetime(2026, 11, 4, 10, 0, tzinfo=msk), 900)  # Unity Day
    assert moscow.same_day(datetime(2027, 2, 20, 10, 0, tzinfo=msk), 900)  # a Saturday worked by decree


def test_the_support_period_preset_counts_calendar_months_and_promises_presales_an_answer() -> None:
    terms = load_terms(ROOT / "rules" / "support-period", "Europe/Berlin")
    assert [terms.plans[p].length.describe() for p in ("basic", "pro", "premium")] == ["1 month", "3 months", "1 year"]
    assert terms.unknown_promise is not None and terms.unknown_promise.calendar == "presales"
