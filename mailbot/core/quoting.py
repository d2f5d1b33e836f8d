"""The new part of a reply: quoted history, attribution lines and signatures removed (mail-parser-reply),
with data for the forms that library's language table lacks (measured by bench/quoting.py)."""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE

_Q = QUOTED_MATCH_INCLUDE
_EMAIL = r"<\s?[^<>\s]+@[^<>\s]+>"  # Gmail may wrap right after the "<"

# Russian forms the library does not know: "2 марта 2026 г., в 10:00, Support <s@e.com> написал(а):",
# Gmail's verbless "пн, 9 мар. 2026 г. в 10:00, Support <…>:", Yandex's '09.03.2026, 10:00, "Support" <…>:',
# Mail.ru's "Понедельник, 9 марта 2026, 10:00 +03:00 от Support <…>:", and Outlook's header block.
MAIL_LANGUAGES["ru"] = {
    "wrote_header": "|".join([
        r"^(" + _Q + r".{0,200}(?:написал|написала|написал\(а\)|пишет)\s?:)$",
        rf"^({_Q}(?:пн|вт|ср|чт|пт|сб|вс),\s\d{{1,2}}\s[а-я]{{3,5}}\.?\s\d{{4}}\sг\.\sв\s\d{{1,2}}:\d{{2}},\s[^\n]*(?:\n[^\n]*)?{_EMAIL}:)$",
        rf"^({_Q}\d{{2}}\.\d{{2}}\.\d{{4}},\s\d{{1,2}}:\d{{2}},\s\"[^\"\n]*\"\s{_EMAIL}:)$",
        rf"^({_Q}(?:Понедельник|Вторник|Среда|Четверг|Пятница|Суббота|Воскресенье),\s\d{{1,2}}\s[а-я]+\s\d{{4}},\s\d{{1,2}}:\d{{2}}\s[+-]\d{{2}}:?\d{{2}}\sот\s[^\n]+:)$",
    ]),
    "from_header": r"((?:(?:^|\n|\n" + _Q + r")[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
    "disclaimers": [],
    "signatures": r"^(?:С уважением|С наилучшими пожеланиями|Спасибо|Отправлено с (?:iPhone|Android|моего))",
    "sent_from": r"^(?:Отправлено с (?:iPhone|iPad|Android|моего .*))",
}
# Gaps in the library's other entries, as one extra table entry (like its own "david" one):
# - Spanish: its pattern is (?!X)(X), which can never match an unquoted line;
# - French attribution lines that Gmail wraps at 78 columns;
# - separators other than the English "Original Message", forwarded-message markers;
# - client footers: the library lists them, but the reply it returns is cut before it applies them.
_SPACE = r"[\s\u00a0\u202f]"
MAIL_LANGUAGES["mailbot"] = {
    "wrote_header": "|".join([
        rf"^({_Q}El\s[^\n]+(?:\n[^\n]+)?\sescribió\s?:)$",
        rf"^({_Q}Le\s[^\n]+\n[^\n]*\sa\sécrit{_SPACE}?:)$",
        # Gmail in any language: a date (so a digit), the sender's <address>, then at most three words of
        # "wrote" ("a écrit", "escreveu", "napisał(a)", "пише") and a colon, on one line or wrapped onto two.
        rf"^({_Q}[^\n]*\d[^\n]*(?:\n[^\n]*)?{_EMAIL}(?:{_SPACE}+[^\s:<>]{{1,20}}){{0,3}}{_SPACE}*:)$",
        # Horde and other webmail: "Quoting Support <…>:", "Zitat von Support <…>:"
        rf"^({_Q}(?:Quoting|Zitat von|Citando|Cytuję)\s[^\n]*:)$",
        # Client footers, English and localized.
        r"^((?:Sent from|Envoyé de|Enviado desde|Enviado do|Inviato da|Verzonden met|Wysłane z|Отправлено с|Надіслано з)"
        r"(?: my| mon| mi| meu| il mio| mijn| моего| мого)? \w+(?:'\w+)?|Von meinem \w+ gesendet|Get Outlook for \w+(?:<[^>\n]*>)?)$",
    ]),
    "from_header": r"(^-{5,} ?(?:Ursprüngliche Nachricht|Исходное сообщение|Forwarded message|Weitergeleitete Nachricht|Пересылаемое сообщение) ?-{5,}$)",
}
# The English entries are too eager: "On your pricing page you wrote:" is no attribution (a real one has a
# date, so a digit), and a customer's own "To: …/Date: …" lines are no Outlook header block (that starts
# with From:).
MAIL_LANGUAGES["en"] = {
    **MAIL_LANGUAGES["en"],
    "wrote_header": rf"^({_Q}On\s[^\n]*\d[^\n]*(?:\n[^\n]+)?\s?wrote:)$",
    "from_header": rf"((?:^|\n){_Q}[* ]*From:[ *]*.*(?:\n{_Q}[* ]*(?:Sent|To|Subject|Date|Cc):[ *]*.*){{2,}})",
}

# The usenet signature separator (RFC 3676 4.3): "-- " alone on a line. A line that only starts with "--"
# and goes on is text.
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
LANGUAGES = ["en", "de", "fr", "ru", "es", "it", "nl", "pl", "sv", "da", "cs", "mailbot"]


# Every attribution form the table knows, to drop one left at the end of what the library returns.
_ATTRIBUTION = re.compile(
    "|".join(f"(?:{MAIL_LANGUAGES[lang]['wrote_header']})" for lang in LANGUAGES if MAIL_LANGUAGES.get(lang, {}).get("wrote_header")),
    re.MULTILINE,
)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _interleaved(lines: list[str]) -> list[str] | None:
    """For a bottom-post or inline answers (the writer's text comes after quoted lines): every line that is
    neither quoted nor the attribution line right above a quote. None for a top-post."""
    first = next((i for i, line in enumerate(lines) if _is_quoted(line)), None)
    if first is None or not any(line.strip() and not _is_quoted(line) for line in lines[first:]):
        return None
    kept = []
    for i, line in enumerate(lines):
        if _is_quoted(line):
            continue
        following = next((nxt for nxt in lines[i + 1 :] if nxt.strip()), "")
        if line.rstrip().endswith(":") and _is_quoted(following) and not line.lstrip().startswith(("-", "*")):
            continue  # "On … wrote:" / "Am … schrieb …:" introducing the quote
        kept.append(line)
    return kept


def _with_original_lines(reply: str, lines: list[str]) -> str:
    """The library strips every line; give back the writer's lines (indentation included) it kept."""
    wanted = [line.strip() for line in reply.split("\n")]
    out, j = [], 0
    for line in lines:
        if j < len(wanted) and line.strip() == wanted[j]:
            out.append(line.rstrip())
            j += 1
        elif j >= len(wanted):
            break
    return "\n".join(out) if j == len(wanted) else reply


def new_text(text: str) -> str:
    """The part of `text` the sender wrote now (the whole text when nothing looks quoted)."""
    if not text.strip():
        return ""
    normal = text.replace("\r\n", "\n")
    lines = normal.split("\n")
    inline = _interleaved(lines)
    if inline is not None:
        # Removing the quotes leaves the blank lines around them: one is enough.
        found = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in inline)).strip("\n")
    else:
        try:
            reply = EmailReplyParser(languages=LANGUAGES).parse_reply(text=normal)
        except Exception:  # a regex corner case in the library must not lose the message
            return text.strip()
        if reply is None:
            found = text.strip()  # nothing looked like a reply structure: all of it is new
        else:
            found = _with_original_lines(reply.strip(), lines).strip("\n") if reply.strip() else ""
    found = _SIGNATURE.split(found, maxsplit=1)[0].rstrip()
    # A quoted block at the very end, even without an attribution line, is history.
    kept = found.split("\n")
    while len(kept) > 1 and (_is_quoted(kept[-1]) or not kept[-1].strip()):
        kept.pop()
    found = "\n".join(kept).rstrip()
    last = list(_ATTRIBUTION.finditer(found))
    if last and not found[last[-1].end() :].strip():
        found = found[: last[-1].start()].rstrip()  # an attribution line left at the end introduces history
    return found
