"""ISO-2022-JP with the vendor extensions Japanese mail really uses (CP50220/CP50221: NEC row 13, IBM rows).

Python's iso2022_jp codecs stop at the first character outside JIS X 0208 (①, Ⅰ, ㈱), and a strict decode
then leaves the whole text undecoded. Here each two-byte JIS character is moved to its Shift_JIS cell and read
as CP932, which carries those extensions; a cell that no table has becomes U+FFFD, and no escape byte is kept.
"""

from __future__ import annotations

import re

_ESC = re.compile(rb"\x1b(\$\(?[@BDOPQ]|\([BJHI]|&@|\$\)[ACEG]|N|O|\.[AF])")
_MARKERS = (b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b(I", b"\x1b$(")


def is_iso2022jp(data: bytes) -> bool:
    """7-bit bytes carrying ISO-2022-JP escape sequences."""
    return b"\x1b" in data and data.isascii() and any(m in data for m in _MARKERS)


def _jis_to_sjis(j1: int, j2: int) -> bytes:
    s1 = (j1 + 1) // 2 + 0x70
    if s1 > 0x9F:
        s1 += 0x40
    if j1 % 2:
        s2 = j2 + 0x1F + (1 if j2 >= 0x60 else 0)
    else:
        s2 = j2 + 0x7E
    return bytes((s1, s2))


def _double(chunk: bytes, charset: str) -> str:
    chunk = bytes(b for b in chunk if b not in b"\r\n") if b"\n" in chunk else chunk
    if charset == "0212":
        return (b"".join(b"\x8f" + bytes((a | 0x80, b | 0x80)) for a, b in zip(chunk[::2], chunk[1::2]))).decode("euc_jp", "replace")
    if charset == "0213":
        return (b"\x1b$(Q" + chunk + b"\x1b(B").decode("iso2022_jp_2004", "replace")
    out = bytearray()
    for a, b in zip(chunk[::2], chunk[1::2]):
        if 0x21 <= a <= 0x7E and 0x21 <= b <= 0x7E:
            out += _jis_to_sjis(a, b)
        else:
            out += b"?"
    return out.decode("cp932", "replace")


def decode_iso2022jp(data: bytes) -> str:
    """Text of ISO-2022-JP (any variant) bytes; a line break ends a two-byte run, as the RFC 1468 rule says."""
    out: list[str] = []
    mode = "ascii"
    pos = 0
    for line in data.splitlines(keepends=True):
        mode = "ascii" if mode not in ("ascii", "roman") else mode
        pos = 0
        pieces = []
        for m in _ESC.finditer(line):
            pieces.append((mode, line[pos:m.start()]))
            seq = m.group(1)
            if seq in (b"$B", b"$@", b"$(B", b"$(@"):
                mode = "0208"
            elif seq == b"$(D":
                mode = "0212"
            elif seq in (b"$(O", b"$(P", b"$(Q"):
                mode = "0213"
            elif seq == b"(I":
                mode = "kana"
            elif seq in (b"(B", b"(J", b"(H"):
                mode = "ascii"
            pos = m.end()
        pieces.append((mode, line[pos:]))
        for piece_mode, chunk in pieces:
            if not chunk:
                continue
            chunk = chunk.replace(b"\x1b", b"")
            if piece_mode == "kana":
                out.append(bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in chunk).decode("cp932", "replace"))
            elif piece_mode in ("0208", "0212", "0213"):
                body = chunk.rstrip(b"\r\n")
                out.append(_double(body, piece_mode) + chunk[len(body):].decode("ascii"))
            else:
                out.append(_shift_out(chunk))
    return "".join(out)


def _shift_out(chunk: bytes) -> str:
    """ASCII with SO/SI half-width katakana shifts (CP50221's other way to write them)."""
    if b"\x0e" not in chunk:
        return chunk.decode("ascii", "replace")
    text = []
    kana = False
    for b in chunk:
        if b == 0x0E:
            kana = True
        elif b == 0x0F:
            kana = False
        elif kana and 0x21 <= b <= 0x5F:
            text.append(bytes((b + 0x80,)).decode("cp932"))
        else:
            text.append(chr(b))
    return "".join(text)
