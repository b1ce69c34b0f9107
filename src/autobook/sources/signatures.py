"""Checking a signed body, for each signature scheme a source may use.

Every check runs over the raw body bytes, compares in constant time (`hmac.compare_digest`) and,
where the scheme signs a timestamp, refuses one more than `TOLERANCE` away from now:
- `standard_webhooks`: `webhook-id`, `webhook-timestamp` (seconds), `webhook-signature`
  (`v1,<base64>`, several allowed), checked by the `standardwebhooks` package. The `webhook-id`
  is returned so the caller refuses a replay of it.
- `hubspot_v3`: `X-HubSpot-Signature-v3` is base64 HMAC-SHA256, under the app's client secret,
  of method + URI + body + `X-HubSpot-Request-Timestamp` (milliseconds); the URI is decoded of
  the characters HubSpot's documentation lists.
- `typeform`: `Typeform-Signature` is `sha256=` and base64 HMAC-SHA256 of the body. Typeform
  signs no timestamp, so there is nothing to hold to the tolerance: a replayed Typeform body is
  the same request again, which the request_id (from its `event_id`) makes a no-op.
`SignatureRefused` says why in words safe to log and to answer: never the secret, never the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from autobook.errors import AutobookError
from autobook.models import SourceAuth

TOLERANCE = timedelta(minutes=5)
# What HubSpot decodes in the URI before signing it (its request validation guide).
HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class SignatureRefused(AutobookError):
    """The request's signature does not verify."""


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str
    body: bytes
    headers: Mapping[str, str]  # names in lower case


def _hmac_b64(secret: str, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def _within_tolerance(sent: datetime, now: datetime) -> None:
    if sent < now - TOLERANCE:
        raise SignatureRefused("the signature's timestamp is more than 5 minutes old")
    if sent > now + TOLERANCE:
        raise SignatureRefused("the signature's timestamp is more than 5 minutes ahead")


def _standard_webhooks(secret: str, request: SignedRequest) -> str:
    missing = [
        name
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        if not request.headers.get(name)
    ]
    if missing:
        raise SignatureRefused(f"missing header(s): {', '.join(missing)}")
    try:
        Webhook(secret).verify(request.body, dict(request.headers), json_parse=False)
    except Exception as exc:  # the package raises several kinds for malformed headers
        message = str(exc).lower()
        if "too old" in message or "too new" in message:
            raise SignatureRefused("the webhook-timestamp is more than 5 minutes away") from None
        raise SignatureRefused("the webhook-signature does not match the body") from None
    return request.headers["webhook-id"]


def _hubspot_uri(url: str) -> str:
    for encoded, plain in HUBSPOT_DECODED.items():
        url = url.replace(encoded, plain).replace(encoded.lower(), plain)
    return url


def _hubspot_v3(secret: str, request: SignedRequest, now: datetime) -> None:
    signature = request.headers.get("x-hubspot-signature-v3", "")
    timestamp = request.headers.get("x-hubspot-request-timestamp", "")
    if not signature or not timestamp:
        raise SignatureRefused(
            "missing header(s): X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp"
        )
    try:
        sent = datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureRefused("X-HubSpot-Request-Timestamp is not milliseconds") from None
    _within_tolerance(sent, now)
    message = (
        request.method.upper().encode()
        + _hubspot_uri(request.url).encode()
        + request.body
        + timestamp.encode()
    )
    if not hmac.compare_digest(_hmac_b64(secret, message), signature.encode(errors="replace")):
        raise SignatureRefused("X-HubSpot-Signature-v3 does not match the request")


def _typeform(secret: str, request: SignedRequest) -> None:
    header = request.headers.get("typeform-signature", "")
    if not header.startswith("sha256="):
        raise SignatureRefused("missing header: Typeform-Signature (sha256=...)")
    expected = b"sha256=" + _hmac_b64(secret, request.body)
    if not hmac.compare_digest(expected, header.encode(errors="replace")):
        raise SignatureRefused("Typeform-Signature does not match the body")


def verify(auth: SourceAuth, secret: str, request: SignedRequest, now: datetime) -> str | None:
    """Check the request's signature; returns the delivery id to refuse replays of, if any."""
    if auth is SourceAuth.STANDARD_WEBHOOKS:
        return _standard_webhooks(secret, request)
    if auth is SourceAuth.HUBSPOT_V3:
        _hubspot_v3(secret, request, now)
        return None
    if auth is SourceAuth.TYPEFORM:
        _typeform(secret, request)
        return None
    raise ValueError(f"{auth} is not a signature scheme")
