"""Query parameters, resource URIs and pagination, the way Calendly reads and writes them.

Parameters that name a resource take its full URI; only the path is compared, so
``https://api.calendly.com/event_types/<uuid>`` and the sandbox's own
``http://127.0.0.1:8765/event_types/<uuid>`` name the same thing. Path parameters
take the bare UUID. Pagination uses opaque page tokens that bind an offset to the
query they were issued for: a token replayed with other filters is refused with 400
rather than silently returning the wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from .errors import ApiError, Detail, detail, invalid
from .timefmt import parse_timestamp

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_UUID_SEGMENT = r"([0-9A-Za-z-]{1,64})"
_TOKEN_DIGEST_BYTES = 10


def uuid_from_uri(value: str, collection: str) -> str | None:
    """The last path segment of ``…/<collection>/<uuid>``, whatever the host; else None."""
    if not value or len(value) > 512:
        return None
    try:
        path = urlsplit(value).path if "://" in value else ""
    except ValueError:  # "http://[::1/…": an IPv6 host left open is no URI, not a crash
        return None
    match = re.fullmatch(rf"/{collection}/{_UUID_SEGMENT}/?", path)
    return match.group(1) if match else None


class Query:
    """Typed access to one request's query string, collecting 400 details as it goes."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.problems: list[Detail] = []

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                self.problems.append(detail(name, "is missing"))
            return None
        return value

    def uri(self, name: str, collection: str, required: bool = False) -> str | None:
        """The UUID named by a URI parameter (None when absent or malformed; malformed is noted)."""
        value = self.text(name, required)
        if value is None:
            return None
        found = uuid_from_uri(value, collection)
        if found is None:
            self.problems.append(detail(name, "must be a valid URI"))
        return found

    def timestamp(self, name: str, required: bool = False) -> datetime | None:
        value = self.text(name, required)
        if value is None:
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.problems.append(detail(name, "must be a date time"))
        return parsed

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problems.append(detail(name, "must be boolean"))
        return None

    def choice(self, name: str, allowed: Sequence[str]) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            self.problems.append(detail(name, f"must be one of: {', '.join(allowed)}"))
            return None
        return value

    def count(self) -> int:
        value = self.text("count")
        if value is None:
            return DEFAULT_PAGE_SIZE
        if not re.fullmatch(r"[+-]?\d{1,30}", value):
            self.problems.append(detail("count", "must be an integer"))
            return DEFAULT_PAGE_SIZE
        number = int(value)
        if number < 1:
            self.problems.append(detail("count", "must be greater than or equal to 1"))
        elif number > MAX_PAGE_SIZE:
            self.problems.append(detail("count", f"must be less than or equal to {MAX_PAGE_SIZE}"))
        return min(max(number, 1), MAX_PAGE_SIZE)

    def sort(self, allowed_fields: Sequence[str], default: str) -> list[tuple[str, bool]]:
        """``name:asc,created_at:desc`` -> [(field, descending)], fields checked; ``name`` = asc."""
        value = self.text("sort") or default
        keys: list[tuple[str, bool]] = []
        for part in value.split(","):
            field, colon, direction = part.strip().partition(":")
            # Calendly's spec documents `sort=name` (a field, no direction): ascending.
            direction = direction if colon else "asc"
            if field not in allowed_fields or direction not in ("asc", "desc"):
                self.problems.append(detail("sort", "is invalid"))
                return [(default.split(":")[0], default.endswith(":desc"))]
            keys.append((field, direction == "desc"))
        return keys

    def raise_problems(self) -> None:
        if self.problems:
            raise invalid(self.problems)


def _query_digest(path: str, params: Mapping[str, str]) -> bytes:
    relevant = sorted(
        (key, value) for key, value in params.items() if key not in ("page_token", "count")
    )
    return hashlib.blake2b(
        repr((path, relevant)).encode(), digest_size=_TOKEN_DIGEST_BYTES
    ).digest()


def encode_page_token(offset: int, path: str, params: Mapping[str, str]) -> str:
    digest = _query_digest(path, params)
    # Masking the offset with the digest keeps tokens opaque: no visible counter.
    masked = offset ^ int.from_bytes(digest[:4], "big")
    raw = digest + struct.pack(">I", masked)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str | None, path: str, params: Mapping[str, str]) -> int:
    """The offset a page token stands for; 0 without a token; 400 for a foreign or broken one."""
    if token is None or token == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raw = b""
    digest = _query_digest(path, params)
    if len(raw) != _TOKEN_DIGEST_BYTES + 4 or raw[:_TOKEN_DIGEST_BYTES] != digest:
        raise invalid([detail("page_token", "is invalid")])
    masked = int(struct.unpack(">I", raw[_TOKEN_DIGEST_BYTES:])[0])
    return masked ^ int.from_bytes(digest[:4], "big")


def paginate(
    items: Sequence[Any], base_url: str, path: str, params: Mapping[str, str], count: int
) -> tuple[Sequence[Any], dict[str, Any]]:
    """One page of ``items`` and Calendly's five-key pagination object."""
    offset = decode_page_token(params.get("page_token"), path, params)
    page = items[offset : offset + count]
    next_token = (
        encode_page_token(offset + count, path, params) if offset + count < len(items) else None
    )
    previous_token = encode_page_token(max(offset - count, 0), path, params) if offset > 0 else None

    def page_url(token: str | None) -> str | None:
        if token is None:
            return None
        query = {key: value for key, value in params.items() if key != "page_token"}
        query["count"] = str(count)
        query["page_token"] = token
        return f"{base_url}{path}?{urlencode(query)}"

    return page, {
        "count": len(page),
        "next_page": page_url(next_token),
        "previous_page": page_url(previous_token),
        "next_page_token": next_token,
        "previous_page_token": previous_token,
    }


def require(condition: bool, error: ApiError) -> None:
    if not condition:
        raise error
