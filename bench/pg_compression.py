#!/usr/bin/env python3
"""PostgreSQL column compression: pglz (the server's default) against lz4 (migration 0017) on mail.

    .venv/bin/python bench/pg_compression.py [--messages N] [--rounds R]

Stores the raw bytes of N messages of the intake benchmark's corpus (bench/intake.py, seeded) and the real-world
messages of ../shared/corpus into a throw-away table, as inbound_raw stores them (bytea, 50 rows a statement),
once per method and round, alternating; prints the server time an INSERTed row took and the table's size. The
server's compression is most of an INSERT of mail: the row is written once, its indexes are small. Prints
figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake import generate, plan_corpus  # noqa: E402

PG_URL = os.environ.get("MAILBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
TABLE = "mailbot_bench_compression"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    raws = list(generate(plan_corpus(args.messages, 1), 1))
    raws += [p.read_bytes() for p in sorted(SHARED_CORPUS.rglob("*.eml"))] if SHARED_CORPUS.is_dir() else []
    print(f"{len(raws)} messages, {sum(map(len, raws)) / len(raws) / 1024:.1f} KiB on average, {sum(map(len, raws)) / 1e6:.1f} MB")
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        methods = {"pglz", "lz4"} if conn.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'").fetchone() == (True,) else {"pglz"}
        times: dict[str, list[float]] = {m: [] for m in sorted(methods, reverse=True)}
        sizes: dict[str, int] = {}
        try:
            for _ in range(args.rounds):
                for method in times:
                    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
                    conn.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, raw bytea COMPRESSION {method})")
                    began = time.perf_counter()
                    with conn.transaction():
                        for start in range(0, len(raws), 50):
                            conn.execute(f"INSERT INTO {TABLE} (raw) SELECT * FROM unnest(%s::bytea[])", (raws[start:start + 50],))
                    times[method].append((time.perf_counter() - began) / len(raws))
                    sizes[method] = int(conn.execute(f"SELECT pg_total_relation_size('{TABLE}')").fetchone()[0])  # type: ignore[index]
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    for method, taken in times.items():
        print(f"  {method:5s} {statistics.median(taken) * 1e6:7.0f} µs a row (median of {len(taken)}; "
              f"{', '.join(f'{t * 1e6:.0f}' for t in taken)})   table {sizes[method] / 1e6:6.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
