"""Everything CPU-heavy about one message, computed once from bounded input before any transaction opens.

A support address is public: whoever writes to it chooses the size and shape of what every detector reads.
Each detector here sees at most `InputLimits` of the message — the start of the body and of the subject,
each header cut to a few kilobytes, the newest References (RFC 5322 allows trimming them) — and every pattern
it runs is linear-time, so the cost of a message is bounded by the limits, not by the sender. The stored
message keeps everything; only what mailbot decides from is bounded.

The result is plain data (it crosses a process boundary: see process/analysis_worker.py), and the steps
after filing read it instead of computing anything again while the write transaction is open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

from mailbot.core.automatic import mail_signals
from mailbot.core.credentials import SecretsFound
from mailbot.core.credentials import find_in_mail
from mailbot.core.fingerprint import content_fingerprint
from mailbot.core.language import detect
from mailbot.core.linear_regex import compile_linear
from mailbot.core.mail import InboundMail
from mailbot.core.quoting import new_text
from mailbot.core.subject import ticket_tags


# The headers a reply token may arrive in, and what looks like an address there. Malformed headers are scanned
# too: a token proves itself by its signature, not by where it sits. A token is the detail of a subaddress
# (support+token@…), so a header without "+" holds none. Linear-time: with a backtracking engine a long header
# without "@" costs its length squared.
_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "Resent-To")
_ADDRESSISH = compile_linear(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")


def token_candidates(mail: InboundMail) -> tuple[str, ...]:
    """Everything that looks like local+detail@domain in the recipient headers, in header order."""
    return tuple(
        found.text for name in _RECIPIENT_HEADERS for value in mail.header_all(name) if "+" in value
        for found in _ADDRESSISH.finditer(value) if "+" in found.text
    )


@dataclass(frozen=True)
class InputLimits:
    """How much of a message the detectors and rules read (the `[processing]` settings of the same names)."""

    body_chars: int = 64 * 1024
    subject_chars: int = 1024
    header_chars: int = 4 * 1024
    references: int = 100


@dataclass(frozen=True)
class MailAnalysis:
    mail: InboundMail  # the bounded view: what every detector, rule and template of this message sees
    new_text: str  # what the sender wrote now, quoted history folded away
    credentials: SecretsFound | None  # passwords and the like: in the bounded subject and text, and text attachments
    attachment_digests: tuple[str, ...]  # the SHA-256 of each of the whole message's parts, in order
    fingerprint: str  # of the whole message's content (core/fingerprint.py): a bounded view would make long ones alike
    token_candidates: tuple[str, ...]  # what looks like a subaddress in the recipient headers: where tokens sit
    automatic_signals: tuple[str, ...]  # what the message alone says about being automatic (core/automatic.py)
    truncated: tuple[str, ...] = ()  # what was cut for the detectors: "body", "subject", "headers", "references"
    default_language: str = "en"  # the desk's language: what `language` is without good evidence
    # The detected language, or None when the analysis left it for later: see `language`.
    detected_language: str | None = None

    @cached_property
    def language(self) -> str:
        """The customer's language (or the desk's default when there is no good evidence).

        Only a message that opens a ticket needs it (a ticket keeps the language of its first message), so a
        message that answers another one is not guessed at ahead: the few that still open a ticket are
        guessed here, on first use."""
        if self.detected_language is not None:
            return self.detected_language
        return detect(self.mail, self.default_language)


def bounded(mail: InboundMail, limits: InputLimits) -> tuple[InboundMail, tuple[str, ...]]:
    """`mail` as the detectors see it, and which parts were cut. Attachments are kept whole (they are
    stored and forwarded, never scanned)."""
    cut: list[str] = []
    text, html, subject = mail.text, mail.html, mail.subject
    if len(text) > limits.body_chars:
        text = text[: limits.body_chars]
        cut.append("body")
    if html is not None and len(html) > limits.body_chars:
        html = html[: limits.body_chars]
        cut.append("html")
    if len(subject) > limits.subject_chars:
        subject = subject[: limits.subject_chars]
        cut.append("subject")
    headers = mail.headers
    if any(len(value) > limits.header_chars for _, value in headers):
        headers = tuple((name, value[: limits.header_chars]) for name, value in headers)
        cut.append("headers")
    references, in_reply_to = mail.references, mail.in_reply_to
    if len(references) > limits.references or len(in_reply_to) > limits.references:
        references = references[-limits.references :]  # the newest are last
        in_reply_to = in_reply_to[: limits.references]
        cut.append("references")
    if not cut:
        return mail, ()
    view = replace(mail, text=text, html=html, subject=subject, headers=headers, references=references, in_reply_to=in_reply_to)
    return view, tuple(cut)


def analyze(
    mail: InboundMail, limits: InputLimits, default_language: str, on_step: Callable[[str], None] = lambda step: None,
) -> MailAnalysis:
    """The analysis of one parsed message. `on_step` hears the name of each step as it starts, so a
    supervisor that stops a slow analysis can say where it was."""
    on_step("bound")
    view, cut = bounded(mail, limits)
    on_step("language")
    # A reply (In-Reply-To, References or a ticket tag) nearly always lands on a ticket that has its language already.
    language = None if view.in_reply_to or view.references or ticket_tags(view.subject) else detect(view, default_language)
    on_step("quoting")
    fresh = new_text(view.text)
    on_step("credentials")
    secrets = find_in_mail(view.subject, view.text, tuple((p.payload, p.content_type) for p in view.parts))
    on_step("fingerprint")
    digests = tuple(hashlib.sha256(part.payload).hexdigest() for part in mail.parts)
    on_step("signals")
    return MailAnalysis(
        mail=view, new_text=fresh, credentials=secrets, attachment_digests=digests, fingerprint=content_fingerprint(mail.text, digests),
        token_candidates=token_candidates(view), automatic_signals=mail_signals(view),
        truncated=cut, default_language=default_language, detected_language=language,
    )
