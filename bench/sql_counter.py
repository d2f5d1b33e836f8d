"""Run mailbot's CLI counting the SQL statements and commits of the processing phase (for bench/intake.py).

    python -m bench.sql_counter OUT.json --config CFG poll --once

Every statement sent to the database driver (an executemany counts once; SAVEPOINT and RELEASE count, they are
round trips too) and every COMMIT while `process_pending` runs is counted, by its first words and table; the
totals are written to OUT.json at exit. Intake (fetching and storing raw mail) is counted apart.
"""

from __future__ import annotations

import atexit
import json
import re
import resource
import sys
from collections import Counter
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, event

_phase = ["intake"]
_statements: dict[str, Counter[str]] = {"intake": Counter(), "process": Counter()}
_commits: Counter[str] = Counter()
_samples: dict[str, str] = {}  # one statement text per shape, to see which code sent it
_SHAPE = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|BEGIN\w*|\w+)\s*", re.I)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.I)


@lru_cache(maxsize=4096)  # statement texts repeat: the counting must cost next to nothing beside the statement
def _shape(sql: str) -> str:
    head = _SHAPE.match(sql)
    verb = head.group(1).upper() if head else sql[:20]
    if verb.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
        return verb
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1) if table else ''}".strip()


@event.listens_for(Engine, "before_cursor_execute")
def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    shape = _shape(statement)
    _statements[_phase[0]][shape] += 1
    if shape not in _samples:
        _samples[shape] = statement[:400]


@event.listens_for(Engine, "commit")
def _commit(conn: Any) -> None:
    _commits[_phase[0]] += 1


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    import mailbot.app
    from mailbot.cli.main import main as mailbot_main

    inner = mailbot.app.process_pending

    def counted(*a: Any, **kw: Any) -> Any:
        _phase[0] = "process"
        try:
            return inner(*a, **kw)
        finally:
            _phase[0] = "intake"

    mailbot.app.process_pending = counted  # type: ignore[assignment]

    def write() -> None:
        # CPU seconds of the daemon itself and of the children it waited for (the analysis worker).
        cpu = {who: (u.ru_utime + u.ru_stime) for who, u in (("daemon", resource.getrusage(resource.RUSAGE_SELF)),
                                                           ("workers", resource.getrusage(resource.RUSAGE_CHILDREN)))}
        with open(out, "w") as f:
            report = {"statements": {k: dict(v) for k, v in _statements.items()}, "commits": dict(_commits), "samples": _samples, "cpu": cpu}
            json.dump(report, f, indent=1)

    atexit.register(write)
    sys.exit(mailbot_main(args))


if __name__ == "__main__":
    main()
