"""Reply templates (Jinja2): an ops folder overrides the preset's, which overrides the built-in ones.

A template `NAME.LANG.j2` has two blocks, `subject` and `body`; the customer's language picks LANG, with
the desk's default language as the fallback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
)
from jinja2.runtime import Context

from mailbot.core.template_contexts import MailContext
from mailbot.errors import ConfigError
from mailbot.template_check import check_template

BUILTIN = Path(__file__).parent / "templates"


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


@pass_context
def day(ctx: Context, value: date | None, pattern: str = "d MMMM y") -> str:
    """`{{ entitlement.last_day|day }}` → '31 March 2026' (a calendar day: no time, no zone) in the template's language."""
    if value is None:
        return ""
    return format_date(value, pattern, locale=str(ctx.get("language") or "en"))


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    language: str
    source: str


class Templates:
    def __init__(self, folders: Sequence[Path], default_language: str = "en", builtin: bool = True) -> None:
        self.folders = [f for f in folders if f.is_dir()] + ([BUILTIN] if builtin else [])
        self.default_language = default_language
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(f)) for f in self.folders]),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            # What was checked when the policy loaded is what renders: an edited file takes effect on the
            # next load (a SIGHUP reload checks it first), and no message pays for a look at the disk.
            auto_reload=False,
        )
        self.env.filters["when"] = when
        self.env.filters["day"] = day
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

    def render(self, name: str, language: str, context: MailContext) -> Rendered:
        """Render template `name` in `language` (else the default) with the context of its kind."""
        lang = self.language_for(name, language)
        template = self.env.get_template(f"{name}.{lang}.j2")
        ctx = template.new_context({**context.as_mapping(), "language": lang})
        subject = " ".join("".join(template.blocks["subject"](ctx)).split())
        body = "".join(template.blocks["body"](ctx)).strip("\n") + "\n"
        return Rendered(subject=subject, body=body, language=lang, source=str(template.filename))

    def check(self, kind_for: Callable[[str], type[MailContext]]) -> list[tuple[str, str]]:
        """Every template file, checked against the context of its kind; (file, problem) for each problem.
        An override is checked as well as the file it hides: both are the templates of this folder set."""
        problems: list[tuple[str, str]] = []
        for folder in self.folders:
            for path in sorted(folder.glob("*.j2")):
                parts = path.name[: -len(".j2")].split(".")
                if len(parts) != 2:
                    problems.append((str(path), "a template is named NAME.LANG.j2 (for example ack.en.j2)"))
                    continue
                name, lang = parts
                kind = kind_for(name)
                single = Templates([folder], self.default_language, builtin=False)
                render = functools.partial(single.render, name, lang)
                for problem in check_template(single.env, path.name, kind, render):
                    problems.append((str(path), problem))
        return problems


def load_templates(folders: Sequence[Path], default_language: str) -> Templates:
    templates = Templates(folders, default_language)
    if not templates.names:
        raise ConfigError(folders[0] if folders else BUILTIN, [("", "no templates found")])
    return templates
