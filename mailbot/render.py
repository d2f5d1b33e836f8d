"""Reply templates (Jinja2): an ops folder overrides the preset's, which overrides the built-in ones.

A template `NAME.LANG.j2` has two blocks, `subject` and `body`; the customer's language picks LANG, with
the desk's default language as the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    pass_context,
)
from jinja2.runtime import Context

from mailbot.errors import ConfigError

BUILTIN = Path(__file__).parent / "templates"


# Every name a template may use, with an example value: `rules check` renders each template with these,
# so a misspelt name is found before a customer would see it. (Escalation templates also get `level`,
# `clock` and `time_left`.)
SAMPLE: dict[str, Any] = {
    "ticket": {"id": 1042, "subject": "Checkout page is blank", "queue": "support", "priority": "normal", "status": "new", "assignee": None},
    "customer": {"address": "alice@example.com", "name": "Alice", "timezone": "Europe/Berlin"},
    "message": {"subject": "Checkout page is blank", "text": "Hello", "message_id": "x@example.com"},
    "desk": {"name": "Support", "address": "support@example.com"},
    "entitlement": {
        "state": "active", "plan": "standard", "product": "Shop", "reason": "support period 2026-03-01 to 2026-03-31",
        "valid_until": datetime(2026, 3, 31, tzinfo=timezone.utc), "renew_url": "https://example.com/renew",
    },
    "deadline": datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc),
    "zone": "Europe/Berlin",
    "reply_address": "support+t1042-abcdefghijkl@example.com",
    "new_ticket": True,
    "now": datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc),
    "agent": {"name": "Bob", "address": "bob@example.com"},
    "attachments": ["log.txt (text/plain, 1,200 bytes)"],
    "warning": "",
    "marks": [],
    "errors": ["unknown command #clsoe"],
    "help": ["#close — close the ticket"],
    "days_left": 7,
    "level": {"name": "warning-75", "fraction": 0.75},
    "clock": "first",
    "time_left": "6 h",
}


@pass_context
def when(ctx: Context, value: datetime | None, pattern: str = "EEEE d MMMM, HH:mm") -> str:
    """`{{ deadline|when }}` → 'Monday 9 March, 18:00 MSK' in the template's language and the customer's
    time zone (`zone` in the context), with day and month names from CLDR."""
    if value is None:
        return ""
    zone = ZoneInfo(str(ctx.get("zone") or "UTC"))
    local = value.astimezone(zone)
    language = str(ctx.get("language") or "en")
    return f"{format_datetime(local, pattern, tzinfo=zone, locale=language)} {local.tzname()}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    language: str
    source: str


class Templates:
    def __init__(self, folders: Sequence[Path], default_language: str = "en") -> None:
        self.folders = [f for f in folders if f.is_dir()] + [BUILTIN]
        self.default_language = default_language
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(f)) for f in self.folders]),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = when
        self.available: dict[str, set[str]] = {}
        for folder in self.folders:
            for path in folder.glob("*.j2"):
                parts = path.name[: -len(".j2")].split(".")
                if len(parts) == 2:
                    self.available.setdefault(parts[0], set()).add(parts[1])

    @property
    def names(self) -> set[str]:
        return set(self.available)

    def language_for(self, name: str, language: str) -> str:
        langs = self.available.get(name, set())
        if language in langs:
            return language
        if self.default_language in langs:
            return self.default_language
        return sorted(langs)[0]

    def render(self, name: str, language: str, context: dict[str, Any]) -> Rendered:
        lang = self.language_for(name, language)
        template = self.env.get_template(f"{name}.{lang}.j2")
        ctx = template.new_context({**context, "language": lang})
        subject = " ".join("".join(template.blocks["subject"](ctx)).split())
        body = "".join(template.blocks["body"](ctx)).strip("\n") + "\n"
        return Rendered(subject=subject, body=body, language=lang, source=str(template.filename))

    def check(self, sample: dict[str, Any]) -> list[tuple[str, str]]:
        """Render every template with `sample`; returns (file, problem) for each one that fails."""
        problems = []
        for name, langs in sorted(self.available.items()):
            for lang in sorted(langs):
                try:
                    template = self.env.get_template(f"{name}.{lang}.j2")
                    missing = {"subject", "body"} - set(template.blocks)
                    if missing:
                        problems.append((str(template.filename), f"needs blocks subject and body; missing {', '.join(sorted(missing))}"))
                        continue
                    self.render(name, lang, sample)
                except TemplateError as exc:
                    problems.append((f"{name}.{lang}.j2", f"{type(exc).__name__}: {exc}"))
        return problems


def load_templates(folders: Sequence[Path], default_language: str) -> Templates:
    templates = Templates(folders, default_language)
    if not templates.names:
        raise ConfigError(folders[0] if folders else BUILTIN, [("", "no templates found")])
    return templates
