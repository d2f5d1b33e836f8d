"""Passwords in URLs never reach a terminal or a log: `user:***@host`, and `?password=***` in the query too.

Works on the text, not on a parsed URL, so a URL that does not parse (a typo in the config) is hidden as well,
and so is a URL inside an error message.
"""

from __future__ import annotations

import re

HIDDEN = "***"
# scheme://user:password@ — the password ends at the last '@' before the host (passwords may contain '@').
# Bounded repeats: the work per position is capped whatever the text (it may be an error message about mail).
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]{0,30}://[^:/?#@\s]{0,256}:)(?P<password>[^/?#\s]{0,1024})@")
# password=…, sslpassword=…, pwd=…, secret=…, token=… as URL query or libpq key=value parameters.
_PARAM = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_])(?:ssl)?(?:password|passwd|pwd|secret|token|access_token|api_key|apikey)=)(?P<value>[^&;\s'\"]*)",
    re.IGNORECASE,
)


def hide_passwords(text: str) -> str:
    """`text` with every password in a URL (or in key=value connection parameters) replaced by ***."""
    if "=" not in text and "@" not in text:
        return text
    hidden = _USERINFO.sub(lambda m: m["head"] + HIDDEN + "@" if m["password"] else m[0], text) if "://" in text else text
    return _PARAM.sub(lambda m: m["key"] + HIDDEN if m["value"] else m[0], hidden)
