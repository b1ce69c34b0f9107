"""Calendly's `X-RateLimit-*` response headers, parsed without ever failing.

Calendly documents three headers on every response: `X-RateLimit-Limit` (the ceiling),
`X-RateLimit-Remaining` (left in the window) and `X-RateLimit-Reset` (seconds until the window
resets, not an epoch). A missing, empty, negative or non-numeric header becomes `None`: headers
inform the budget, they never break a call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_RATE_LIMIT_RESET_SECONDS = 60.0
"""Calendly's window; used when a 429 carries no usable `X-RateLimit-Reset`."""

MIN_RETRY_AFTER_SECONDS = 1.0
"""A 429 with `Reset: 0` would make callers spin; wait at least this long."""


@dataclass(frozen=True)
class RateLimitInfo:
    """What the last response said about the rate limit; any part may be unknown."""

    limit: int | None
    remaining: int | None
    reset_seconds: float | None


def _non_negative_number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _non_negative_int(raw: str | None) -> int | None:
    value = _non_negative_number(raw)
    return None if value is None else int(value)


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """The rate-limit headers of a response, or None when it carries none that parse.

    `headers` should be case-insensitive (as `httpx.Headers` is).
    """
    info = RateLimitInfo(
        limit=_non_negative_int(headers.get("x-ratelimit-limit")),
        remaining=_non_negative_int(headers.get("x-ratelimit-remaining")),
        reset_seconds=_non_negative_number(headers.get("x-ratelimit-reset")),
    )
    if info.limit is None and info.remaining is None and info.reset_seconds is None:
        return None
    return info


def retry_after_seconds(headers: Mapping[str, str]) -> float:
    """How long to wait after a 429: `X-RateLimit-Reset`, else `Retry-After` (seconds), else 60."""
    for name in ("x-ratelimit-reset", "retry-after"):
        value = _non_negative_number(headers.get(name))
        if value is not None:
            return max(value, MIN_RETRY_AFTER_SECONDS)
    return DEFAULT_RATE_LIMIT_RESET_SECONDS
