"""The error tree, ordered by what the caller must do next.

```
AutobookError
├── InvalidRequest          bad input: record as invalid, never call Calendly
├── NoMatchingSlot          nothing in the window meets the constraints
└── CalendlyError           (.status, .title, .message, .details)
    ├── RequestNotSent      the request never left: retry with backoff
    ├── RateLimited         wait .retry_after seconds, shared by all workers
    ├── OutcomeUnknown      it may have happened: reconcile before anything else
    └── RequestRejected     400/403/404: Calendly said no, with a reason
        ├── SlotTaken       400 already_filled: search again without that slot
        └── Unauthorized    401: stop sending until the token works again
```

Callers catch by intent (`except OutcomeUnknown`), never by message. `httpx` and `sqlalchemy`
exceptions never escape their packages: they are wrapped in one of these with `raise ... from exc`.
An exception's docstring is its default message. No message here ever carries the API token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class AutobookError(Exception):
    """Something went wrong in autobook."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or type(self).__name__).strip()
        super().__init__(self.message)


@dataclass(frozen=True)
class FieldProblem:
    """One reason a request is invalid: the field (dotted path) and what is wrong with it."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class InvalidRequest(AutobookError):
    """The booking request is invalid."""

    def __init__(self, problems: list[FieldProblem] | str, request_id: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [FieldProblem("request", problems)]
        self.problems = problems
        self.request_id = request_id
        super().__init__("; ".join(str(p) for p in problems))


class NoMatchingSlot(AutobookError):
    """No available slot meets the request's constraints."""


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of a Calendly error body's `details` array."""

    message: str
    parameter: str | None = None
    code: str | None = None


@dataclass
class CalendlyErrorInfo:
    """What Calendly said, parsed from the response (never holds a token)."""

    status: int | None = None
    title: str | None = None
    message: str | None = None
    details: list[ErrorDetail] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class CalendlyError(AutobookError):
    """The Calendly API call failed."""

    def __init__(self, message: str | None = None, info: CalendlyErrorInfo | None = None) -> None:
        self.info = info or CalendlyErrorInfo()
        super().__init__(message)

    @property
    def status(self) -> int | None:
        return self.info.status

    @property
    def title(self) -> str | None:
        return self.info.title

    @property
    def details(self) -> list[ErrorDetail]:
        return self.info.details

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.info.details if d.code]


class RequestNotSent(CalendlyError):
    """The request never reached Calendly (connection refused, DNS, connect timeout)."""


class RateLimited(CalendlyError):
    """Calendly's rate limit is exhausted; wait before the next call."""

    def __init__(
        self,
        message: str | None = None,
        info: CalendlyErrorInfo | None = None,
        retry_after: float = 60.0,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, info)


class OutcomeUnknown(CalendlyError):
    """The request may or may not have taken effect (read timeout, dropped connection, 5xx)."""


class RequestRejected(CalendlyError):
    """Calendly refused the request (400, 403 or 404)."""


class SlotTaken(RequestRejected):
    """That start time has been filled (400 already_filled)."""


class Unauthorized(RequestRejected):
    """Calendly refused the token (401): stop sending until it works again."""
