"""Uuencoded files written into a text body (`begin 644 name` … `end`): taken out as attachments."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

_BEGIN = re.compile(r"^begin(?:-base64)? ([0-7]{3,4}) (\S[^\r\n]*)$", re.MULTILINE)
_MIN_LINES = 1


@dataclass(frozen=True)
class UuFile:
    filename: str
    data: bytes


def _decode_lines(lines: list[str]) -> bytes | None:
    out = bytearray()
    for line in lines:
        if not line.strip() or line.strip() == "`":
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines short; decode what the length byte announces.
            try:
                n = (ord(line[0]) - 32) & 63
                out += binascii.a2b_uu(line[: 1 + (n * 4 + 2) // 3])
            except (binascii.Error, IndexError):
                return None
    return bytes(out)


def extract_uuencoded(text: str) -> tuple[str, list[UuFile]]:
    """The text with every well-formed uuencoded block cut out, and the files decoded from them."""
    if "begin " not in text:
        return text, []
    files: list[UuFile] = []
    kept: list[str] = []
    pos = 0
    for m in _BEGIN.finditer(text):
        if m.start() < pos:
            continue
        end = re.search(r"^end[ \t]*$", text[m.end():], re.MULTILINE)
        if end is None:
            break
        body = text[m.end():m.end() + end.start()]
        lines = [line.rstrip("\r") for line in body.split("\n")]
        lines = [line for line in lines if line]
        if len(lines) < _MIN_LINES:
            continue
        data = _decode_lines(lines)
        if data is None:
            continue
        name = m.group(2).strip().replace("/", "_").replace("\\", "_")
        files.append(UuFile(name, data))
        kept.append(text[pos:m.start()])
        kept.append(f"[attachment: {name}]")
        pos = m.end() + end.end()
    kept.append(text[pos:])
    return "".join(kept), files
