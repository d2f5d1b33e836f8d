"""MIME structure that mailers get wrong, read anyway: a multipart whose declared boundary never appears but
whose body is plainly split by another one, and parts written after the closing boundary (a nested multipart
that reused its parent's boundary closes the parent early, and the files after it land in the epilogue)."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import Parser
from email.policy import compat32

_PARSER = Parser(policy=compat32)
_DELIMITER = re.compile(r"^--([^\s][^\r\n]{0,69}?)[ \t]*\r?\n(?=[A-Za-z-]+:)", re.MULTILINE)


def _reparse(boundary: str, body: str) -> list[Message]:
    quoted = boundary.replace("\\", "\\\\").replace('"', '\\"')
    outer = _PARSER.parsestr(f'Content-Type: multipart/mixed; boundary="{quoted}"\n\n' + body)
    payload = outer.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def parts_by_found_boundary(text: str) -> tuple[str, list[Message]] | None:
    """The parts of a multipart body whose declared boundary is missing, split by the delimiter line that
    the body does use (a `--token` line followed by a header); None when there is no such line."""
    m = _DELIMITER.search(text[:8192])
    if m is None:
        return None
    parts = _reparse(m.group(1), text[m.start():])
    return (m.group(1), parts) if parts else None


def parts_after_close(part: Message) -> list[Message]:
    """Parts found in a multipart's epilogue, delimited by its own boundary."""
    epilogue = part.epilogue
    boundary = part.get_boundary()
    if not epilogue or not boundary or f"--{boundary}" not in epilogue:
        return []
    start = epilogue.find(f"--{boundary}")
    return _reparse(boundary, epilogue[start:])
