"""The pure decoding modules one by one: charset choice, ISO-2022-JP, encoded words, address structure and
repair, junk before headers, uuencode, fingerprints, and the part-by-part reader for large mail."""

from __future__ import annotations

import base64
import binascii

import pytest

from mailbot.core.address_repair import repair_mailbox
from mailbot.core.charset_guess import MIN_GUESS_BYTES, decode_header_bytes, decode_text
from mailbot.core.fingerprint import content_fingerprint
from mailbot.core.header_decoding import decode_words, display_name, split_mailboxes
from mailbot.core.header_junk import header_start
from mailbot.core.iso2022jp import decode_iso2022jp, is_iso2022jp
from mailbot.core.large_mime import parse_large
from mailbot.core.uuencode import extract_uuencoded


@pytest.mark.parametrize(
    "text, codec, fallbacks, expected_codec",
    [
        ("Не работает", "koi8_r", ("windows-1251", "koi8-r"), "koi8-r"),
        ("Привет, мир", "cp1251", ("windows-1251", "koi8-r"), "cp1251"),
        ("Grüße aus Köln", "cp1252", ("windows-1251", "koi8-r", "windows-1252"), "cp1252"),
        ("ログインできません", "cp932", ("shift_jis", "euc-jp"), "cp932"),
        ("ログインできません", "euc_jp", ("shift_jis", "euc-jp"), "euc_jp"),
        ("Zażółć gęślą", "cp1250", ("windows-1250", "iso-8859-2"), "cp1250"),
    ],
)
def test_fallback_charset_is_chosen_by_score(text: str, codec: str, fallbacks: tuple[str, ...], expected_codec: str) -> None:
    decoded = decode_text(text.encode(codec), None, fallbacks)
    assert decoded.text == text
    assert decoded.charset == expected_codec and decoded.how == "fallback charset"


def test_declared_charset_wins_then_utf8() -> None:
    assert decode_text("Größe".encode("iso8859_15"), "iso-8859-15").how == "declared"
    mislabelled = decode_text("Größe".encode("utf-8"), "iso-8859-1")
    assert mislabelled.text == "Größe" and mislabelled.charset == "utf-8"
    assert decode_text("Größe".encode("utf-8"), "x-unknown").text == "Größe"


def test_no_statistical_guess_for_short_text() -> None:
    short = "Не работает".encode("koi8_r")
    assert len(short) < MIN_GUESS_BYTES
    decoded = decode_text(short, None, ())
    assert decoded.how == "last resort"  # latin-1: visibly wrong, never a confident CJK guess


def test_one_broken_byte_keeps_the_declared_utf8() -> None:
    data = ("Профиль пользователя " * 20).encode("utf-8")
    data = data[:101] + b"\xff" + data[101:]
    decoded = decode_text(data, "utf-8")
    assert decoded.charset == "utf-8" and decoded.text.count("\ufffd") == 1


def test_header_bytes_use_the_declared_charsets_before_fallbacks() -> None:
    assert decode_header_bytes("Håvard".encode("latin-1"), ("iso-8859-1",), ("windows-1251",)).text == "Håvard"
    assert decode_header_bytes("Håvard".encode("utf-8"), ("koi8-r",), ()).text == "Håvard"


def _jis(text: str) -> bytes:
    out = bytearray(b"\x1b$B")
    sj = text.encode("cp932")
    for s1, s2 in zip(sj[::2], sj[1::2]):
        j1 = ((s1 - 0x81 if s1 <= 0x9F else s1 - 0xC1) * 2) + 0x21
        if s2 >= 0x9F:
            j1, j2 = j1 + 1, s2 - 0x7E
        else:
            j2 = s2 - 0x1F - (1 if s2 >= 0x80 else 0)
        out += bytes((j1, j2))
    return bytes(out) + b"\x1b(B"


def test_iso2022jp_vendor_rows_decode() -> None:
    for text in ("①②③", "ⅠⅡⅢ", "㈱㈲", "髙﨑", "お世話になります"):
        data = _jis(text)
        assert is_iso2022jp(data)
        assert decode_iso2022jp(data) == text
    assert decode_iso2022jp("ｱｲｳ".encode("iso2022_jp_ext")) == "ｱｲｳ"
    # An unknown cell is a replacement character, never a raw escape sequence.
    assert "\x1b" not in decode_iso2022jp(b"\x1b$B\x7f\x7f\x1b(B ok")


def test_encoded_words_adjacent_joined_and_split_characters() -> None:
    assert decode_words("=?utf-8?Q?Hallo?= =?utf-8?Q?_Welt?=") == "Hallo Welt"
    assert decode_words("=?utf-8?B?w6Q=?=\r\n =?utf-8?B?w7Y=?=") == "äö"
    assert decode_words("a =?iso-8859-1?q?caf=E9?= b") == "a café b"
    assert decode_words("=?unknown-8bit?Q?M=C3=BCller?=") == "Müller"


def test_address_structure_before_display_names() -> None:
    [box] = split_mailboxes("=?utf-8?B?TcO8bGxlciwgQmVybmQ=?= <bernd@kunde.example>")
    assert box.addr == "bernd@kunde.example" and display_name(box) == "Müller, Bernd"
    boxes = split_mailboxes('"Doe, J" <j@x.example>, (team) t@x.example, grp: a@x.example, b@x.example;')
    assert [b.addr for b in boxes] == ["j@x.example", "t@x.example", "a@x.example", "b@x.example"]
    assert display_name(boxes[1]) == "team"


@pytest.mark.parametrize(
    "value, addr, name",
    [
        ("<nina@kunde.example.>", "nina@kunde.example", ""),
        ("Test test@kunde.example", "test@kunde.example", "Test"),
        ('"jane.doe">@kunde.example', '"jane.doe"@kunde.example', ""),
        ("Doe, John <john@kunde.example>", "john@kunde.example", "Doe, John"),
    ],
)
def test_unambiguous_addresses_are_repaired(value: str, addr: str, name: str) -> None:
    repaired = repair_mailbox(value)
    assert repaired is not None and repaired.address.addr == addr and repaired.address.name == name
    assert repaired.note.startswith("address repaired: ")


@pytest.mark.parametrize("value", ["alice@x.example <mallory@y.example>", "a@x.example, b@x.example", "no address here", ""])
def test_ambiguous_or_missing_addresses_are_not_repaired(value: str) -> None:
    assert repair_mailbox(value) is None


def test_junk_before_headers_is_skipped_only_when_headers_follow() -> None:
    found = header_start(b"---- Original email message ----\r\nFrom: a@b.example\r\nSubject: x\r\n\r\nbody")
    assert found is not None and found.offset == 34
    assert header_start(b"From: a@b.example\nSubject: x\n\nbody") is None
    assert header_start(b"just some text\nand more\n") is None


def test_uuencoded_blocks_become_files() -> None:
    data = bytes(range(200))
    enc = "".join(binascii.b2a_uu(data[i:i + 45]).decode() for i in range(0, len(data), 45))
    text, files = extract_uuencoded(f"before\nbegin 600 a b.bin\n{enc}`\nend\nafter\n")
    assert [(f.filename, f.data) for f in files] == [("a b.bin", data)]
    assert text == "before\n[attachment: a b.bin]\nafter\n"
    assert extract_uuencoded("begin 644 x\nnot closed") == ("begin 644 x\nnot closed", [])


def test_fingerprint_ignores_whitespace_but_not_content() -> None:
    a = content_fingerprint("Disk 91% full.\r\n", ["ab"])
    assert a == content_fingerprint("Disk   91% full.\n\n", ["ab"])
    assert a != content_fingerprint("Disk 97% full.", ["ab"])
    assert a != content_fingerprint("Disk 91% full.", [])
    assert content_fingerprint("x", ["a", "b"]) == content_fingerprint("x", ["b", "a"])


def test_large_reader_finds_parts_and_decodes_on_demand() -> None:
    payload = bytes(range(256)) * 100
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\npreamble\r\n--X\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n--X\r\nContent-Type: multipart/alternative; boundary=Y\r\n\r\n"
        b"--Y\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n--Y--\r\n--X\r\nContent-Type: application/octet-stream; name=f.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(payload).replace(b"\n", b"\r\n") + b"--X--\r\n"
    )
    msg = parse_large(raw, 100)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in leaves] == ["text/plain", "text/html", "application/octet-stream"]
    assert leaves[0].get_payload(decode=True) == b"Hello"
    assert leaves[2].get_payload(decode=True) == payload


@pytest.mark.parametrize("label", ["\x00utf-8", "utf-8\n", "x" * 200, "../../etc", "utf\udcff8"])
def test_hostile_charset_labels_are_unknown_not_errors(label: str) -> None:
    # Found by bench/fuzz_parse.py: a NUL in an encoded word's charset made the codec lookup raise.
    assert decode_text("Grüße".encode("utf-8"), label).text == "Grüße"
