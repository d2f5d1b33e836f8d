"""Turning bytes and markup into text: charsets (declared, wrong or missing), RFC 2047 headers, HTML."""

from __future__ import annotations

import codecs
from email.header import decode_header, make_header

from charset_normalizer import from_bytes
from inscriptis import get_text

from mailbot.core.subject import unfold

# Labels seen in the wild that Python's codec registry does not know, mapped to what they mean.
_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "default": "",
    "charset": "",
    "ansi_x3.4-1968": "ascii",
    "ks_c_5601-1987": "cp949",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "cp-850": "cp850",
    "windows-874": "cp874",
    "gb2312": "gb18030",  # GB2312 mail is routinely GBK/GB18030 in practice
    "gbk": "gb18030",
}


# Charsets a guess may choose from: the legacy encodings mail actually arrives in.
_GUESSABLE = [
    "cp1252", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r", "koi8_u", "iso8859_5",
    "gb18030", "big5", "shift_jis", "euc_jp", "euc_kr", "cp1253", "cp1254", "cp1255", "cp1256",
]


def clean(text: str) -> str:
    """Text any database accepts: no NUL characters, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when the label is missing or unknown."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode `data` declared as charset `label`. Returns the text and a note when the label was not usable.

    Order: the declared charset; UTF-8; a statistical guess; latin-1 (which cannot fail), so no text
    is ever lost to replacement characters while a decoding that fits exists.
    """
    text, note = _decode_bytes(data, label)
    return clean(text), note


def _decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    codec = codec_for(label)
    if codec:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            pass
    if data.isascii():
        return data.decode("ascii"), None
    try:
        text = data.decode("utf-8")
        return text, (f"declared charset {label!r} did not fit; decoded as UTF-8" if label else None)
    except UnicodeDecodeError:
        pass
    best = from_bytes(data, cp_isolation=_GUESSABLE).best()
    if best is not None:
        note = f"declared charset {label!r} did not fit" if label else "no charset declared"
        return str(best), f"{note}; guessed {best.encoding}"
    return data.decode("latin-1"), f"charset {label!r} unusable; decoded as latin-1"


def _unescape_8bit(value: str) -> str:
    """Header text that arrived as raw 8-bit bytes (the stdlib keeps them as surrogates) decoded properly."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        return decode_bytes(raw, "utf-8")[0]


def decode_header_value(value: object) -> str:
    """A header's value as one line of text: unfolded, RFC 2047 words decoded, raw 8-bit repaired."""
    return clean(_decode_header_value(value))


def _decode_header_value(value: object) -> str:
    if value is None:
        return ""
    text = unfold(_unescape_8bit(str(value)))
    if "=?" not in text:
        return text
    try:
        pieces = []
        for chunk, charset in decode_header(text):
            if isinstance(chunk, bytes):
                pieces.append(decode_bytes(chunk, charset)[0])
            else:
                pieces.append(chunk)
        # make_header re-joins words with the spacing rules of RFC 2047 section 6.2
        return unfold(str(make_header([(p, "utf-8") for p in pieces])) if len(pieces) > 1 else "".join(pieces))
    except Exception:  # a broken encoded-word is shown as written rather than lost
        return text


def html_to_text(html: str) -> str:
    """Readable plain text from HTML mail (lists, tables and paragraphs kept as lines)."""
    try:
        return clean(get_text(html).strip("\n"))
    except Exception:
        return ""
