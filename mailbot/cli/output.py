"""How list and show commands print: a table with a header row that fits the terminal's 100 columns (wider text
cut with an ellipsis), or `--json` with every value in full."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WIDTH = 100


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # 0: takes whatever the other columns leave
    right: bool = False


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return " ".join(str(value).split())


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int = WIDTH) -> str:
    """Rows under a header row, each line at most `width` characters."""
    fixed = sum(c.width for c in columns if c.width) + 2 * (len(columns) - 1)
    flexible = max(width - fixed, 8)
    widths = [c.width or flexible for c in columns]
    lines = []
    for values in [[c.title for c in columns], *([cell(v) for v in row] for row in rows)]:
        parts = []
        for col, w, text in zip(columns, widths, values):
            text = fit(text, w)
            parts.append(text.rjust(w) if col.right else text.ljust(w))
        lines.append("  ".join(parts).rstrip()[:width])
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON")


def as_json(data: Any) -> str:
    """JSON with times in ISO 8601 (UTC, with offset); keys in the order given, which the README documents. ASCII
    only (other characters as \\u escapes), so text from mail can carry no terminal control sequence."""
    return json.dumps(data, default=_plain, ensure_ascii=True, indent=2)


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (stable keys, documented in the README)")
