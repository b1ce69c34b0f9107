"""The Calendly API v2 client: httpx transport, error classification, pagination, rate budget.

Typical use::

    http = build_http_client(settings.calendly_url, settings.calendly_token, connect_timeout=5,
                             read_timeout=30)
    client = CalendlyClient(http, budget=RedisBudget(redis_client), budget_key=user_uri)
    for event_type in client.iter_event_types(organization=org_uri): ...

Errors are those of `autobook.errors` (see `classify.py` for the table); `ReadFailed` (a failed GET,
safe to retry) and `UnexpectedResponse` / `PaginationError` refine them.
"""

from .budget import (
    ENTERPRISE,
    FREE,
    PLANS,
    STANDARD,
    TRIAL,
    UNLIMITED,
    BudgetUnavailable,
    CallKind,
    InMemoryBudget,
    PlanLimits,
    RateBudget,
    RedisBudget,
)
from .classify import PaginationError, ReadFailed, UnexpectedResponse
from .client import CalendlyClient, format_utc
from .http import USER_AGENT, build_http_client
from .models import (
    AvailableTime,
    Cancellation,
    EventGuest,
    EventMembership,
    EventType,
    EventTypeCustomQuestion,
    Invitee,
    InviteesCounter,
    LocationConfiguration,
    Page,
    Pagination,
    Profile,
    QuestionAndAnswer,
    ScheduledEvent,
    User,
)
from .ratelimit import RateLimitInfo
from .retry import RetryPolicy

__all__ = [
    "ENTERPRISE",
    "FREE",
    "PLANS",
    "STANDARD",
    "TRIAL",
    "UNLIMITED",
    "USER_AGENT",
    "AvailableTime",
    "BudgetUnavailable",
    "CalendlyClient",
    "CallKind",
    "Cancellation",
    "EventGuest",
    "EventMembership",
    "EventType",
    "EventTypeCustomQuestion",
    "InMemoryBudget",
    "Invitee",
    "InviteesCounter",
    "LocationConfiguration",
    "Page",
    "Pagination",
    "PaginationError",
    "PlanLimits",
    "Profile",
    "QuestionAndAnswer",
    "RateBudget",
    "RateLimitInfo",
    "ReadFailed",
    "RedisBudget",
    "RetryPolicy",
    "ScheduledEvent",
    "UnexpectedResponse",
    "User",
    "build_http_client",
    "format_utc",
]
