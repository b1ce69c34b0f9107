"""`Calendly-Webhook-Signature` checking (`autobook.webhooks.signature`), from API-NOTES §2.9."""

from __future__ import annotations

import hashlib
import hmac

from autobook.webhooks.signature import sign, verify

KEY = "sandbox-signing-key-0123456789"
BODY = b'{"event":"invitee.canceled"}'
NOW = 1_800_000_000


def _header(key: str, body: bytes, at: int) -> str:
    # Written from the notes, not from `sign`, so a mistake in one shows in the other.
    digest = hmac.new(key.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def test_a_fresh_signature_by_one_of_the_keys_is_accepted() -> None:
    assert sign(KEY, BODY, NOW) == _header(KEY, BODY, NOW)
    assert verify(_header(KEY, BODY, NOW - 60), BODY, ["other-key", KEY], now=NOW) is None


def test_bad_stale_missing_and_malformed_signatures_are_refused() -> None:
    assert "does not match" in (verify(_header("wrong", BODY, NOW), BODY, [KEY], now=NOW) or "")
    tampered = verify(_header(KEY, BODY, NOW), BODY + b" ", [KEY], now=NOW)
    assert tampered is not None
    assert "stale" in (verify(_header(KEY, BODY, NOW - 181), BODY, [KEY], now=NOW) or "")
    assert "stale" in (verify(_header(KEY, BODY, NOW + 181), BODY, [KEY], now=NOW) or "")
    assert verify(None, BODY, [KEY], now=NOW) is not None
    for header in ("v1=abc", "t=abc,v1=00", f"t={NOW}", "garbage", "t=1,v1=" + "0" * 64):
        assert verify(header, BODY, [KEY], now=NOW) is not None, header


def test_a_refusal_never_quotes_the_key_or_the_expected_signature() -> None:
    expected = _header(KEY, BODY, NOW).partition("v1=")[2]
    why = verify(f"t={NOW},v1=00", BODY, [KEY], now=NOW) or ""
    assert KEY not in why
    assert expected not in why
