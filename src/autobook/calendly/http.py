"""The configured `httpx.Client` that `CalendlyClient` talks through.

Explicit timeouts (never httpx's implicit default), a real `User-Agent` (Calendly sits behind
Cloudflare, which blocks default library agents), the bearer token in one header and nowhere else,
no redirects (a redirected POST could be replayed). The transport is injectable: unit tests pass
`httpx.MockTransport`, integration tests a real local server via `base_url`.

httpx logs every request's full URL at INFO level, and our query strings carry invitee emails
(percent-encoded, so a log filter looking for `@` misses them). Building a client therefore
installs, once, a filter on the `httpx` logger that replaces query strings with `?[query]`.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

import httpx

from autobook import __version__

USER_AGENT = f"autobook/{__version__} (+https://github.com/autobook/autobook)"
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0


_QUERY = re.compile(r"\?[^\s\"']*")


class QueryRedactingFilter(logging.Filter):
    """Rewrites a record's message with every URL query string replaced by `?[query]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY.sub("?[query]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def protect_httpx_logs() -> None:
    """Install `QueryRedactingFilter` on the `httpx` logger (idempotent)."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, QueryRedactingFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(QueryRedactingFilter())


class SecretLike(Protocol):
    """A secret wrapper such as `pydantic.SecretStr`."""

    def get_secret_value(self) -> str: ...


def build_http_client(
    base_url: str,
    token: str | SecretLike,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An `httpx.Client` for the Calendly API at `base_url`, authenticated with `token`.

    Writes get the read timeout (bodies are small); waiting for a pooled connection gets the connect
    timeout, and counts as "not sent".
    """
    protect_httpx_logs()
    secret = token if isinstance(token, str) else token.get_secret_value()
    if not secret:
        raise ValueError("a Calendly token is required")
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={
            "Authorization": f"Bearer {secret}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        },
        timeout=timeout,
        follow_redirects=False,
        transport=transport,
    )
