"""The plain address headers read without the standard library's parser are read exactly as it reads them,
and everything else still goes to it."""

from __future__ import annotations

import base64
import quopri
import time
from email.parser import BytesHeaderParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.core import addresses
from mailbot.core.addresses import parse_list, parse_single
from mailbot.core.subject import unfold
from tests.conftest import CORPUS, DATA

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
# Pieces a header is built from: mostly what the plain forms allow, and a little of what they do not.
PIECES = st.sampled_from(
    [*ATEXT, ".", "@", " ", "  ", "\t", ",", "<", ">", '"', "\\", "(", ")", ":", ";", "[", "]", "=?", "é", "..", "-.", ".-", "_"]
)
atom = st.text(alphabet=ATEXT, min_size=1, max_size=6)
label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,4}[A-Za-z0-9])?", fullmatch=True)
spec = st.builds(lambda local, labels: ".".join(local) + "@" + ".".join(labels), st.lists(atom, min_size=1, max_size=3), st.lists(label, min_size=1, max_size=3))
space = st.sampled_from(["", " ", "  ", "\t", " \t "])
gap = st.sampled_from([" ", "  ", "\t", " \t "])


def phrase_of(words: list[tuple[str, str]]) -> str:
    return "".join(word + gap for word, gap in words[:-1]) + words[-1][0]

quoted_text = st.text(alphabet=ATEXT + " ,.;:<>@()[]\t", max_size=12)


def encoded_word(text: str, charset: str, b: bool) -> str:
    data = text.encode(charset)
    if b:
        return f"=?{charset}?b?{base64.b64encode(data).decode()}?="
    return f"=?{charset}?q?{quopri.encodestring(data, header=True).decode().replace('=' + chr(10), '')}?="


names = st.text(st.characters(codec="latin-1", categories=["L", "Nd"], include_characters=" "), min_size=1, max_size=12).map(lambda t: " ".join(t.split())).filter(bool)
mailbox = st.one_of(
    st.builds(lambda a, word, s, addr: a + word + " " + s + "<" + addr + ">", space,
              st.builds(encoded_word, names, st.sampled_from(["utf-8", "iso-8859-1", "windows-1252"]), st.booleans()), space, spec),
    st.builds(lambda a, s, b: a + s + b, space, spec, space),
    st.builds(lambda a, words, s, addr: a + phrase_of(words) + s + "<" + addr + ">", space, st.lists(st.tuples(atom, gap), min_size=1, max_size=4), space, spec),
    st.builds(lambda a, text, s, addr: a + '"' + text + '"' + s + "<" + addr + ">", space, quoted_text, space, spec),
    st.builds(lambda s, addr: s + "<" + addr + ">", space, spec),
)
plain_header = st.lists(mailbox, min_size=1, max_size=4).map(",".join)
odd_header = st.lists(PIECES, max_size=40).map("".join)
QUICK = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_the_stdlib(value: str) -> tuple[list, str | None]:
    saved = addresses._plain_list
    addresses._plain_list = lambda value: None  # type: ignore[assignment]
    try:
        return parse_list(value)
    finally:
        addresses._plain_list = saved


@QUICK
@given(st.one_of(plain_header, odd_header, st.builds(lambda a, b: a + b, plain_header, odd_header)))
def test_the_plain_forms_read_as_the_standard_library_reads_them(value: str) -> None:
    assert parse_list(value) == by_the_stdlib(value)


@QUICK
@given(plain_header)
def test_plain_headers_take_the_fast_path(value: str) -> None:
    if '"' in value and "," in value or value.count("=?") > value.count("?= ") + value.count("?=<") + value.count("?=\t"):
        return  # a quoted name beside other mailboxes, or what may be an encoded word inside a word: the stdlib's to read
    assert addresses._plain_list(value) is not None


@QUICK
@given(st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), min_size=1, max_size=12),
       st.sampled_from(["utf-8", "iso-8859-1"]), st.booleans(), st.sampled_from(["", " ", "\t"]), spec)
def test_any_name_in_an_encoded_word_reads_as_the_standard_library_reads_it(name: str, charset: str, b: bool, space: str, addr: str) -> None:
    value = encoded_word(name, charset, b) + " " + space + "<" + addr + ">"
    assert parse_list(value) == by_the_stdlib(value)


def test_common_headers_as_mail_programs_write_them() -> None:
    cases = {
        "Alice Example <Alice@Example.COM>": [("alice@example.com", "Alice Example")],
        '"Example, Alice" <alice@example.com>': [("alice@example.com", "Example, Alice")],
        "alice@example.com": [("alice@example.com", "")],
        "<alice@example.com>": [("alice@example.com", "")],
        "a@x.example, Bob <b@y.example>": [("a@x.example", ""), ("b@y.example", "Bob")],
        "=?utf-8?q?Karl_Lef=C3=A8vre?= <karl@example.com>": [("karl@example.com", "Karl Lefèvre")],
        "=?UTF-8?B?T3NjYXIgTsO6w7Fleg==?= <oscar@example.com>": [("oscar@example.com", "Oscar Núñez")],
    }
    for value, expected in cases.items():
        plain = addresses._plain_list(value)
        assert plain is not None and [(a.addr, a.name) for a in plain] == expected
        assert parse_list(value) == by_the_stdlib(value)
    for other in ["=?utf-8?q?Al?= =?utf-8?q?ice?= <a@b.example>", "=?x-unknown?q?Al?= <a@b.example>", "Alice (work) <a@b.example>", "undisclosed-recipients:;", "John Q. Public <j@b.example>"]:
        assert addresses._plain_list(other) is None  # the stdlib's to read
    assert parse_single("Bob <bob@x.example>, Carol <c@x.example>")[0] is None  # a sender is one mailbox, either way


def test_hostile_headers_cost_no_more_than_their_length() -> None:
    started = time.monotonic()
    for value in ["a " * 2000, "a\t" * 2000 + "<", "a." * 2000 + "@", "a@" + "b." * 2000, '"' + "x" * 4000]:
        addresses._plain_list(value)
    assert time.monotonic() - started < 5.0


def test_real_mail_headers_read_alike() -> None:
    values = []
    for path in [*CORPUS.rglob("*"), *DATA.rglob("*.eml")]:
        if path.is_file() and path.suffix != ".md":
            headers = BytesHeaderParser().parsebytes(path.read_bytes())
            for name in ("From", "Sender", "Reply-To", "To", "Cc"):
                values += [unfold(str(v)) for v in headers.get_all(name, [])]
    assert len(values) > 100
    fast = [v for v in values if addresses._plain_list(v) is not None]
    assert len(fast) > len(values) / 3  # most real headers are plain
    assert [parse_list(v) for v in values] == [by_the_stdlib(v) for v in values]
