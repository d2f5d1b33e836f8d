"""The long run of the parse_mail property test (tests/unit/test_parse_fuzz.py runs a bounded one).

Generates structured mail and mutations of ../shared/corpus and tests/data messages until the time is up;
stops at the first input that breaks the property and prints it (Hypothesis shrinks it first).

    nice .venv/bin/python bench/fuzz_parse.py --minutes 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.conftest import CORPUS, DATA  # noqa: E402
from tests.support.mail_fuzz import Built, check, mutated, seeds, structured_mail  # noqa: E402

ROUND = settings(max_examples=2000, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args()
    pool = seeds(CORPUS, DATA / "decoding", DATA)
    count = {"structured": 0, "mutated": 0}

    @ROUND
    @given(structured_mail())
    def structured(built: Built) -> None:
        count["structured"] += 1
        check(built.raw, built.markers)

    @ROUND
    @given(mutated(pool))
    def mutations(raw: bytes) -> None:
        count["mutated"] += 1
        check(raw)

    start = time.monotonic()
    rounds = 0
    while time.monotonic() - start < args.minutes * 60:
        structured()
        mutations()
        rounds += 1
        print(f"{(time.monotonic() - start) / 60:6.1f} min: {count['structured']:,} structured, {count['mutated']:,} mutated, no failure", flush=True)
    print(f"done: {rounds} rounds in {(time.monotonic() - start) / 60:.1f} min, {sum(count.values()):,} inputs, no failure")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
