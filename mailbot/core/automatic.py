"""Is this mail automatic? RFC 3834 and the de-facto signals of auto-responders, lists, bounces and loops."""

from __future__ import annotations

import re
from collections.abc import Callable

from mailbot.core.linear_regex import compile_linear
from mailbot.core.mail import InboundMail

# Local parts of senders that are machines, not people.
_MACHINE_SENDER = compile_linear(
    r"(?i)^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|auto[-_.]?(reply|responder)"
    r"|daemon|listserv|majordomo|mailman|owner-.+|.+-owner|.+-request|.+-bounces?)([+=.-].*)?$"
)
_OOO_SUBJECT = compile_linear(
    r"(?i)^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto response|abwesenheitsnotiz"
    r"|automatische antwort|réponse automatique|absence|respuesta automática|risposta automatica"
    r"|автоответ|автоматический ответ|не в офисе|frånvaro|fravær|poissa|afwezig)\b"
)
_SUPPRESS_TOKENS = {"all", "autoreply", "oof"}


# Set on everything mailbot sends; seeing it come in means our own mail looped back.
LOOP_HEADER = "X-Mailbot-Loop"


def _token_list(value: str) -> set[str]:
    return {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}


def automatic_reasons(
    mail: InboundMail, is_own_address: Callable[[str], bool], came_from_us: bool, signals: tuple[str, ...] | None = None,
) -> list[str]:
    """Every signal that says this message was not written by a person for us to answer (empty: a person).

    `came_from_us` is true when the message's own Message-ID is one mailbot generated (signature checked).
    `signals` are `mail_signals(mail)` when they were found already (by the analysis, off the filing thread).
    """
    reasons = list(mail_signals(mail) if signals is None else signals)
    if mail.header(LOOP_HEADER) is not None or came_from_us:
        reasons.append("our own mail came back")
    elif mail.sender is not None and is_own_address(mail.sender.addr):
        reasons.append(f"sent from our own address {mail.sender.addr}")
    return reasons


def mail_signals(mail: InboundMail) -> tuple[str, ...]:
    """The signals of automatic mail that the message alone shows (not what depends on the desk's addresses)."""
    reasons: list[str] = []
    auto = mail.header("Auto-Submitted")
    if auto is not None and auto.split(";", 1)[0].strip().lower() not in ("no", ""):
        reasons.append(f"Auto-Submitted: {auto.strip()}")
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        reasons.append(f"Precedence: {precedence}")
    lists = sorted({k for k in mail.header_names if k.lower().startswith("list-")})
    if lists:
        reasons.append(f"mailing-list headers: {', '.join(lists)}")
    if mail.return_path is not None and mail.return_path.strip() in ("<>", ""):
        reasons.append("empty return path (a bounce or an automatic notice)")
    if mail.sender is not None and _MACHINE_SENDER.search(mail.sender.local):
        reasons.append(f"machine sender {mail.sender.addr}")
    if mail.content_type == "multipart/report" or any(
        p.content_type in ("message/delivery-status", "message/disposition-notification") for p in mail.parts
    ):
        reasons.append("delivery or read report")
    suppress = mail.header("X-Auto-Response-Suppress")
    if suppress is not None and _token_list(suppress) & _SUPPRESS_TOKENS:
        reasons.append(f"X-Auto-Response-Suppress: {suppress.strip()}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if mail.header(name) is not None:
            reasons.append(f"{name} header")
    if (mail.header("X-POST-MessageClass") or "").strip().startswith("9"):
        reasons.append("X-POST-MessageClass: autoresponder")
    if _OOO_SUBJECT.search(mail.subject):
        reasons.append(f"out-of-office subject: {mail.subject[:60]!r}")
    return tuple(reasons)
