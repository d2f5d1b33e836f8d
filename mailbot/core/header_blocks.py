"""Header blocks that clients write above quoted history ("From: … / Sent: … / To: … / Subject: …"), in many languages.

Outlook, Outlook for Mac, Outlook on the web, Hotmail and most webmail put the previous message's headers
above it instead of quoting it with ">". A block is recognised by the names of its lines, not by their order:
every client orders them its own way, some split a long "From:" over two lines, some leave "From" out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailbot.core.client_markers import is_original_message, is_rule_line
from mailbot.core.linear_regex import compile_linear

# Header names by what they hold, one row per language. Matched case-insensitively, with or without a space
# before the colon (French "De : …"), a full-width colon (Chinese, Japanese) and "*bold*" from HTML mail.
HEADER_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "from": {
        "en": ("From",), "de": ("Von",), "fr": ("De",), "es": ("De",), "pt": ("De",), "it": ("Da",),
        "nl": ("Van",), "pl": ("Od",), "cs": ("Od",), "ru": ("От", "От кого"), "uk": ("Від",),
        "da": ("Fra",), "no": ("Fra",), "sv": ("Från",), "fi": ("Lähettäjä",),
        "zh": ("发件人", "發件人", "寄件者", "寄件人"), "ja": ("差出人", "送信者"), "ko": ("보낸 사람", "보낸사람"),
    },
    "date": {
        "en": ("Sent", "Date"), "de": ("Gesendet", "Datum"), "fr": ("Envoyé", "Envoyé le", "Date"),
        "es": ("Enviado", "Enviado el", "Fecha"), "pt": ("Enviado", "Enviada", "Enviada em", "Data"),
        "it": ("Inviato", "Data"), "nl": ("Verzonden", "Datum"), "pl": ("Wysłano", "Wysłane", "Data"),
        "cs": ("Odesláno", "Datum"), "ru": ("Отправлено", "Дата"), "uk": ("Надіслано", "Дата"),
        "da": ("Sendt", "Dato"), "no": ("Sendt", "Dato"), "sv": ("Skickat", "Datum"), "fi": ("Lähetetty",),
        "zh": ("发送时间", "日期", "時間", "傳送時間", "寄件日期"), "ja": ("送信日時", "日付", "送信日"),
        "ko": ("보낸 날짜", "날짜"),
    },
    "to": {
        "en": ("To",), "de": ("An",), "fr": ("À", "A"), "es": ("Para",), "pt": ("Para",), "it": ("A",),
        "nl": ("Aan",), "pl": ("Do",), "cs": ("Komu",), "ru": ("Кому",), "uk": ("Кому",), "da": ("Til",),
        "no": ("Til",), "sv": ("Till",), "fi": ("Vastaanottaja",), "zh": ("收件人", "收件者"), "ja": ("宛先",),
        "ko": ("받는 사람", "받는사람"),
    },
    "cc": {
        "en": ("Cc", "Bcc"), "de": ("Cc", "Kopie"), "fr": ("Cc", "Cci"), "es": ("CC", "CCO"), "it": ("Cc", "Ccn"),
        "nl": ("CC",), "pl": ("DW", "Kopia"), "cs": ("Kopie",), "ru": ("Копия",), "da": ("Kopi",),
        "sv": ("Kopia",), "zh": ("抄送", "副本"), "ko": ("참조",),
    },
    "subject": {
        "en": ("Subject",), "de": ("Betreff",), "fr": ("Objet",), "es": ("Asunto",), "pt": ("Assunto",),
        "it": ("Oggetto",), "nl": ("Onderwerp",), "pl": ("Temat",), "cs": ("Předmět",), "ru": ("Тема",),
        "uk": ("Тема",), "da": ("Emne",), "no": ("Emne",), "sv": ("Ämne",), "fi": ("Aihe",),
        "zh": ("主题", "主旨", "主題"), "ja": ("件名",), "ko": ("제목",),
    },
    "reply-to": {
        "en": ("Reply-To", "Reply To"), "de": ("Antwort an",), "fr": ("Répondre à",), "es": ("Responder a",),
        "it": ("Rispondi a",), "nl": ("Antwoord aan",), "pl": ("Odpowiedź do",), "ru": ("Ответить",),
        "zh": ("回复至",),
    },
    "other": {
        "en": ("Importance", "Attachments", "Organization"), "de": ("Wichtigkeit", "Anlagen", "Priorität"),
        "fr": ("Importance", "Pièces jointes"), "es": ("Importancia", "Datos adjuntos"),
        "it": ("Priorità", "Allegati"), "nl": ("Urgentie", "Bijlagen"), "ru": ("Важность", "Вложения"),
    },
}
KIND_OF_NAME: dict[str, str] = {
    name.casefold(): kind for kind, languages in HEADER_NAMES.items() for names in languages.values() for name in names
}
_NAMES = sorted(KIND_OF_NAME, key=len, reverse=True)  # longest first: "Envoyé le" before "Envoyé"
_HEADER_LINE = compile_linear(
    r"(?i)^[>\s]*[*_]*\s*(" + "|".join(name.replace(" ", r"\s") for name in _NAMES) + r")\s*[*_]*\s?[:：]\s*[*_]*(.*)$"
)
_TIME_OR_YEAR = compile_linear(r"\d{1,2}[:.]\d{2}|(?:19|20)\d{2}|\d+\s?[年년]")
_ADDRESS = compile_linear(r"@|<|\[mailto:")
# Header names are short; a line whose colon comes later is no header line.
_NAME_SPAN = 32
MAX_BLOCK_LINE = 400
MAX_BLOCK_LINES = 16  # From, Sent, To, Cc, Subject and a few more, some wrapped; bounds the work per line


@dataclass(frozen=True)
class HeaderLine:
    kind: str
    value: str


def header_line(line: str) -> HeaderLine | None:
    """The kind and value of a "Name: value" line whose name is a header name in some language."""
    if len(line) > MAX_BLOCK_LINE:
        return None
    head = line.lstrip(" \t>*_")[:_NAME_SPAN]
    if ":" not in head and "：" not in head:
        return None
    m = _HEADER_LINE.search(line)
    if m is None:
        return None
    name = " ".join((m.group(1) or "").split()).casefold()
    return HeaderLine(KIND_OF_NAME.get(name, "other"), (m.group(2) or "").strip())


def header_block_at(lines: Sequence[str], parsed: Sequence[HeaderLine | None], i: int) -> int:
    """The number of lines of the header block that starts at line i (a rule line above it included), or 0.
    `parsed[j]` is `header_line(lines[j])`, worked out once per message."""
    start = i
    if parsed[i] is None and (is_rule_line(lines[i]) or is_original_message(lines[i])):
        i += 1
        while i < len(parsed) and not lines[i].strip() and i - start < 3:
            i += 1  # Outlook on the web leaves a blank line below its rule
    if i >= len(parsed) or parsed[i] is None:
        return 0
    opened = i > start
    found: list[HeaderLine] = []
    end = i
    while end < len(parsed) and end - i < MAX_BLOCK_LINES:
        line = parsed[end]
        if line is not None:
            found.append(line)
        elif end + 1 < len(parsed) and parsed[end + 1] is not None and lines[end].strip() and len(lines[end]) <= 120:
            pass  # a long "From:" or "To:" that the client wrapped: one line between header lines
        else:
            break
        end += 1
    kinds = {h.kind for h in found} - {"other"}
    dated = any(h.kind == "date" and _TIME_OR_YEAR.search(h.value) for h in found)
    addressed = any(_ADDRESS.search(h.value) for h in found if h.kind in ("from", "to", "cc", "reply-to"))
    # Every client names the recipient; a customer's pasted "From/Subject/Date" of a phishing mail does not.
    if len(kinds) >= 3 and "to" in kinds and ("from" in kinds or dated) and ("subject" in kinds or addressed):
        return end - start
    if opened and len(kinds) >= 2 and ("from" in kinds or dated):
        return end - start
    return 0
