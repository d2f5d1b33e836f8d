"""The customer's language, and reply templates rendered in it (built-in, overridden, checked)."""

from __future__ import annotations

from dataclasses import replace
from email.header import Header
from pathlib import Path

import pytest

from mailbot.core.language import detect
from mailbot.core.mail import InboundMail
from mailbot.core.template_contexts import (
    ClosedContext,
    CustomerView,
    DeskView,
    MailContext,
    MessageView,
    ReplyContext,
    TicketView,
    kind_of,
)
from mailbot.parse import parse_mail
from mailbot.render import BUILTIN, Templates


def message(body: str, *headers: str, subject: str = "x") -> InboundMail:
    encoded = Header(subject, "utf-8").encode() if not subject.isascii() else subject
    lines = ["From: someone@customer.example", "To: support@example.com", f"Subject: {encoded}", *headers]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return parse_mail(("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8"))


RUSSIAN = "Здравствуйте! После обновления не работает корзина, при оплате появляется ошибка. Помогите, пожалуйста."
GERMAN = "Guten Tag, seit dem Update funktioniert der Warenkorb nicht mehr und beim Bezahlen erscheint ein Fehler."
ENGLISH = "Hello, since the update the shopping cart does not work any more and paying shows an error message."


# --- language -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [(RUSSIAN, "ru"), (GERMAN, "de"), (ENGLISH, "en")])
def test_detects_the_body_language(body: str, expected: str) -> None:
    assert detect(message(body), default="xx") == expected


@pytest.mark.parametrize("header, expected", [("de", "de"), ("de-AT", "de"), ("FR-ca, en", "fr")])
def test_content_language_header_wins(header: str, expected: str) -> None:
    assert detect(message(RUSSIAN, f"Content-Language: {header}"), default="en") == expected


def test_unusable_content_language_is_ignored() -> None:
    assert detect(message(RUSSIAN, "Content-Language: x-klingon"), default="en") == "ru"


@pytest.mark.parametrize("body", ["ok", "Thanks!", "", "12345 67890 !!!"])
def test_too_little_text_gives_the_default(body: str) -> None:
    assert detect(message(body), default="de") == "de"


def test_short_body_uses_the_subject_too() -> None:
    mail = message("Спасибо", subject="Не работает корзина после обновления")
    assert detect(mail, default="en") == "ru"


def test_quoted_lines_are_ignored() -> None:
    quoted = "\n".join(f"> {line}" for line in [GERMAN, GERMAN, GERMAN])
    assert detect(message(f"ok\n\n{quoted}\n"), default="en") == "en"
    assert detect(message(f"{RUSSIAN}\n\n{quoted}\n"), default="en") == "ru"


# --- templates ------------------------------------------------------------------------------------------

CONTEXT = replace(
    ReplyContext.sample(),
    ticket=TicketView(42, "Cart is broken", "support", "normal", "new", None, ()),
    customer=CustomerView("anna@customer.example", "Anna", "Europe/Berlin"),
    desk=DeskView("Example Support", "support@example.com"),
    message=MessageView("Cart is broken", "It does not work.", "x@y"),
    deadline=None,
)


def kinds(name: str) -> type[MailContext]:
    return kind_of(name)


def test_builtin_templates_are_found() -> None:
    templates = Templates([])
    assert {"ack", "ack-expired", "ack-lapsed", "ack-presales", "escalation", "notify", "agent-notify", "closed"} <= templates.names
    assert templates.available["ack"] == {"en", "ru"}


def test_ack_in_english() -> None:
    out = Templates([]).render("ack", "en", CONTEXT)
    assert out.language == "en"
    assert out.subject == "Cart is broken"  # the ticket tag is added by the one builder of bot mail
    assert out.body.startswith("Hello Anna,\n\nthank you for writing to Example Support. Your message is ticket #42.\n")
    assert out.body.endswith("\n\nExample Support\n")
    assert out.source == str(BUILTIN / "ack.en.j2")


def test_ack_in_russian() -> None:
    out = Templates([]).render("ack", "ru", CONTEXT)
    assert out.language == "ru"
    assert out.subject == "Cart is broken"
    assert out.body.startswith("Здравствуйте, Anna!\n\nСпасибо за обращение в Example Support.")
    assert "#42" in out.body


def test_ack_without_a_customer_name() -> None:
    out = Templates([]).render("ack", "en", replace(CONTEXT, customer=CustomerView("a@b.example", "", "UTC")))
    assert out.body.startswith("Hello,\n")


def test_a_template_edited_on_disk_renders_only_after_the_next_load(tmp_path: Path) -> None:
    (tmp_path / "ack.en.j2").write_text("{% block subject %}S{% endblock %}{% block body %}checked{% endblock %}")
    templates = Templates([tmp_path])
    assert templates.render("ack", "en", CONTEXT).body == "checked\n"
    (tmp_path / "ack.en.j2").write_text("{% block subject %}S{% endblock %}{% block body %}edited{% endblock %}")
    assert templates.render("ack", "en", CONTEXT).body == "checked\n"  # not the edit nobody has checked yet
    assert Templates([tmp_path]).render("ack", "en", CONTEXT).body == "edited\n"


@pytest.mark.parametrize("default_language, expected", [("en", "en"), ("ru", "ru"), ("fr", "en")])
def test_unknown_language_falls_back(default_language: str, expected: str) -> None:
    out = Templates([], default_language=default_language).render("ack", "ja", CONTEXT)
    assert out.language == expected


def test_ops_folder_overrides_a_builtin_template(tmp_path: Path) -> None:
    (tmp_path / "ack.en.j2").write_text("{% block subject %}Got it: {{ ticket.subject }}{% endblock %}\n{% block body %}\nWe have ticket {{ ticket.id }}.\n{% endblock %}\n")
    templates = Templates([tmp_path])
    out = templates.render("ack", "en", CONTEXT)
    assert (out.subject, out.body) == ("Got it: Cart is broken", "We have ticket 42.\n")
    assert out.source == str(tmp_path / "ack.en.j2")
    assert templates.render("ack", "ru", CONTEXT).source == str(BUILTIN / "ack.ru.j2")


def test_ops_folder_adds_a_template_and_a_language(tmp_path: Path) -> None:
    (tmp_path / "ack.de.j2").write_text("{% block subject %}Eingang{% endblock %}{% block body %}Danke.{% endblock %}")
    (tmp_path / "closed.en.j2").write_text("{% block subject %}Closed{% endblock %}{% block body %}Bye.{% endblock %}")
    templates = Templates([tmp_path, tmp_path / "missing"])
    assert {"ack", "notify", "closed"} <= templates.names
    assert templates.render("ack", "de", CONTEXT).subject == "Eingang"
    assert templates.render("closed", "en", ClosedContext.sample()).body == "Bye.\n"


def test_check_passes_the_builtin_templates() -> None:
    assert Templates([]).check(kinds) == []


def test_check_reports_a_missing_block(tmp_path: Path) -> None:
    (tmp_path / "bad.en.j2").write_text("{% block subject %}Only a subject{% endblock %}\n")
    problems = [p for p in Templates([tmp_path]).check(kinds) if "bad.en.j2" in p[0]]
    assert problems == [(str(tmp_path / "bad.en.j2"), "needs blocks subject and body; missing body")]


def test_check_reports_an_unknown_attribute_and_name_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "bad.en.j2").write_text("{% block subject %}Hi{% endblock %}{% block body %}\n{{ ticket.nonexistent }}\n{{ agent.name }}{% endblock %}")
    problems = [p for w, p in Templates([tmp_path]).check(kinds) if w.endswith("bad.en.j2")]
    assert any(p.startswith("line 2: `ticket.nonexistent`") for p in problems), problems
    assert any(p.startswith("line 3: `agent` is not available in reply mail") for p in problems), problems


def test_a_name_another_kind_has_is_rejected_in_this_kind(tmp_path: Path) -> None:
    """closed mail has no message: an override that uses it is rejected, not left to fail on #close."""
    (tmp_path / "closed.en.j2").write_text("{% block subject %}{{ message.subject }}{% endblock %}{% block body %}Bye{% endblock %}")
    [(where, problem)] = Templates([tmp_path]).check(kinds)
    assert where == str(tmp_path / "closed.en.j2")
    assert problem.startswith("line 1: `message` is not available in closed mail")


def test_check_reports_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.en.j2").write_text("{% block subject %}Hi{% endblock %}\n{% block body %}{{ oops {% endblock %}")
    [(where, problem)] = Templates([tmp_path]).check(kinds)
    assert where.endswith("bad.en.j2") and problem.startswith("line 2: syntax error:")


def test_check_reports_what_fails_only_when_rendered(tmp_path: Path) -> None:
    (tmp_path / "ack.en.j2").write_text("{% block subject %}{{ ticket.subject|int(strict=1) + [] }}{% endblock %}{% block body %}x{% endblock %}")
    [(where, problem)] = Templates([tmp_path]).check(kinds)
    assert where.endswith("ack.en.j2") and "TypeError" in problem


@pytest.mark.parametrize("preset", ["default", "support-period", "license-age"])
def test_every_template_a_preset_can_send_exists_in_english_and_russian(preset: str) -> None:
    folder = Path(__file__).resolve().parents[2] / "rules" / preset
    templates = Templates([folder / "templates"])
    for name, languages in templates.available.items():
        assert {"en", "ru"} <= languages, f"{name} lacks {({'en', 'ru'} - languages)}"
    assert templates.check(kinds) == []
