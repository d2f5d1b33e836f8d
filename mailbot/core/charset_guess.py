"""Choose how to decode bytes: the declared charset, UTF-8, the desk's fallback charsets by score, a guess last."""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes

from mailbot.core.iso2022jp import decode_iso2022jp, is_iso2022jp

# Labels seen in the wild that Python's codec registry does not know, mapped to what they mean.
_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "unknown": "",
    "x-user-defined": "",
    "default": "",
    "charset": "",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "cp-850": "cp850",
    "windows-874": "cp874",
    "gb2312": "gb18030",  # GB2312 mail is routinely GBK/GB18030 in practice
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso8859-8",
    "shift-jis": "cp932",  # Windows writes Shift_JIS with its own extensions
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-8859-1": "cp1252",  # as every browser does: mail labelled Latin-1 is written in windows-1252
    "latin1": "cp1252",
}
# Declared single-byte charsets that mislabelled UTF-8 hides behind (it decodes "Ã©" without an error).
_SINGLE_BYTE = {"cp1252", "latin-1", "iso8859-1", "iso8859-15", "cp1250", "iso8859-2", "ascii"}
# The statistical guess only sees this much text at least: below it, its answer is noise.
MIN_GUESS_BYTES = 48
_GUESSABLE = [
    "cp1252", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r", "koi8_u", "iso8859_5",
    "gb18030", "big5", "cp932", "euc_jp", "euc_kr", "cp1253", "cp1254", "cp1255", "cp1256",
]


@dataclass(frozen=True)
class Decoded:
    """Text and how it was obtained: the codec used and why (declared, utf-8, fallback, guess, last resort)."""

    text: str
    charset: str
    how: str

    @property
    def note(self) -> str:
        return f"{self.charset} ({self.how})"


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when the label is missing or unknown."""
    if not label:
        return None
    name = label.strip().strip('"').strip("'").lower()
    name = _ALIASES.get(name, name)
    if not name or not name.isprintable() or len(name) > 40:
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def _try(data: bytes, codec: str) -> str | None:
    if codec == "iso2022_jp" or (codec.startswith("iso2022_jp") and is_iso2022jp(data)):
        return decode_iso2022jp(data)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_multibyte_utf8(data: bytes) -> str | None:
    if data.isascii():
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _nearly(data: bytes, codec: str) -> Decoded | None:
    """`codec` with a few broken bytes replaced: one bad byte in a long UTF-8 text does not make it another
    charset (a guess would turn the whole text into mojibake)."""
    if codec.startswith("iso2022"):
        return None
    try:
        text = data.decode(codec, "replace")
    except LookupError:
        return None
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ch > "\x7f") - bad
    if bad <= max(1, len(data) // 500) and good >= 10 * bad:
        return Decoded(text, codec, f"{bad} undecodable byte sequence(s) replaced")
    return None


def score(text: str) -> float:
    """How much `text` looks like something a person wrote: words in one script and sensible letter case
    score, control characters, rare symbols and words that mix scripts or case cost."""
    total = 0.0
    word_scripts: set[str] = set()
    prev_lower = False
    bad_case = False
    for ch in text + " ":
        cat = unicodedata.category(ch)
        if cat[0] == "L":
            name = unicodedata.name(ch, "")
            word_scripts.add(name.split(" ", 1)[0])
            if cat == "Lu" and prev_lower:
                bad_case = True
            prev_lower = cat == "Ll"
            continue
        if word_scripts:
            total += 1.0 if len(word_scripts) == 1 and not bad_case else -2.0
            word_scripts.clear()
        prev_lower = bad_case = False
        if cat in ("Cc", "Co", "Cn", "Cs") and ch not in "\r\n\t":
            total -= 5.0
        elif cat in ("So", "Sk", "Sc", "Pi", "Pf", "No") or ch in "¦¤§¨¬¯°±´µ¶·¸¹º¼½¾¿×÷":
            total -= 1.0
    return total


def decode_text(data: bytes, declared: str | None, fallbacks: tuple[str, ...] = ("cp1252",), allow_guess: bool = True) -> Decoded:
    """Decode `data` labelled `declared`: the label if it fits; valid UTF-8; the fallbacks, best score first;
    a statistical guess only for at least MIN_GUESS_BYTES; latin-1 last, which cannot fail."""
    codec = codec_for(declared)
    if data.isascii() and b"\x1b" not in data:
        return Decoded(data.decode("ascii"), codec or "ascii", "declared" if codec else "ascii")
    if codec:
        text = _try(data, codec)
        if text is not None:
            if codec in _SINGLE_BYTE:
                utf8 = _is_multibyte_utf8(data)
                if utf8 is not None:
                    return Decoded(utf8, "utf-8", f"declared {declared} but the bytes are UTF-8")
            return Decoded(text, codec, "declared")
        nearly = _nearly(data, codec)
        if nearly is not None:
            return nearly
    if is_iso2022jp(data):
        return Decoded(decode_iso2022jp(data), "iso2022_jp", "escape sequences" + (f"; declared {declared} did not fit" if declared else ""))
    why = f"declared {declared} did not fit; " if declared else ""
    utf8 = _is_multibyte_utf8(data)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", why + "valid UTF-8")
    if codec != "utf-8":
        nearly = _nearly(data, "utf-8")
        if nearly is not None:
            return Decoded(nearly.text, "utf-8", why + nearly.how)
    best: tuple[float, int, str, str] | None = None
    for rank, label in enumerate(fallbacks):
        fb = codec_for(label)
        if fb is None:
            continue
        text = _try(data, fb)
        if text is None:
            continue
        candidate = (score(text), -rank, fb, text)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is not None:
        return Decoded(best[3], best[2], why + "fallback charset")
    if allow_guess and len(data) >= MIN_GUESS_BYTES:
        found = from_bytes(data, cp_isolation=_GUESSABLE).best()
        if found is not None:
            return Decoded(str(found), found.encoding, why + "statistical guess")
    return Decoded(data.decode("latin-1"), "latin-1", why + "last resort")


def decode_header_bytes(data: bytes, message_charsets: tuple[str, ...], fallbacks: tuple[str, ...]) -> Decoded:
    """Raw 8-bit header bytes: UTF-8 if valid, else the charsets the message declares, else the fallbacks.
    Never a statistical guess: a header is too short for one."""
    utf8 = _is_multibyte_utf8(data)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", "valid UTF-8")
    if is_iso2022jp(data):
        return Decoded(decode_iso2022jp(data), "iso2022_jp", "escape sequences")
    for label in message_charsets:
        codec = codec_for(label)
        if codec and codec not in ("ascii", "utf-8"):
            text = _try(data, codec)
            if text is not None:
                return Decoded(text, codec, "charset the message declares")
    return decode_text(data, None, fallbacks, allow_guess=False)
