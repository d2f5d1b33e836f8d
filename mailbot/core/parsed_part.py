"""A parsed MIME part that parses each of its parameter headers once, however often it is asked.

The stdlib's `Message` parses Content-Type (or Content-Disposition) again for every `get_param`,
`get_content_charset`, `get_filename` and `get_boundary`: about a dozen parses of the same header for each
part of an ordinary message. `ParsedPart` keeps the parsed parameters beside the header value they came from
and hands them out again while the header holds that value, so a part whose headers change afterwards
(nothing in mailbot changes them) is still read as the stdlib would read it.
"""

from __future__ import annotations

from email.message import Message
from typing import Any

_MISSING = object()


class ParsedPart(Message):
    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        value = self.get(header, _MISSING)
        if value is _MISSING:
            return failobj
        cache: dict[str, tuple[Any, list[Any]]] | None = self.__dict__.get("_parsed_params")
        if cache is None:
            cache = self.__dict__["_parsed_params"] = {}
        key = header.lower()
        hit = cache.get(key)
        if hit is not None and type(hit[0]) is type(value) and hit[0] == value:
            return list(hit[1])
        params = super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        cache[key] = (value, list(params))
        return params
