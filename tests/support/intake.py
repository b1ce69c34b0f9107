"""The HTTP intake of a running stack: `autobook serve` as a subprocess, sources, signed calls.

Sources are added with the real command line (`autobook sources add --json`), which prints the
secret once; calls are real HTTP. The signing helpers build each scheme's headers from its
specification, independently of `autobook.sources.signatures`, so a mistake in one would not
hide in the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.conftest import ProxiedStack


@dataclass
class Intake:
    stack: ProxiedStack
    url: str

    def add_source(self, name: str, *args: str, stdin: str | None = None) -> str:
        result = self.stack.cli("sources", "add", name, "--json", *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        secret: str = json.loads(result.stdout)["secret"]
        return secret

    def post(self, body: Any, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(
            f"{self.url}/v1/bookings", content=content, headers=headers, timeout=30, **kwargs
        )

    def get(self, request_id: str, key: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}/v1/bookings/{request_id}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def cancel(self, request_id: str, key: str, reason: str | None = None) -> httpx.Response:
        body = {} if reason is None else {"reason": reason}
        return httpx.post(
            f"{self.url}/v1/bookings/{request_id}/cancel",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def signed_url(self, source: str) -> str:
        return f"{self.url}/v1/bookings?source={source}"


def start_intake(stack: ProxiedStack, workers: int = 1, name: str = "serve") -> Intake:
    url, _ = stack.local.start_serve(workers=workers, name=name)
    return Intake(stack, url)


def standard_webhooks_headers(
    secret: str, body: bytes, *, at: datetime | None = None, webhook_id: str | None = None
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    signature = Webhook(secret).sign(webhook_id, at, body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def hubspot_v3_headers(
    secret: str, url: str, body: bytes, *, at: float | None = None
) -> dict[str, str]:
    timestamp = str(int((at or time.time()) * 1000))
    message = b"POST" + url.encode() + body + timestamp.encode()
    digest = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return {"X-HubSpot-Signature-v3": digest.decode(), "X-HubSpot-Request-Timestamp": timestamp}


def typeform_headers(secret: str, body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return {"Typeform-Signature": "sha256=" + digest.decode()}


def add_callback_source(stack: ProxiedStack, name: str = "crm") -> tuple[str, str]:
    """Add an api_key source; its (API key, callback signing secret), each shown once."""
    result = stack.cli("sources", "add", name, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    return shown["secret"], shown["callback_secret"]
