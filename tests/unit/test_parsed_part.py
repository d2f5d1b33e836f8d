"""A part that keeps its parsed parameters answers every parameter question exactly as the stdlib's Message
does, for real mail and for headers that change after parsing."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.core.parsed_part import ParsedPart
from tests.conftest import CORPUS, DATA

_STOCK = BytesParser(policy=compat32)
_OURS = BytesParser(ParsedPart, policy=compat32)


def answers(part: Message) -> list[Any]:
    """Everything mailbot and the stdlib ask of a part's parameters, twice (the second time from the cache)."""
    out: list[Any] = []
    for _ in range(2):
        for call in (
            lambda: part.get_params(),
            lambda: part.get_params(header="content-disposition"),
            lambda: part.get_params(unquote=False),
            lambda: part.get_param("charset"),
            lambda: part.get_param("name"),
            lambda: part.get_param("NAME", header="Content-Type", unquote=False),
            lambda: part.get_content_charset(),
            lambda: part.get_filename(),
            lambda: part.get_boundary(),
            lambda: part.get_content_type(),
            lambda: part.get_content_disposition(),
        ):
            try:
                out.append(("ok", call()))
            except Exception as exc:  # a malformed header raises the same way in both
                out.append(("raised", type(exc).__name__))
    return out


def test_real_mail_reads_the_same() -> None:
    files = sorted(p for root in (CORPUS, DATA) for p in root.rglob("*") if p.is_file() and p.suffix in (".eml", ".txt", ""))
    parts = 0
    for path in files:
        raw = path.read_bytes()
        stock, ours = list(_STOCK.parsebytes(raw).walk()), list(_OURS.parsebytes(raw).walk())
        assert len(stock) == len(ours), path
        for a, b in zip(stock, ours):
            assert isinstance(b, ParsedPart)
            assert answers(a) == answers(b), path
            parts += 1
    assert parts > 100


param_values = st.lists(st.sampled_from(list("ab=;\"'*% -_.\\") + ["é", "utf-8''", "%41"]), max_size=12).map("".join)
headers = st.builds(
    lambda kind, params: kind + "".join(f";{name}={value}" for name, value in params),
    st.sampled_from(["text/plain", "multipart/mixed", "application/pdf", "TEXT/HTML", "text", ""]),
    st.lists(st.tuples(st.sampled_from(["charset", "name", "boundary", "name*", "name*0*", "name*1", "filename"]), param_values), max_size=4),
)


def change(parts: tuple[Message, Message], how: Any) -> None:
    """Apply one change to both parts: it succeeds on both or raises alike on both."""
    outcomes = []
    for part in parts:
        try:
            how(part)
            outcomes.append(None)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]


@settings(max_examples=300, deadline=None)
@given(headers, headers, headers)
def test_any_header_and_any_change_to_it_read_the_same(first: str, second: str, disposition: str) -> None:
    parts = (Message(), ParsedPart())
    change(parts, lambda p: p.__setitem__("Content-Type", first))
    assert answers(parts[0]) == answers(parts[1])
    # Changed in place, given a parameter and a neighbour, deleted and added again.
    change(parts, lambda p: p.replace_header("Content-Type", second))
    assert answers(parts[0]) == answers(parts[1])
    change(parts, lambda p: p.set_param("charset", "koi8-r"))
    change(parts, lambda p: p.__setitem__("Content-Disposition", disposition))
    assert answers(parts[0]) == answers(parts[1])
    change(parts, lambda p: p.__delitem__("Content-Type"))
    change(parts, lambda p: p.__setitem__("Content-Type", first))
    assert answers(parts[0]) == answers(parts[1])
