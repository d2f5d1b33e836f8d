"""Boundaries matched without a compile per message answer exactly as the standard library's own pattern does,
and mail parses to the same thing either way."""

from __future__ import annotations

import email.feedparser
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.core import multipart_boundaries
from mailbot.core.multipart_boundaries import BoundaryMatcher, stock_parser
from mailbot.core.mail import InboundMail
from mailbot.parse import MalformedMail, parse_mail
from tests.conftest import CORPUS, DATA


def stdlib_pattern(boundary: str) -> str:
    """What email/feedparser.py compiles for a multipart part with this boundary."""
    return "(?P<sep>" + re.escape("--" + boundary) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"


boundaries = st.text(alphabet=st.sampled_from(list("abcXYZ019'()+_,-./:=? ") + ["\\", "*", "[", "é", "$", "^", "|"]), min_size=1, max_size=30)
endings = st.sampled_from(["", "\n", "\r\n", "\r", " \n", "\t\r\n", "  ", "x\n", "--\n", "--", "-- \r\n", "---\n", "--x\n", " --\n", "\n\n"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boundaries, st.data())
def test_a_boundary_line_matches_as_under_the_stdlibs_pattern(boundary: str, data: st.DataObject) -> None:
    line = data.draw(st.one_of(
        st.builds(lambda before, ending: before + "--" + boundary + ending, st.sampled_from(["", "", "x", " ", "-", "--"]), endings),
        st.builds(lambda cut, ending: ("--" + boundary)[:cut] + ending, st.integers(0, len(boundary) + 1), endings),
        st.text(max_size=40),
    ))
    shim = multipart_boundaries._SHIM.compile(stdlib_pattern(boundary))
    assert isinstance(shim, BoundaryMatcher)  # the parser's pattern, recognised for every boundary
    ours, theirs = shim.match(line), re.compile(stdlib_pattern(boundary)).match(line)
    assert (ours is None) == (theirs is None)
    if ours is not None and theirs is not None:
        assert [ours.group(g) for g in ("end", "ws", "linesep")] == [theirs.group(g) for g in ("end", "ws", "linesep")]


def test_lines_that_only_contain_the_boundary_or_end_like_it_do_not_match() -> None:
    for boundary, line in [("b ", "x--b \n"), ("b", " --b\n"), ("b\t", "---b\t\r\n"), ("a--", "--a----\n"), ("b", "--b--x")]:
        stock = re.compile(stdlib_pattern(boundary)).match(line)
        ours = BoundaryMatcher("--" + boundary).match(line)
        assert (ours is None) == (stock is None), (boundary, line)
        if ours is not None and stock is not None:
            assert ours.group("end", "ws", "linesep") == stock.group("end", "ws", "linesep")


def test_other_patterns_go_to_re_itself() -> None:
    assert isinstance(multipart_boundaries._SHIM.compile(r"(\r\n|\r|\n)\Z"), re.Pattern)
    assert isinstance(multipart_boundaries._SHIM.compile(stdlib_pattern("b"), re.IGNORECASE), re.Pattern)
    assert multipart_boundaries._SHIM.escape is re.escape


def test_parsing_compiles_nothing_per_message(monkeypatch) -> None:
    raw = (
        b"From: a@b.example\r\nTo: c@d.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="unique7f3a9"\r\n\r\n--unique7f3a9\r\nContent-Type: text/plain\r\n\r\n'
        b"hello\r\n--unique7f3a9\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n"
        b"%PDF\r\n--unique7f3a9--\r\n"
    )
    compiled: list[str] = []
    real = re.compile
    monkeypatch.setattr(re, "compile", lambda p, f=0: compiled.append(p) or real(p, f))
    mail = parse_mail(raw)
    assert mail.text.strip() == "hello" and [p.filename for p in mail.parts] == ["a.pdf"]
    assert not [p for p in compiled if "unique7f3a9" in str(p)]
    with stock_parser():
        assert email.feedparser.re is re  # type: ignore[attr-defined]
        assert parse_mail(raw) == mail
        assert [p for p in compiled if "unique7f3a9" in str(p)]  # the stock parser compiles the boundary
    assert email.feedparser.re is multipart_boundaries._SHIM  # type: ignore[attr-defined]


def test_real_mail_parses_the_same_with_and_without() -> None:
    raws = [p.read_bytes() for p in [*CORPUS.rglob("*"), *DATA.rglob("*.eml")] if p.is_file() and p.suffix != ".md"]
    assert len(raws) > 50
    ours = [parsed(r) for r in raws]
    with stock_parser():
        stock = [parsed(r) for r in raws]
    assert ours == stock
    assert sum(isinstance(p, InboundMail) and bool(p.parts) for p in ours) > 10  # multipart mail among them


def parsed(raw: bytes) -> InboundMail | str:
    try:
        return parse_mail(raw)
    except MalformedMail as exc:
        return str(exc)
