"""A source's secret: made here, shown once, and kept only as a digest or sealed.

- `api_key`: `abk_` and 256 random bits. Only its SHA-256 digest is stored; a caller's key is
  found by the digest of what it sent. (A digest of a random 256-bit key needs no salt nor slow
  hash: there is nothing to guess.)
- The signature schemes need the secret itself to recompute each HMAC, so it is stored sealed
  (`autobook.sources.sealing`). `standard_webhooks` secrets are `whsec_` and base64 of 32 random
  bytes, as the specification says; `typeform` secrets are random text pasted into Typeform;
  a `hubspot_v3` secret is the HubSpot app's client secret, which HubSpot makes: it is given to
  `autobook sources add` on stdin, not made here.
- `hint` keeps the last characters of a secret, so an operator can tell which one is in use.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from autobook.models import SourceAuth
from autobook.sources.sealing import Sealer

API_KEY_PREFIX = "abk_"
STANDARD_WEBHOOKS_PREFIX = "whsec_"
SECRET_BYTES = 32
HINT_CHARS = 4
MIN_SECRET_CHARS = 16


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def hint(secret: str) -> str:
    return "…" + secret[-HINT_CHARS:]


def new_secret(auth: SourceAuth) -> str:
    if auth is SourceAuth.API_KEY:
        return API_KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    if auth is SourceAuth.STANDARD_WEBHOOKS:
        raw = base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
        return STANDARD_WEBHOOKS_PREFIX + raw
    return secrets.token_urlsafe(SECRET_BYTES)


def check_given_secret(auth: SourceAuth, secret: str) -> str | None:
    """Why a secret given by the operator can't be used, or None."""
    if len(secret) < MIN_SECRET_CHARS:
        return f"a secret has at least {MIN_SECRET_CHARS} characters"
    if not secret.isascii() or not secret.isprintable() or " " in secret:
        return "a secret is printable ASCII with no spaces"
    if auth is SourceAuth.STANDARD_WEBHOOKS:
        try:
            raw = base64.b64decode(secret.removeprefix(STANDARD_WEBHOOKS_PREFIX), validate=True)
        except ValueError:
            raw = b""
        if not raw:
            return "a standard_webhooks secret is whsec_ followed by base64"
    return None


@dataclass(frozen=True)
class StoredCredentials:
    """What the database keeps of a secret: never the secret in clear."""

    key_digest: str | None
    secret_sealed: str | None
    secret_hint: str


def stored(auth: SourceAuth, secret: str, sealer: Sealer) -> StoredCredentials:
    if auth is SourceAuth.API_KEY:
        return StoredCredentials(key_digest(secret), None, hint(secret))
    return StoredCredentials(None, sealer.seal(secret), hint(secret))
