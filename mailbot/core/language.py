"""The language a customer wrote in: Content-Language when given, else a statistical guess on enough text."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from mailbot.core.mail import InboundMail

_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_QUOTED = re.compile(r"^\s*>.*$", re.MULTILINE)
MIN_LETTERS = 20  # below this a guess is noise ("ok", "thanks!")
# The detector's cost grows with its input: it sees at most this much of the body and of the subject
# (a one-megabyte subject once kept it busy for minutes).
BODY_CHARS = 300
SUBJECT_CHARS = 300

# Languages a guess may choose from: narrowing the field keeps close relatives (ru/bg/uk) from splitting the
# vote, and keeps memory small (lingua loads one model per language, on first use).
COMMON = ("en", "ru", "uk", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "sv", "da", "nb", "fi", "tr", "ja", "zh", "ko", "ar")


@lru_cache(maxsize=4)
def _detector(languages: tuple[str, ...]) -> Any:
    # Imported lazily: only processing needs it. Low-accuracy mode uses trigram models only (about 1 MB a
    # language instead of tens), which is plenty for the paragraph or more a support request carries.
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in languages]
    return LanguageDetectorBuilder.from_languages(*chosen).with_low_accuracy_mode().with_minimum_relative_distance(0.1).build()


def detect(mail: InboundMail, default: str, languages: tuple[str, ...] = COMMON) -> str:
    """An ISO 639-1 code for the message's language, or `default` when there is no good evidence."""
    header = mail.header("Content-Language")
    if header:
        code = header.split(",")[0].strip().split("-")[0].lower()
        if re.fullmatch(r"[a-z]{2}", code):
            return code
    # A few hundred characters decide as well as the whole text does, at a fraction of the cost.
    text = _QUOTED.sub("", mail.text[:4000])[:BODY_CHARS]
    if len(_LETTERS.findall(text)) < MIN_LETTERS:
        text = f"{mail.subject[:SUBJECT_CHARS]}\n{text}"
        if len(_LETTERS.findall(text)) < MIN_LETTERS:
            return default
    found = _detector(languages).detect_language_of(text)
    if found is None:
        return default
    return str(found.iso_code_639_1.name).lower()
