"""Support terms as data: plans (plans.toml), business calendars (calendars.toml), escalation (escalation.toml),
and what happens to credentials customers send (privacy.toml).

All four live in the rules folder beside the rules and are optional: without them every sender is unknown,
the one calendar is Monday–Friday 09:00–17:00 in the desk's time zone, and warnings go at 50/75/90 %.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mailbot.core.addresses import valid_addr_spec
from mailbot.core.business_calendar import (
    DAY_NAMES,
    BusinessCalendar,
    Minutes,
    check_intervals,
    parse_hours,
    round_the_clock,
)
from mailbot.core.entitlement import ACTIVE, UNKNOWN, Entitlement, PlanTerms, Promise, parse_period
from mailbot.core.sla import Level
from mailbot.errors import ConfigError, from_validation

ASSIGNEE = "assignee"  # the ticket's assignee (the team when nobody is assigned)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseSpec(Strict):
    hours: Annotated[float, Field(gt=0, le=24 * 365)]
    business_hours: bool = True
    calendar: str = "default"
    # "Usually the same day": the acknowledgement says so for a message that arrives on a business day of the
    # calendar before this local time ("14:00"). Leave it out to never say it.
    same_day_before: str | None = None

    @field_validator("same_day_before")
    @classmethod
    def _cutoff(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_hours(f"00:00-{value}")
            except ValueError:
                raise ValueError(f"{value!r} is not a time of day such as '14:00'") from None
        return value


class PlanSpec(Strict):
    kind: Literal["support_period", "license"]
    period_days: Annotated[int, Field(gt=0)] | None = None
    # support_period: what each payment buys: "1 month", "3 months", "30 days", "1 year" (calendar months end on
    # the same day of the month, or the month's last day when it is shorter)
    period: str | None = None
    guarantee_days: Annotated[int, Field(gt=0)] | None = None
    response: ResponseSpec | None = None
    description: str = ""
    renew_url: str = ""
    # support_period: remind the customer this many days before their period ends (once per period).
    renewal_reminder_days: Annotated[int, Field(gt=0, le=365)] | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> "PlanSpec":
        if self.kind == "support_period" and (self.period_days is None) == (self.period is None):
            raise ValueError("a support_period plan needs period (what each payment buys, e.g. '1 month') or period_days, one of them")
        if self.period is not None:
            parse_period(self.period)  # a ValueError names the text
        if self.kind == "license" and self.guarantee_days is None:
            raise ValueError("a license plan needs guarantee_days (how long after a purchase the response time is guaranteed)")
        if self.renewal_reminder_days is not None and self.kind != "support_period":
            raise ValueError("renewal_reminder_days applies to support_period plans only")
        return self


class UnknownSpec(Strict):
    response: ResponseSpec | None = None


class PlansFile(Strict):
    plans: dict[str, PlanSpec] = {}
    unknown: UnknownSpec = UnknownSpec()


Hours = str | list[str]


def _intervals(value: Hours) -> tuple[Minutes, ...]:
    items = [value] if isinstance(value, str) else value
    return check_intervals(tuple(parse_hours(v) for v in items if v.strip()))


class CredentialsSpec(Strict):
    # Passwords found in customers' messages are removed from the stored copies this many days after the
    # message arrived (the rest of the message stays). None: kept.
    redact_after_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    tag: str = "credentials"


class PrivacyFile(Strict):
    credentials: CredentialsSpec = CredentialsSpec()


class HolidaySpec(Strict):
    country: str
    subdivision: str | None = None
    # Weekend days the country's government declares working days (the day off moved to a weekday), as the
    # `holidays` package knows them: open with the ordinary weekday hours. `false` keeps every weekend closed.
    moved_working_days: bool = True


class CalendarSpec(Strict):
    timezone: str
    hours: dict[str, Hours]
    holidays: HolidaySpec | None = None
    closures: list[date] = []
    special: dict[str, Hours] = {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _week(cls, value: dict[str, Hours]) -> dict[str, Hours]:
        bad = [k for k in value if k not in DAY_NAMES]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r} (use {', '.join(DAY_NAMES)})")
        for day, hours in value.items():
            try:
                _intervals(hours)
            except ValueError as exc:
                raise ValueError(f"{day}: {exc}") from None
        return value

    @field_validator("special")
    @classmethod
    def _special(cls, value: dict[str, Hours]) -> dict[str, Hours]:
        for day, hours in value.items():
            try:
                date.fromisoformat(day)
                _intervals(hours)
            except ValueError as exc:
                raise ValueError(f"{day}: {exc} (keys are dates such as '2026-12-31')") from None
        return value

    @model_validator(mode="after")
    def _possible(self) -> "CalendarSpec":
        if not any(_intervals(h) for h in self.hours.values()) and not any(_intervals(h) for h in self.special.values()):
            raise ValueError("this calendar is never open: give opening hours for at least one weekday")
        if self.holidays is not None:
            import holidays  # the package takes a while to import: only for a calendar that names a country

            try:
                holidays.country_holidays(self.holidays.country, subdiv=self.holidays.subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"holidays: {exc}") from None
        return self


class CalendarsFile(Strict):
    calendars: dict[str, CalendarSpec] = {}


class LevelSpec(Strict):
    name: str
    at: Annotated[float, Field(gt=0, le=1)]
    notify: list[str]


class EscalationFile(Strict):
    recipients: dict[str, list[str]] = {}
    level: list[LevelSpec] = [
        LevelSpec(name="warning-50", at=0.5, notify=[ASSIGNEE]),
        LevelSpec(name="warning-75", at=0.75, notify=[ASSIGNEE]),
        LevelSpec(name="warning-90", at=0.9, notify=[ASSIGNEE, "lead"]),
        LevelSpec(name="breach", at=1.0, notify=[ASSIGNEE, "lead"]),
    ]
    template: str = "escalation"

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, addrs in value.items():
            bad = [a for a in addrs if not valid_addr_spec(a)]
            if bad:
                raise ValueError(f"{group}: {bad[0]!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _names(self) -> "EscalationFile":
        known = {ASSIGNEE, "team", "lead", *self.recipients}
        for i, level in enumerate(self.level):
            unknown = [n for n in level.notify if n not in known]
            if unknown:
                raise ValueError(f"level[{i}] {level.name!r} notifies {unknown[0]!r}, which is not 'assignee' or a [recipients] group")
        names = [lvl.name for lvl in self.level]
        if len(set(names)) != len(names):
            raise ValueError("level names must be unique")
        return self


@dataclass(frozen=True)
class Terms:
    plans: dict[str, PlanTerms]
    renew_urls: dict[str, str]
    calendars: dict[str, BusinessCalendar]
    unknown_promise: Promise | None
    levels: tuple[Level, ...]
    recipients: dict[str, tuple[str, ...]]
    escalation_template: str
    desk_zone: ZoneInfo
    reminder_days: dict[str, int] = field(default_factory=dict)  # plan → days before the end of a period
    redact_after_days: int | None = None
    credentials_tag: str = "credentials"

    def promise_of(self, ent: Entitlement) -> Promise | None:
        """The response time promised to a sender: their plan's while it is active, the `[unknown]` one for
        senders who are not customers, none otherwise."""
        return ent.promise if ent.state == ACTIVE else self.unknown_promise if ent.state == UNKNOWN else None

    def calendar_for(self, promise: Promise) -> BusinessCalendar:
        """The calendar a promise counts on: its business calendar, or every hour of the day."""
        return self.calendars[promise.calendar] if promise.business_hours else round_the_clock(self.desk_zone)


def _load(path: Path, model: type[Strict]) -> Any:
    if not path.exists():
        return model()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("", f"not valid TOML: {exc}")]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(path, exc) from None


def _promise(spec: ResponseSpec | None) -> Promise | None:
    if spec is None:
        return None
    cutoff = parse_hours(f"00:00-{spec.same_day_before}")[1] if spec.same_day_before else None
    return Promise(spec.hours, spec.business_hours, spec.calendar, cutoff)


def _calendar(name: str, spec: CalendarSpec) -> BusinessCalendar:
    zone = ZoneInfo(spec.timezone)
    week = tuple(_intervals(spec.hours.get(day, [])) for day in DAY_NAMES)
    overrides: dict[date, tuple[Minutes, ...]] = {d: () for d in spec.closures}
    overrides.update({date.fromisoformat(d): _intervals(h) for d, h in spec.special.items()})
    if spec.holidays is not None:
        import holidays

        table = holidays.country_holidays(spec.holidays.country, subdiv=spec.holidays.subdivision)

        def holiday(day: date) -> str | None:
            return table.get(day)

        def moved_workday(day: date) -> str | None:
            table.get(day)  # the package fills in a year's days (and its moved working days) when first asked
            return f"moved by decree (holidays: {table.country})" if day in table.weekend_workdays else None
    else:
        def holiday(day: date) -> str | None:
            return None

        def moved_workday(day: date) -> str | None:
            return None
    moved = moved_workday if spec.holidays is not None and spec.holidays.moved_working_days else (lambda day: None)
    return BusinessCalendar(name=name, zone=zone, week=week, holiday=holiday, overrides=overrides, moved_workday=moved)


def load_terms(folder: Path, desk_timezone: str) -> Terms:
    """Read plans.toml, calendars.toml and escalation.toml from `folder`; every problem names file and key."""
    desk_zone = ZoneInfo(desk_timezone)
    plans_file: PlansFile = _load(folder / "plans.toml", PlansFile)
    calendars_file: CalendarsFile = _load(folder / "calendars.toml", CalendarsFile)
    escalation: EscalationFile = _load(folder / "escalation.toml", EscalationFile)
    privacy: PrivacyFile = _load(folder / "privacy.toml", PrivacyFile)

    calendars = {name: _calendar(name, spec) for name, spec in calendars_file.calendars.items()}
    if "default" not in calendars:
        weekday = ((540, 1020),)
        calendars["default"] = BusinessCalendar("default", desk_zone, (weekday,) * 5 + ((), ()))
    problems = []
    for name, spec in plans_file.plans.items():
        if spec.response and spec.response.business_hours and spec.response.calendar not in calendars:
            problems.append((f"plans.{name}.response.calendar", f"unknown calendar {spec.response.calendar!r} (known: {', '.join(sorted(calendars))})"))
    unknown = plans_file.unknown.response
    if unknown and unknown.business_hours and unknown.calendar not in calendars:
        problems.append(("unknown.response.calendar", f"unknown calendar {unknown.calendar!r}"))
    if problems:
        raise ConfigError(folder / "plans.toml", problems)

    plans = {
        name: PlanTerms(
            name, spec.kind, spec.period_days, spec.guarantee_days, _promise(spec.response), spec.description,
            parse_period(spec.period) if spec.period else None,
        )
        for name, spec in plans_file.plans.items()
    }
    levels = tuple(sorted((Level(lv.name, lv.at, tuple(lv.notify)) for lv in escalation.level), key=lambda lv: lv.fraction))
    return Terms(
        plans=plans,
        renew_urls={name: spec.renew_url for name, spec in plans_file.plans.items()},
        calendars=calendars,
        unknown_promise=_promise(unknown),
        levels=levels,
        recipients={k: tuple(a.lower() for a in v) for k, v in escalation.recipients.items()},
        escalation_template=escalation.template,
        desk_zone=desk_zone,
        reminder_days={n: p.renewal_reminder_days for n, p in plans_file.plans.items() if p.renewal_reminder_days},
        redact_after_days=privacy.credentials.redact_after_days,
        credentials_tag=privacy.credentials.tag,
    )
