"""How parsing treats what a message does not say: fallback charsets by desk language, and size bounds."""

from __future__ import annotations

from dataclasses import dataclass

# Charsets tried, in order, for text that declares none and is not UTF-8, by the desk's language.
FALLBACKS_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "ru": ("windows-1251", "koi8-r"),
    "uk": ("windows-1251", "koi8-u"),
    "bg": ("windows-1251",),
    "ja": ("shift_jis", "euc-jp", "iso-2022-jp"),
    "zh": ("gb18030", "big5"),
    "ko": ("euc-kr",),
    "pl": ("windows-1250", "iso-8859-2"),
    "cs": ("windows-1250", "iso-8859-2"),
    "hu": ("windows-1250", "iso-8859-2"),
    "el": ("windows-1253",),
    "tr": ("windows-1254",),
}
WESTERN: tuple[str, ...] = ("windows-1252",)


def fallbacks_for(language: str) -> tuple[str, ...]:
    """The default fallback charsets of a desk writing in `language` (western European otherwise)."""
    return FALLBACKS_BY_LANGUAGE.get(language.split("-")[0].lower(), WESTERN)


@dataclass(frozen=True)
class ParseOptions:
    fallback_charsets: tuple[str, ...] = WESTERN
    max_message_bytes: int = 25 * 1024 * 1024  # larger: read part by part, text cut at max_text_chars
    max_text_chars: int = 1_000_000  # body text kept per message; the raw message keeps the rest
    max_parts: int = 1000  # MIME parts read one by one; the rest are named in a note
    max_depth: int = 50  # multipart nesting
