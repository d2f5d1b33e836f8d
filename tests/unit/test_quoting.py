"""Reply stripping on the two reply corpora (bench/reply-corpus*): every case as a regression test."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.core.quoting import new_text

BENCH = Path(__file__).resolve().parents[2] / "bench"
CASES = sorted(p for folder in ("reply-corpus", "reply-corpus-holdout") for p in (BENCH / folder).glob("*.txt") if not p.name.endswith(".expected.txt"))


def normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")).strip("\n")


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_new_text(case: Path) -> None:
    expected = case.with_name(case.stem + ".expected.txt").read_text(encoding="utf-8")
    assert normal(new_text(case.read_text(encoding="utf-8"))) == normal(expected)


def test_corpora_are_there() -> None:
    assert len(CASES) >= 80
