"""What `check-config --connect` can tell about the border mail server from the mail it delivered: whether it
writes Authentication-Results under our authserv-id, and whether it lets such headers in from outside.

Agents' powers rest on that header (mailbot.core.auth_results). The server must add its own on top and remove
any incoming header that carries its authserv-id; mailbot cannot tell a forged header from a real one below it,
only refuse to look below the top-most. A sample of delivered mail shows the first part directly and betrays the
second when one message carries our authserv-id twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from mailbot.config import Settings
from mailbot.core.auth_results import authserv_id_of

SAMPLE = 50  # the newest messages of the first folder, headers only, read without setting \Seen
EXAMPLE_ID = "mx.example.com"


def config_warnings(settings: Settings) -> list[str]:
    """What the configuration alone says about the safety of agent proof."""
    if not settings.agent:
        return []
    agents = settings.agents
    if not agents.require_authentication:
        return [
            "agents.require_authentication is false: anyone who learns an agent's reply address and writes with "
            "that agent's From gets the agent's powers (relaying to customers, commands)"
        ]
    if agents.authserv_id.lower() == EXAMPLE_ID:
        return [f"agents.authserv_id is {EXAMPLE_ID!r}, the example's value: set the authserv-id your border server writes"]
    return []


def sample_headers(client: Any, folder: str) -> list[list[str]]:
    """The Authentication-Results values (top first) of the newest messages in `folder`, opened read-only."""
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search("ALL"))[-SAMPLE:]
    if not uids:
        return []
    key = b"BODY[HEADER.FIELDS (AUTHENTICATION-RESULTS)]"
    fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS)]"])
    parser = BytesHeaderParser(policy=compat32)
    found = []
    for uid in uids:
        raw = fetched.get(uid, {}).get(key, b"") or b""
        found.append([str(v) for v in parser.parsebytes(raw).get_all("Authentication-Results", [])])
    return found


def border_warnings(messages: Sequence[Sequence[str]], authserv_id: str) -> list[str]:
    """Warnings from the Authentication-Results of a sample of delivered messages (each list top first)."""
    if not messages:
        return []
    wanted = authserv_id.lower().rstrip(".")
    ours = [sum(1 for v in values if authserv_id_of(v) == wanted) for values in messages]
    warnings = []
    if not any(ours):
        seen = sorted({authserv_id_of(v) for values in messages for v in values})
        warnings.append(
            f"none of the newest {len(messages)} messages has an Authentication-Results header from {authserv_id!r}"
            + (f" (they have: {', '.join(seen[:5])})" if seen else "")
            + ": agents' replies will not be proven; is authserv_id right, and does the border server check DKIM/DMARC?"
        )
    doubled = sum(1 for n in ours if n > 1)
    if doubled:
        warnings.append(
            f"{doubled} of the newest {len(messages)} messages carry more than one Authentication-Results header from "
            f"{authserv_id!r}: the border server seems to let such headers in from outside; make it remove them "
            "(see the README's Security section)"
        )
    return warnings
