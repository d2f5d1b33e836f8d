"""Linear-time patterns: Unicode-aware classes and boundaries, hostile inputs, and clear rejections."""

from __future__ import annotations

import time

import pytest

from mailbot.core.linear_regex import PatternError, compile_linear


def test_unicode_words_and_boundaries_like_python() -> None:
    p = compile_linear(r"(?i)\b(invoice|refund|счёт)\b")
    assert p.search("Вот СЧЁТ, пожалуйста") is not None
    assert p.search("my Invoice.") is not None
    assert p.search("invoices") is None
    assert p.search("пересчёта") is None
    m = p.search("see the REFUND now")
    assert m is not None and m.group(1) == "REFUND"



@pytest.mark.parametrize("pattern", [r"(?i)\bplease\b", r"(?is)\bplease\b", r"(?i:\bplease\b)", r"(?:\bPlease\b)"])
def test_a_boundary_after_an_opening_group_or_flags_matches_at_the_start_of_the_text(pattern: str) -> None:
    """`(?i)\bword` must find the word at the very start of a message, as Python's `re` does."""
    p = compile_linear(pattern)
    assert p.search("Please develop a module") is not None
    assert p.search("Displease") is None


@pytest.mark.parametrize("pattern,text,hit", [
    (r"\w+", "Привет", True),
    (r"^\W*$", "Привет", False),
    (r"\d", "٣", True),
    (r"[\w.]+@", "имя.фамилия@", True),
    (r"\s", "a\u00a0b", True),
    (r"end\Z", "the end", True),
])
def test_classes_follow_python_semantics(pattern: str, text: str, hit: bool) -> None:
    assert (compile_linear(pattern).search(text) is not None) is hit


@pytest.mark.parametrize("pattern", [r"(?<=a)b", r"a(?!b)", r"(a)\1", r"(?P<x>a)(?P=x)", r"[\W]", r"a\B", r"(unclosed", r"(?x) a b"])
def test_what_cannot_run_in_linear_time_is_rejected_with_a_reason(pattern: str) -> None:
    with pytest.raises(PatternError) as info:
        compile_linear(pattern)
    assert str(info.value)


def test_catastrophic_shapes_stay_linear() -> None:
    hostile = [
        (r"\A\W*(\w+\W*){0,4}\Z", "a" * 200_000 + " b c d e f"),
        (r"(?i)login:\s*(\S+)", "login: " * 60_000),
        (r"(a+)+$", "a" * 100_000 + "!"),
        (r"^(\d+\s?)+x", "1" * 100_000),
    ]
    for pattern, text in hostile:
        started = time.process_time()
        compile_linear(pattern).search(text)
        assert time.process_time() - started < 2.0, pattern


def test_lone_surrogates_do_not_break_matching() -> None:
    assert compile_linear("abc").search("x\udcffabc") is not None
