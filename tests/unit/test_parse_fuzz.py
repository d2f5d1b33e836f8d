"""Property test of parse_mail on generated structured mail and on mutated real mail (a bounded run; the
long run is `bench/fuzz_parse.py --minutes 30`)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.conftest import CORPUS, DATA
from tests.support.mail_fuzz import Built, check, mutated, seeds, structured_mail

POOL = seeds(CORPUS, DATA / "decoding") or [b"From: a@b.example\n\nx\n"]
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@QUICK
@given(structured_mail())
def test_structured_mail_is_filed_or_refused_and_keeps_every_text_part(built: Built) -> None:
    check(built.raw, built.markers)


@QUICK
@given(mutated(POOL))
def test_mutated_real_mail_never_raises(raw: bytes) -> None:
    check(raw)
