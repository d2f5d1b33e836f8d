"""Text from mail made safe for a terminal: control characters and escape sequences shown as escapes, never sent raw.

A subject or body can carry ESC sequences that rewrite the operator's screen (or its title, or the clipboard), a
carriage return that overwrites the line shown, or a right-to-left override that reorders what is read. Each such
character is shown as a visible escape (`\\x1b`, `\\r`, `\\u202e`); newlines and tabs stay, as text needs them.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; bidirectional overrides and isolates; line and paragraph
# separators (terminals and pagers treat them as line breaks the text does not show).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, keep_newlines: bool = True) -> str:
    """`text` with every unsafe character escaped; with keep_newlines=False a newline is escaped as `\\n` too."""
    text = text.replace("\r\n", "\n")
    if not keep_newlines:
        text = text.replace("\n", "\\n")
    return _UNSAFE.sub(_escape, text)
