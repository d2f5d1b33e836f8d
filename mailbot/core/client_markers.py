"""Lines mail clients write around quoted history: "Original Message" separators, forwarding markers, footers.

Each is data in many languages; `marker_of(line)` says which kind a single line is. Everything runs on one
line at a time, with linear-time patterns, and only on lines short enough to be one of these.
"""

from __future__ import annotations

from mailbot.core.linear_regex import compile_linear

# Longer lines are text: no client writes a separator or a footer that long.
MAX_MARKER_LINE = 200

# "-----Original Message-----" and its translations (Outlook, Zimbra, Lotus, GMX, mail.ru, Apple's Outlook
# import); matched with any number of dashes and spaces around them.
ORIGINAL_MESSAGE = (
    "Original Message", "Original Email", "Reply Message", "Antwort Nachricht", "Ursprüngliche Nachricht",
    "Ursprüngliche Mail", "Originalnachricht", "Message d'origine", "Message original", "Mail original",
    "Mensaje original", "Mensaje de origen", "Messaggio originale", "Messaggio di origine", "Oorspronkelijk bericht",
    "Origineel bericht", "Oryginalna wiadomość", "Wiadomość oryginalna", "Исходное сообщение",
    "Оригинальное сообщение", "Исходное письмо", "Oprindelig meddelelse", "Ursprungligt meddelande",
    "Opprinnelig melding", "Alkuperäinen viesti", "Původní zpráva", "Pôvodná správa", "Eredeti üzenet",
    "Mensagem original", "Originalt meddelande", "Orijinal Mesaj", "Αρχικό μήνυμα", "原始邮件", "原始郵件",
    "原始消息", "元のメッセージ", "オリジナル メッセージ", "원본 메시지", "원래 메시지",
)

# The line above forwarded content: Gmail's "---------- Forwarded message ---------", Thunderbird's
# "-------- Forwarded Message --------", and their translations.
FORWARDED_MESSAGE = (
    "Forwarded message", "Forwarded Message", "Forwarded mail", "Weitergeleitete Nachricht", "Weitergeleitete Mail",
    "Message transféré", "Message transmis", "Mensaje reenviado", "Correo reenviado", "Messaggio inoltrato",
    "Doorgestuurd bericht", "Doorgestuurd e-mailbericht", "Przekazana wiadomość", "Wiadomość przekazana",
    "Przesłana wiadomość", "Пересылаемое сообщение", "Пересланное сообщение", "Переслане повідомлення",
    "Videresendt meddelelse", "Vidarebefordrat meddelande", "Videresendt melding", "Välitetty viesti",
    "Přeposlaná zpráva", "Mensagem encaminhada", "Mensaje reenviado", "转发的邮件", "已转发邮件", "轉寄的郵件",
    "転送されたメッセージ", "転送メッセージ", "전달된 메시지",
)
# Apple Mail, iOS and others: a line of its own, ending in a colon.
BEGIN_FORWARDED = (
    "Begin forwarded message", "Anfang der weitergeleiteten Nachricht", "Début du message réexpédié",
    "Début du message transféré", "Inicio del mensaje reenviado", "Comienzo del mensaje reenviado",
    "Inizio messaggio inoltrato", "Begin doorgestuurd bericht", "Początek przekazywanej wiadomości",
    "Początek przekazanej wiadomości", "Начало переадресованного сообщения", "Начало пересылаемого сообщения",
    "Videresendt besked", "Vidarebefordrat brev", "以下是转发的邮件", "转发的邮件", "転送されたメッセージ",
    "전달된 메시지",
)
END_FORWARDED = (
    "End of forwarded message", "End forwarded message", "Ende der weitergeleiteten Nachricht",
    "Fin du message transféré", "Fin del mensaje reenviado", "Fine messaggio inoltrato",
    "Einde doorgestuurd bericht", "Koniec przekazywanej wiadomości", "Конец пересылаемого сообщения",
)

# Client footers, the whole line: "Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS".
FOOTERS = (
    r"(?:Sent|Envoyé|Enviado|Inviato|Verzonden|Verstuurd|Wysłane|Wysłano|Отправлено|Надіслано|Gesendet|Skickat|Sendt"
    r"|Odesláno|Enviada)\s(?:from|with|via|de|depuis|desde|da|dal|do|met|vanaf|via|z|ze|с|со|из|з|von|mit|från|fra)"
    r"(?:\s\S+){1,5}",
    r"Von meinem\s\S+(?:\s\S+)?\sgesendet",
    r"Get Outlook for\s\S+(?:\s?<[^>]*>)?",
    r"Download Outlook for\s\S+",
    r"Obtenir Outlook pour\s\S+|Obtener Outlook para\s\S+|Outlook for\s\S+\sdownloaden",
    r"发自我的\S+|從我的\S+傳送|\S+から送信|\S+에서 보냄",
)

_RULE_CHARACTERS = ("-", "=", "_", "~")
_DASHES = r"[-=_~\s]"
_ORIGINAL = compile_linear(
    r"(?i)^" + _DASHES + r"{3,}\s*(?:" + "|".join(ORIGINAL_MESSAGE) + r")\s*" + _DASHES + r"{3,}$"
)
_FORWARD = compile_linear(
    r"(?i)^(?:" + _DASHES + r"{3,}\s*(?:" + "|".join(FORWARDED_MESSAGE) + r")\s*" + _DASHES + r"{3,}"
    r"|(?:" + "|".join(BEGIN_FORWARDED) + r")\s*[:：])$"
)
_END_FORWARD = compile_linear(
    r"(?i)^" + _DASHES + r"{3,}\s*(?:" + "|".join(END_FORWARDED) + r")\s*" + _DASHES + r"{3,}$"
)
_FOOTER = compile_linear(r"^(?:" + "|".join(FOOTERS) + r")\s*$")
# A line of dashes, underscores or equals signs, possibly with a few words inside: above a header block it
# opens history ("________________________________" in Outlook, "----- Original -----" anywhere).
_RULE_LINE = compile_linear(r"^(?:[-_=]{5,}|[-=]{3,}[^-=_]{1,60}[-=]{3,})$")


def _bare(line: str) -> str:
    return line.strip().lstrip("\ufeff").strip("*").strip()


def _ruled(line: str) -> bool:
    """Cheap first look: does the line start with a rule character (after blanks and "*")?"""
    return line.lstrip(" \t*\ufeff")[:1] in _RULE_CHARACTERS


def is_original_message(line: str) -> bool:
    """'-----Original Message-----' in any language this module knows."""
    return len(line) <= MAX_MARKER_LINE and _ruled(line) and _ORIGINAL.search(_bare(line)) is not None


def is_forward_marker(line: str) -> bool:
    """The line a client writes above forwarded content, or below it ('End of forwarded message')."""
    if len(line) > MAX_MARKER_LINE:
        return False
    bare = _bare(line)
    if not _ruled(bare) and bare[-1:] not in (":", "："):
        return False
    return _FORWARD.search(bare) is not None or _END_FORWARD.search(bare) is not None


def is_client_footer(line: str) -> bool:
    """'Sent from my iPhone' and the like, alone on a line."""
    return len(line) <= MAX_MARKER_LINE and _FOOTER.search(_bare(line)) is not None


def is_rule_line(line: str) -> bool:
    """A line of dashes or underscores (which opens history only when a header block follows)."""
    return len(line) <= MAX_MARKER_LINE and _ruled(line) and _RULE_LINE.search(_bare(line)) is not None


def is_signature_separator(line: str) -> bool:
    """The usenet signature separator (RFC 3676 4.3), "-- " alone; a line that goes on after "--" is text."""
    return line.rstrip() == "--"
