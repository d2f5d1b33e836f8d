"""Subject lines: strip reply/forward prefixes in many languages, find and add the ticket tag `[#N]`."""

from __future__ import annotations

import re

from mailbot.core.linear_regex import compile_linear

# Reply and forward markers used by common clients: English, German (AW/WG), Scandinavian (SV/VS/VB),
# Dutch (Antw/Doorst), French (TR), Italian (R/RIF/I), Spanish/Portuguese (RE/RV/ENC/RES), Polish (ODP/PD),
# Turkish (YNT/İLT), Finnish (VL/VS), Russian/Ukrainian (Отв/Пер), Chinese (回复/回覆/答复/转发/轉寄).
_MARKERS = (
    "re", "fw", "fwd", "aw", "wg", "sv", "vs", "vb", "antw", "antwort", "doorst", "tr", "r", "rif", "i",
    "rv", "enc", "res", "odp", "pd", "ynt", "ilt", "i̇lt", "vl", "отв", "ответ", "пер", "fs",
    "回复", "回覆", "答复", "转发", "轉寄", "返信", "転送",
)
# All the prefixes in one linear-time pass: removing them one at a time costs a copy of the subject each,
# which is quadratic for a subject of thousands of "Re:".
_PREFIXES = compile_linear(
    r"(?i)^(?:\s*(?:" + "|".join(sorted(map(re.escape, _MARKERS), key=len, reverse=True)) + r")"
    r"(?:\s*\[\d+\]|\s*\(\d+\)|\^\d+)?\s*[:：]\s*)+"
)
TAG = re.compile(r"\[#(\d{1,12})\]")
_SPACE = re.compile(r"\s+")


def unfold(value: str) -> str:
    """Join a folded header value into one line (RFC 5322 section 2.2.3)."""
    return _SPACE.sub(" ", value.replace("\r", "").replace("\n", " ")).strip()


def strip_prefixes(subject: str) -> str:
    """`Re: AW: Fwd: Hello` → `Hello`; also drops the ticket tag wherever it sits."""
    text = TAG.sub(" ", unfold(subject))
    found = _PREFIXES.search(text)
    if found is not None:
        text = text[found.end:]
    return _SPACE.sub(" ", text).strip()


def ticket_tags(subject: str) -> list[int]:
    """Ticket numbers named by `[#N]` tags in the subject, in order of appearance."""
    return [int(n) for n in TAG.findall(subject)]


def tagged(subject: str, ticket_id: int) -> str:
    """The subject with exactly one `[#N]` tag for this ticket in front."""
    return f"[#{ticket_id}] {strip_prefixes(subject)}".rstrip()
