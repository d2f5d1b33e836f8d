"""What makes two messages with one Message-ID the same message: a hash of their normalised content.

Same means: the text is equal once line endings and runs of white space are made alike, and the attachments
are the same files (their decoded bytes' SHA-256, in any order). Headers do not count, so a copy that came
through a second mailbox, or a resend with another Received chain or recipient list, is a duplicate; a
monitoring system that reuses one Message-ID for a new alert is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def content_fingerprint(text: str, attachment_digests: Iterable[str]) -> str:
    """Hex SHA-256 of the normalised text and the sorted attachment digests."""
    h = hashlib.sha256(" ".join(text.split()).encode("utf-8", "surrogatepass"))
    for digest in sorted(attachment_digests):
        h.update(b"\x00" + digest.encode("ascii"))
    return h.hexdigest()
