"""Keeps the API token out of every error the client raises.

Error messages are built from the route, Calendly's error body and `httpx`'s exception text, none of
which should carry the token. But a misbehaving server or proxy can echo request headers into a
body, and that body is quoted in the message. So, as a last line of defence, every error leaving the
client has any occurrence of the token replaced. The redactor learns the token from the client's own
`Authorization` header and keeps it only in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from autobook.errors import CalendlyError
from autobook.logsafe import secret_forms

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4
"""Shorter "secrets" are not redacted: replacing every "abc" in a message would garble it."""


class Redactor:
    """Replaces known secrets in errors."""

    def __init__(self, secrets: list[str]) -> None:
        # Every form of each secret (escaped, quoted...), not only the raw one.
        forms = {form for s in secrets if len(s) >= MIN_SECRET_CHARS for form in secret_forms(s)}
        self._secrets = sorted(forms, key=len, reverse=True)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Redactor:
        """The secrets of an `Authorization` header: the credential, and the whole value."""
        value = headers.get("authorization") or ""
        _, _, credential = value.partition(" ")
        return cls([credential.strip(), value.strip()])

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def scrub(self, error: CalendlyError) -> CalendlyError:
        """The same error, with the secrets removed from its message and parsed info."""
        if not self._secrets:
            return error
        error.message = self.redact(error.message)
        error.args = (error.message,)
        info = error.info
        info.title = None if info.title is None else self.redact(info.title)
        info.message = None if info.message is None else self.redact(info.message)
        info.details = [
            dataclasses.replace(
                d,
                message=self.redact(d.message),
                parameter=None if d.parameter is None else self.redact(d.parameter),
            )
            for d in info.details
        ]
        info.extra = {k: v for k, v in info.extra.items() if not self._mentions_secret(v)}
        return error

    def _mentions_secret(self, value: object) -> bool:
        text = repr(value)
        return any(secret in text for secret in self._secrets)
