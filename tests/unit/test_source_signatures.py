"""Signature checks of each scheme: a good signature passes; a bad, stale or missing one is
refused with a reason that quotes neither the secret nor the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from autobook.models import SourceAuth
from autobook.sources import credentials
from autobook.sources.signatures import SignatureRefused, SignedRequest, verify

BODY = b'{"email": "ada@example.com"}'
URL = "https://intake.example.com/v1/bookings?source=hubspot"


def _standard(secret: str, *, at: datetime, webhook_id: str = "msg_1") -> SignedRequest:
    signature = Webhook(secret).sign(webhook_id, at, BODY.decode())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return SignedRequest("POST", URL, BODY, headers)


def _hubspot(secret: str, *, at: datetime, body: bytes = BODY) -> SignedRequest:
    timestamp = str(int(at.timestamp() * 1000))
    message = b"POST" + URL.encode() + body + timestamp.encode()
    digest = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    headers = {"x-hubspot-signature-v3": digest.decode(), "x-hubspot-request-timestamp": timestamp}
    return SignedRequest("POST", URL, body, headers)


def _typeform(secret: str, body: bytes = BODY) -> SignedRequest:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return SignedRequest("POST", URL, body, {"typeform-signature": "sha256=" + digest.decode()})


def _refused(auth: SourceAuth, secret: str, request: SignedRequest) -> str:
    with pytest.raises(SignatureRefused) as caught:
        verify(auth, secret, request, datetime.now(UTC))
    assert secret not in caught.value.message
    assert "ada@example.com" not in caught.value.message
    return caught.value.message


def test_standard_webhooks_passes_a_fresh_signature_and_returns_its_id() -> None:
    secret = credentials.new_secret(SourceAuth.STANDARD_WEBHOOKS)
    request = _standard(secret, at=datetime.now(UTC))
    assert verify(SourceAuth.STANDARD_WEBHOOKS, secret, request, datetime.now(UTC)) == "msg_1"


def test_standard_webhooks_refuses_stale_wrong_and_missing_signatures() -> None:
    secret = credentials.new_secret(SourceAuth.STANDARD_WEBHOOKS)
    other = credentials.new_secret(SourceAuth.STANDARD_WEBHOOKS)
    stale = _standard(secret, at=datetime.now(UTC) - timedelta(minutes=6))
    assert "5 minutes" in _refused(SourceAuth.STANDARD_WEBHOOKS, secret, stale)
    wrong = _standard(other, at=datetime.now(UTC))
    assert "does not match" in _refused(SourceAuth.STANDARD_WEBHOOKS, secret, wrong)
    garbage = SignedRequest("POST", URL, BODY, {**wrong.headers, "webhook-signature": "v1"})
    _refused(SourceAuth.STANDARD_WEBHOOKS, secret, garbage)
    bare = SignedRequest("POST", URL, BODY, {})
    assert "webhook-id" in _refused(SourceAuth.STANDARD_WEBHOOKS, secret, bare)


def test_hubspot_v3_checks_method_uri_body_and_a_fresh_timestamp() -> None:
    secret = "hubspot-client-secret-0123456789"
    now = datetime.now(UTC)
    assert verify(SourceAuth.HUBSPOT_V3, secret, _hubspot(secret, at=now), now) is None
    tampered = _hubspot(secret, at=now)
    tampered = SignedRequest("POST", URL, BODY + b" ", tampered.headers)
    assert "does not match" in _refused(SourceAuth.HUBSPOT_V3, secret, tampered)
    stale = _hubspot(secret, at=now - timedelta(minutes=5, seconds=5))
    assert "5 minutes" in _refused(SourceAuth.HUBSPOT_V3, secret, stale)
    _refused(SourceAuth.HUBSPOT_V3, secret, SignedRequest("POST", URL, BODY, {}))


def test_typeform_checks_the_body_signature() -> None:
    secret = credentials.new_secret(SourceAuth.TYPEFORM)
    assert verify(SourceAuth.TYPEFORM, secret, _typeform(secret), datetime.now(UTC)) is None
    assert "does not match" in _refused(SourceAuth.TYPEFORM, secret, _typeform("x" * 20))
    _refused(SourceAuth.TYPEFORM, secret, SignedRequest("POST", URL, BODY, {}))


def test_an_api_key_is_kept_as_a_digest_and_a_signing_secret_sealed() -> None:
    from cryptography.fernet import Fernet

    from autobook.sources.sealing import Sealer

    sealer = Sealer(Fernet.generate_key())
    key = credentials.new_secret(SourceAuth.API_KEY)
    kept = credentials.stored(SourceAuth.API_KEY, key, sealer)
    assert kept.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert kept.secret_sealed is None
    assert key not in repr(kept)
    secret = credentials.new_secret(SourceAuth.TYPEFORM)
    sealed = credentials.stored(SourceAuth.TYPEFORM, secret, sealer)
    assert sealed.secret_sealed is not None
    assert secret not in sealed.secret_sealed
    assert sealer.unseal(sealed.secret_sealed) == secret
