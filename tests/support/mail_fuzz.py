"""Hypothesis strategies for mail: structured messages (nested multiparts, charsets, transfer encodings,
broken headers, junk lines, huge lines) and byte mutations of real messages; and the property they must keep."""

from __future__ import annotations

import base64
import quopri
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from mailbot.parse import MalformedMail, parse_mail

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "windows-1251", "shift_jis", "euc-jp", "iso-2022-jp", "gb2312", "big5", "bogus-charset", ""]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-broken"]
LETTERS = "abcxyzäöüßéèñçøåæЖжЯяПривет日本語テストお世話①㈱中文한국 \t,.;:<>@\"'()=?_-"


@dataclass
class Built:
    raw: bytes
    markers: list[str]  # one per text part: each must be found again


def _encode(text: str, charset: str) -> tuple[bytes, str]:
    try:
        return text.encode(charset or "ascii"), charset
    except (LookupError, UnicodeEncodeError):
        return text.encode("utf-8"), "utf-8"


def _body(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


@st.composite
def leaf(draw: st.DrawFn, markers: list[str]) -> bytes:
    marker = f"MARK{len(markers)}Z"
    markers.append(marker)
    words = draw(st.text(alphabet=LETTERS, max_size=60))
    huge = draw(st.sampled_from(["", "", "", "x" * 5000]))
    text = f"{words} {marker} {huge}\n"
    ctype = draw(st.sampled_from(["text/plain", "text/plain", "text/html", "text/csv"]))
    if ctype == "text/html":
        text = f"<p>{text}</p>"
    data, charset = _encode(text, draw(st.sampled_from(CHARSETS)))
    cte = draw(st.sampled_from(ENCODINGS))
    name = draw(st.sampled_from([None, None, '" "', '"report.txt"', "=?utf-8?B?0YTQsNC50Ls=?=.txt"]))
    disposition = draw(st.sampled_from([None, "inline", "attachment"]))
    head = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "") + (f"; name={name}" if name else "") + "\r\n"
    if disposition:
        head += f"Content-Disposition: {disposition}" + (f"; filename={name}" if name else "") + "\r\n"
    head += f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    return head.encode() + _body(data, cte)


@st.composite
def entity(draw: st.DrawFn, markers: list[str], depth: int = 0) -> bytes:
    if depth >= 3 or draw(st.booleans()):
        return draw(leaf(markers))
    boundary = f"b{depth}-{draw(st.integers(0, 10**6))}"
    kind = draw(st.sampled_from(["mixed", "alternative", "related"]))
    children = [draw(entity(markers, depth + 1)) for _ in range(draw(st.integers(1, 4)))]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + c + b"\r\n" for c in children)
    closing = draw(st.sampled_from([b"--" + boundary.encode() + b"--\r\n", b""]))  # a missing close boundary happens
    return f"Content-Type: multipart/{kind}; boundary=\"{boundary}\"\r\n\r\n".encode() + body + closing


FROMS = [
    b"From: Alice <alice@customer.example>",
    b"From: =?utf-8?B?TcO8bGxlciwgQmVybmQ=?= <bernd@kunde.example>",
    b"From: bob@customer.example (Bob)",
    b"From: Test test@customer.example",
    b"From: <nina@kunde.example.>",
    b"From: Doe, John <john@customer.example>",
    b"From: Wilhelmsen H\xe5vard <h@kunde.example>",
    b"From: alice@x.example <mallory@y.example>",
    b"From: =?bogus?Q?broken",
    b"From:",
    b"",
]


@st.composite
def structured_mail(draw: st.DrawFn) -> Built:
    markers: list[str] = []
    body = draw(entity(markers))
    subject = draw(st.sampled_from([b"Subject: plain", b"Subject: =?utf-8?Q?f=C3=BC?= =?utf-8?Q?r?=", b"Subject: \xe4\xf6\xfc raw", b"Subject: =?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", b"Subject: " + b"x" * 3000]))
    junk = draw(st.sampled_from([b"", b"", b"---- Original message ----\r\n", b">From x@y Mon\r\n", b"\r\n"]))
    head = junk + draw(st.sampled_from(FROMS)) + b"\r\nTo: support@example.com\r\n" + subject + b"\r\nMessage-ID: <f@x>\r\nMIME-Version: 1.0\r\n"
    return Built(head + body, markers)


def seeds(*folders: Path) -> list[bytes]:
    return [p.read_bytes() for folder in folders if folder.is_dir() for p in sorted(folder.rglob("*.eml"))]


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    raw = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 8))):
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if op == "flip":
            raw[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del raw[at:at + draw(st.integers(1, 200))]
        elif op == "insert":
            raw[at:at] = draw(st.sampled_from([b"\r\n", b"\n\n", b"=?utf-8?B?", b"--", b"\x1b$B", b"\x00", b"Content-Type: multipart/mixed; boundary=z\n", b"\xff\xfe"]))
        else:
            del raw[at:]
    return bytes(raw)


def check(raw: bytes, markers: Sequence[str] = ()) -> None:
    """The property: parse_mail returns a message that has a sender or says why not, or refuses the bytes
    with a reason; it never raises anything else, and every text part's marker is somewhere in what is kept."""
    try:
        mail = parse_mail(raw)
    except MalformedMail as exc:
        assert str(exc).strip()
        return
    assert mail.sender is not None or mail.sender_problem
    for text in (mail.subject, mail.text, mail.html or ""):
        text.encode("utf-8")  # storable
        assert "\x00" not in text
    kept = mail.text + (mail.html or "")
    blobs = b"".join(p.payload for p in mail.parts)
    for marker in markers:
        assert marker in kept or marker.encode() in blobs or _in_encoded(marker, blobs), marker


def _in_encoded(marker: str, blobs: bytes) -> bool:
    """A marker inside an attachment kept in its transfer encoding (a part whose encoding was broken)."""
    return marker.encode("utf-16-le") in blobs
