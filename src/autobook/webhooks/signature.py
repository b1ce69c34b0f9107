"""`Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, f"{t}.{body}")>`.

As API-NOTES §2.9 says: the HMAC is over the timestamp, a dot and the raw body, keyed with the
subscription's signing key; it is compared in constant time, and a timestamp more than the
tolerance (180 s) away from now is refused, so a captured delivery can't be replayed later.
Several keys may be valid at once (a subscription being replaced). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

HEADER = "Calendly-Webhook-Signature"
TOLERANCE_SECONDS = 180
MAX_HEADER_CHARS = 1024


def sign(key: str, body: bytes, at: int) -> str:
    """The header value Calendly would send (the sandbox and the tests sign the same way)."""
    digest = hmac.new(key.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _parts(header: str) -> tuple[int, list[str]] | None:
    if len(header) > MAX_HEADER_CHARS:
        return None
    stamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if name == "t":
            if not value.isascii() or not value.isdigit():
                return None
            stamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if stamp is None or not signatures:
        return None
    return stamp, signatures


def verify(
    header: str | None,
    body: bytes,
    keys: Iterable[str],
    *,
    now: float,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> str | None:
    """Why the delivery is refused, or None when a key signed it within the tolerance."""
    if not header:
        return f"no {HEADER} header"
    parsed = _parts(header)
    if parsed is None:
        return f"{HEADER} is not t=...,v1=..."
    stamp, signatures = parsed
    if abs(now - stamp) > tolerance_seconds:
        return f"{HEADER} is stale (more than {tolerance_seconds} s from now)"
    for key in keys:
        expected = sign(key, body, stamp).partition(",v1=")[2]
        if any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures):
            return None
    return f"{HEADER} does not match"
