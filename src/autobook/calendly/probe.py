"""Probes: single Calendly calls whose answer is looked at, not parsed into a model or retried.

`autobook check` asks Calendly what the token may do. It needs the raw verdict of each call
(the status, the error title, `required_scopes`), and a failure to reach Calendly must be one
more answer, not an exception: a preflight reports every item. So a probe sends one request
through the same configured `httpx.Client` as the worker (timeouts, User-Agent, the token in one
header) but skips the budget and the retries, and turns every `httpx` error into
`ProbeResult.unreachable`, whose text never holds the token (the client's `Redactor` scrubs it).

Scopes are probed on calls that change nothing: a read, or a cancellation of an event that
cannot exist (the nil UUID). Calendly checks scopes before it looks for the resource, so a 403
`Insufficient scope` means the scope is missing, and any other answer (a 404 for the nil event)
means the token has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .redaction import Redactor

NIL_UUID = "00000000-0000-0000-0000-000000000000"
INSUFFICIENT_SCOPE_TITLE = "Insufficient scope"
PROBE_WINDOW_START = timedelta(hours=1)  # Calendly refuses an availability start in the past


@dataclass(frozen=True)
class ProbeResult:
    """What one call answered: an HTTP status and body, or why nothing came back."""

    status: int | None
    body: Mapping[str, Any] = field(default_factory=dict)
    unreachable: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def missing_scopes(self) -> list[str]:
        """The scopes a 403 `Insufficient scope` names; empty for any other answer."""
        if self.status != 403 or self.body.get("title") != INSUFFICIENT_SCOPE_TITLE:
            return []
        scopes = self.body.get("required_scopes")
        return [str(scope) for scope in scopes] if isinstance(scopes, list) else []

    @property
    def resource(self) -> Mapping[str, Any]:
        found = self.body.get("resource")
        return found if isinstance(found, dict) else {}

    @property
    def collection(self) -> list[Mapping[str, Any]]:
        found = self.body.get("collection")
        return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


@dataclass(frozen=True)
class ScopeProbe:
    """A harmless call that needs `scope`."""

    scope: str
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)


class Prober:
    """Sends probes through an injected `httpx.Client` (see `build_http_client`)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self._redactor = Redactor.from_headers(http.headers)

    def call(self, method: str, path: str, params: Mapping[str, str] | None = None) -> ProbeResult:
        try:
            response = self._http.request(
                method, path, params=dict(params or {}), json={} if method == "POST" else None
            )
        except httpx.RequestError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return ProbeResult(None, unreachable=self._redactor.redact(reason))
        try:
            body = response.json()
        except ValueError:
            body = {}
        return ProbeResult(response.status_code, body if isinstance(body, dict) else {})

    def missing_scopes(self, probes: list[ScopeProbe]) -> tuple[list[str], list[str]]:
        """(scopes the token lacks, probes that could not be answered) over `probes`."""
        missing: list[str] = []
        unanswered: list[str] = []
        for probe in probes:
            result = self.call(probe.method, probe.path, probe.params)
            if result.status is None or result.status in (401, 429) or result.status >= 500:
                unanswered.append(f"{probe.method} {probe.path.split('?')[0]}")
            elif result.missing_scopes:
                missing.extend(s for s in result.missing_scopes if s not in missing)
        return missing, unanswered


def booking_scope_probes(
    base_url: str, organization_uri: str, now: datetime | None = None
) -> list[ScopeProbe]:
    """One harmless call per scope that booking needs (API-NOTES §1 lists them)."""
    start = (now or datetime.now(UTC)) + PROBE_WINDOW_START
    end = start + timedelta(days=1)
    stamp = "%Y-%m-%dT%H:%M:%S.000000Z"
    return [
        ScopeProbe("users:read", "GET", "/users/me"),
        ScopeProbe(
            "event_types:read",
            "GET",
            "/event_types",
            {"organization": organization_uri, "count": "1"},
        ),
        ScopeProbe(
            "availability:read",
            "GET",
            "/event_type_available_times",
            {
                "event_type": f"{base_url}/event_types/{NIL_UUID}",
                "start_time": start.strftime(stamp),
                "end_time": end.strftime(stamp),
            },
        ),
        ScopeProbe(
            "scheduled_events:read",
            "GET",
            "/scheduled_events",
            {"organization": organization_uri, "count": "1"},
        ),
        ScopeProbe("scheduled_events:write", "POST", f"/scheduled_events/{NIL_UUID}/cancellation"),
    ]
