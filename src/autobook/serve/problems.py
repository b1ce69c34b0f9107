"""Refusals: JSON `{"title", "detail", "problems"?}` answers, logged without secrets or bodies.

A handler raises `Refusal`; the app turns it into its answer. `detail` is always our own text
(never a library's, which may quote a header or the body), and the log line names the method,
the route, the status and the source, nothing the caller sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse

log = logging.getLogger("autobook.serve")


class AsciiJSONResponse(JSONResponse):
    """JSON escaped to ASCII: a lone surrogate from a hostile body can't break the encoding."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class Refusal(Exception):
    """An answer other than success, with its status, title and detail."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        problems: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.problems = problems
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"title": self.title, "detail": self.detail, **self.extra}
        if self.problems is not None:
            body["problems"] = list(self.problems)
        return body

    def response(self) -> AsciiJSONResponse:
        return AsciiJSONResponse(self.body(), status_code=self.status, headers=self.headers)


def unauthorized(detail: str) -> Refusal:
    return Refusal(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def not_found(detail: str = "nothing here: see /v1/bookings") -> Refusal:
    return Refusal(404, "Not Found", detail)


def log_refusal(method: str, route: str, refusal: Refusal, source: str | None) -> None:
    log.warning(
        "refused %s %s: %d %s (source %s)",
        method,
        route,
        refusal.status,
        refusal.title,
        source or "unknown",
    )
