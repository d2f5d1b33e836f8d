"""CLI tables: a header row, every line within 100 columns, longer text cut with an ellipsis."""

from __future__ import annotations

from datetime import datetime, timezone

from mailbot.cli.output import Column, as_json, table


def test_header_row_and_width() -> None:
    columns = (Column("id", 4, right=True), Column("when", 16), Column("subject", 0))
    text = table(columns, [(7, datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc), "x" * 300), (12, None, "short")])
    lines = text.splitlines()
    assert lines[0].split() == ["id", "when", "subject"]
    assert all(len(line) <= 100 for line in lines)
    assert lines[1].endswith("…") and "2026-01-05 09:00" in lines[1]
    assert lines[2].split() == ["12", "-", "short"]


def test_json_keeps_times_and_full_text() -> None:
    assert as_json({"at": datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc), "s": "x" * 300}) == (
        '{\n  "at": "2026-01-05T09:00:00+00:00",\n  "s": "' + "x" * 300 + '"\n}'
    )
