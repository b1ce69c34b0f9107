"""`CalendlyClient`: the Calendly API v2 calls the worker makes, typed, classified and budgeted.

Every call goes through one path: ask the rate budget, send `base_url + path`, record the
`X-RateLimit-*` headers, classify any failure (`classify.py`), retry in place only what is safe
(`retry.py`), and parse the envelope into a model (`models.py`).

Invariants:
- Requests always go to the configured base URL. A resource URI is opaque: only its last path
  segment(s) are used as the UUID(s), so URIs minted by another host (the sandbox) still work.
- A listing follows `next_page_token` over every page or raises: an error on any page, a repeated
  token or an unreadable page never ends the iteration early as if it were complete.
- Nothing `httpx` or `pydantic` raises escapes: callers see `autobook.errors` (and the two
  `UnexpectedResponse` / `ReadFailed` refinements of `classify.py`).
- The token never appears in an exception or a log line; logs carry method, path and status only.
- Budget: before each attempt the client asks `budget.acquire`. A wait of at most
  `max_budget_wait_seconds` is slept; a longer one raises `RateLimited(retry_after=wait)` before
  anything is sent, so a Celery task can reschedule instead of blocking a worker. A 429 penalizes
  the budget, so every worker waits for Calendly's reset. A GET (never a POST) that meets a short
  `RateLimited` (at most `RetryPolicy.max_inline_rate_limit_wait_seconds`, from the budget or from
  Calendly) waits it out in place, within its retry attempts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pydantic

from autobook.errors import RateLimited
from autobook.metrics import definitions as metrics

from .budget import CallKind, RateBudget
from .classify import (
    PaginationError,
    classify_response,
    classify_transport_error,
    classify_unreadable_success,
    describe_route,
)
from .http import build_http_client as build_http_client  # built together with the client
from .models import (
    AvailableTime,
    CalendlyModel,
    Cancellation,
    EventType,
    Invitee,
    Page,
    Pagination,
    ScheduledEvent,
    User,
    WebhookSubscription,
)
from .ratelimit import RateLimitInfo, parse_rate_limit_headers
from .redaction import Redactor
from .retry import RetryPolicy, build_retrying
from .uris import invitee_path, resource_id

logger = logging.getLogger("autobook.calendly")

ModelT = TypeVar("ModelT", bound=CalendlyModel)
Query = Mapping[str, str | int | None]
ResultT = TypeVar("ResultT")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
MAX_PAGES = 10_000
"""A listing longer than this is treated as a pagination loop, not silently cut."""
DEFAULT_MAX_BUDGET_WAIT_SECONDS = 2.0
DEFAULT_BUDGET_KEY = "default"
INVITEES_PATH = "/invitees"
NO_CONTENT = 204


def format_utc(moment: datetime) -> str:
    """Calendly's timestamp form: UTC with microseconds and a trailing Z."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Calendly times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_page_size(count: int) -> int:
    if not 1 <= count <= MAX_PAGE_SIZE:
        raise ValueError(f"count must be between 1 and {MAX_PAGE_SIZE}, got {count}")
    return count


class _MalformedBody(ValueError):
    """A 2xx body that is JSON but not the envelope the endpoint documents."""


def _validation_summary(exc: pydantic.ValidationError) -> str:
    # Locations and messages only: the input values may hold emails or phone numbers.
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)[:3]
    ]
    return "; ".join(problems)


class CalendlyClient:
    """The Calendly API v2, over an injected `httpx.Client` (see `build_http_client`)."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        budget: RateBudget | None = None,
        budget_key: str = DEFAULT_BUDGET_KEY,
        priority: bool = False,
        retry: RetryPolicy | None = None,
        max_budget_wait_seconds: float = DEFAULT_MAX_BUDGET_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`budget_key` names the Calendly user the token belongs to (its URI is a good key).

        `priority=True` lets general calls use the share of the budget kept for bookings; use it
        for the reads that reconcile a booking (see `prioritized`).
        """
        self._http = http
        self._budget = budget
        self._budget_key = budget_key
        self._priority = priority
        self._retry = retry or RetryPolicy()
        self._max_budget_wait_seconds = max_budget_wait_seconds
        self._sleep = sleep
        self._redactor = Redactor.from_headers(http.headers)
        self.last_rate_limit: RateLimitInfo | None = None

    def prioritized(self) -> CalendlyClient:
        """A client on the same connection and budget whose general calls go before polls."""
        return CalendlyClient(
            self._http,
            budget=self._budget,
            budget_key=self._budget_key,
            priority=True,
            retry=self._retry,
            max_budget_wait_seconds=self._max_budget_wait_seconds,
            sleep=self._sleep,
        )

    # -- users ----------------------------------------------------------------------------------

    def get_current_user(self) -> User:
        """The user the token belongs to (`GET /users/me`)."""
        return self.get_user("me")

    def get_user(self, uri_or_uuid: str) -> User:
        return self._get_resource(f"/users/{resource_id(uri_or_uuid)}", User)

    # -- event types ----------------------------------------------------------------------------

    def iter_event_types(
        self,
        *,
        organization: str | None = None,
        user: str | None = None,
        active: bool | None = None,
        count: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[EventType]:
        """Every event type of the organization or user, over every page."""
        if organization is None and user is None:
            raise ValueError("iter_event_types needs organization or user")
        params: Query = {
            "organization": organization,
            "user": user,
            "active": None if active is None else ("true" if active else "false"),
            "count": _check_page_size(count),
        }
        return self._paginate("/event_types", params, EventType)

    def get_event_type(self, uri_or_uuid: str) -> EventType:
        return self._get_resource(f"/event_types/{resource_id(uri_or_uuid)}", EventType)

    def list_available_times(
        self, event_type_uri: str, start: datetime, end: datetime
    ) -> list[AvailableTime]:
        """Open starts in [start, end); Calendly allows a range of up to 7 (now 31) days."""
        params: Query = {
            "event_type": event_type_uri,
            "start_time": format_utc(start),
            "end_time": format_utc(end),
        }

        def parse(body: dict[str, Any]) -> list[AvailableTime]:
            return [AvailableTime.model_validate(item) for item in self._collection_of(body)]

        return self._call("GET", "/event_type_available_times", parse, params=params)

    # -- booking --------------------------------------------------------------------------------

    def create_invitee(self, body: Mapping[str, object]) -> Invitee:
        """Book: `POST /invitees`. Retried only when provably not sent; see `classify.py`."""
        return self._call(
            "POST",
            INVITEES_PATH,
            lambda b: Invitee.model_validate(self._resource_of(b)),
            json=dict(body),
        )

    def cancel_event(self, uri_or_uuid: str, reason: str | None = None) -> Cancellation:
        path = f"/scheduled_events/{resource_id(uri_or_uuid)}/cancellation"
        payload: dict[str, object] = {} if reason is None else {"reason": reason}
        return self._call(
            "POST", path, lambda b: Cancellation.model_validate(self._resource_of(b)), json=payload
        )

    # -- scheduled events and invitees ----------------------------------------------------------

    def iter_scheduled_events(
        self,
        *,
        organization: str | None = None,
        user: str | None = None,
        invitee_email: str | None = None,
        status: str | None = None,
        min_start_time: datetime | None = None,
        max_start_time: datetime | None = None,
        sort: str | None = None,
        count: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[ScheduledEvent]:
        """Scheduled events matching the filters, over every page."""
        params: Query = {
            "organization": organization,
            "user": user,
            "invitee_email": invitee_email,
            "status": status,
            "min_start_time": None if min_start_time is None else format_utc(min_start_time),
            "max_start_time": None if max_start_time is None else format_utc(max_start_time),
            "sort": sort,
            "count": _check_page_size(count),
        }
        return self._paginate("/scheduled_events", params, ScheduledEvent)

    def get_scheduled_event(self, uri_or_uuid: str) -> ScheduledEvent:
        return self._get_resource(f"/scheduled_events/{resource_id(uri_or_uuid)}", ScheduledEvent)

    def iter_event_invitees(
        self,
        event_uri_or_uuid: str,
        *,
        email: str | None = None,
        status: str | None = None,
        count: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Invitee]:
        """The invitees of one scheduled event, over every page."""
        path = f"/scheduled_events/{resource_id(event_uri_or_uuid)}/invitees"
        params: Query = {"email": email, "status": status, "count": _check_page_size(count)}
        return self._paginate(path, params, Invitee)

    def get_invitee(self, uri: str) -> Invitee:
        """One invitee, by its URI (`.../scheduled_events/{event}/invitees/{invitee}`)."""
        return self._get_resource(invitee_path(uri), Invitee)

    # -- webhook subscriptions ------------------------------------------------------------------

    def iter_webhook_subscriptions(
        self, *, organization: str, scope: str = "organization"
    ) -> Iterator[WebhookSubscription]:
        params: Query = {"organization": organization, "scope": scope}
        return self._paginate("/webhook_subscriptions", params, WebhookSubscription)

    def create_webhook_subscription(
        self, *, url: str, events: Sequence[str], organization: str, signing_key: str
    ) -> WebhookSubscription:
        """An organization-scope subscription; the signing key is never logged or echoed."""
        body = {
            "url": url,
            "events": list(events),
            "organization": organization,
            "scope": "organization",
            "signing_key": signing_key,
        }
        return self._call(
            "POST",
            "/webhook_subscriptions",
            lambda b: WebhookSubscription.model_validate(self._resource_of(b)),
            json=body,
        )

    def get_webhook_subscription(self, uri_or_uuid: str) -> WebhookSubscription:
        path = f"/webhook_subscriptions/{resource_id(uri_or_uuid)}"
        return self._get_resource(path, WebhookSubscription)

    def delete_webhook_subscription(self, uri_or_uuid: str) -> None:
        path = f"/webhook_subscriptions/{resource_id(uri_or_uuid)}"
        self._call("DELETE", path, lambda b: None)

    # -- machinery ------------------------------------------------------------------------------

    def _get_resource(self, path: str, model: type[ModelT]) -> ModelT:
        return self._call("GET", path, lambda body: model.model_validate(self._resource_of(body)))

    def _paginate(self, path: str, params: Query, model: type[ModelT]) -> Iterator[ModelT]:
        query = {key: value for key, value in params.items() if value is not None}
        seen_tokens: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self._call("GET", path, lambda body: self._page_of(body, model), params=query)
            yield from page.collection
            token = page.pagination.next_page_token
            if not token:
                return
            if token in seen_tokens:
                raise PaginationError(f"GET {path}: Calendly repeated a page token")
            seen_tokens.add(token)
            query = {**query, "page_token": token}
        raise PaginationError(f"GET {path}: more than {MAX_PAGES} pages")

    def _page_of(self, body: dict[str, Any], model: type[ModelT]) -> Page[ModelT]:
        items = tuple(model.model_validate(item) for item in self._collection_of(body))
        raw_pagination = body.get("pagination")
        if not isinstance(raw_pagination, dict):
            raise _MalformedBody("the collection has no pagination object")
        return Page(collection=items, pagination=Pagination.model_validate(raw_pagination))

    @staticmethod
    def _resource_of(body: dict[str, Any]) -> object:
        if "resource" not in body:
            raise _MalformedBody("the body has no resource")
        return body["resource"]

    @staticmethod
    def _collection_of(body: dict[str, Any]) -> list[Any]:
        collection = body.get("collection")
        if not isinstance(collection, list):
            raise _MalformedBody("the body has no collection")
        return collection

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[dict[str, Any]], ResultT],
        *,
        params: Query | None = None,
        json: object = None,
    ) -> ResultT:
        kind: CallKind = "invitee_post" if method == "POST" and path == INVITEES_PATH else "general"
        retrying = build_retrying(method, f"{method} {path}", self._retry, self._sleep)
        for attempt in retrying:
            with attempt:
                return self._attempt(method, path, parse, kind, params, json)
        raise AssertionError("tenacity re-raises the last error")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path: str,
        parse: Callable[[dict[str, Any]], ResultT],
        kind: CallKind,
        params: Query | None,
        json: object,
    ) -> ResultT:
        self._wait_for_budget(kind, f"{method} {path}")
        request = self._http.build_request(method, path, params=params, json=json)
        started = time.monotonic()
        try:
            response = self._http.send(request)
        except httpx.RequestError as exc:  # transport failures, undecodable bodies, redirects
            metrics.calendly_call(method, request.url.path, None)
            raise self._redactor.scrub(classify_transport_error(request, exc)) from exc
        metrics.calendly_call(method, request.url.path, response.status_code)
        self._observe(response, started)
        if not response.is_success:
            error = self._redactor.scrub(classify_response(response))
            if isinstance(error, RateLimited) and self._budget is not None:
                self._budget.penalize(self._budget_key, error.retry_after, kind=kind)
            raise error
        if response.status_code == NO_CONTENT:  # a DELETE: nothing to read
            return parse({})
        # `from None` below: a ValidationError quotes the input, which may hold personal data.
        try:
            body = response.json()
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            problem = "the body is not JSON"
            raise self._redactor.scrub(classify_unreadable_success(response, problem)) from None
        try:
            if not isinstance(body, dict):
                raise _MalformedBody("the body is not a JSON object")
            return parse(body)
        except pydantic.ValidationError as exc:
            problem = f"the body does not match the schema ({_validation_summary(exc)})"
            raise self._redactor.scrub(classify_unreadable_success(response, problem)) from None
        except _MalformedBody as exc:
            raise self._redactor.scrub(classify_unreadable_success(response, str(exc))) from None

    def _wait_for_budget(self, kind: CallKind, route: str) -> None:
        if self._budget is None:
            return
        while True:
            wait = self._budget.acquire(self._budget_key, kind, priority=self._priority)
            if wait <= 0:
                return
            if wait > self._max_budget_wait_seconds:
                raise RateLimited(
                    f"{route}: not sent; the shared rate budget allows it in {wait:.1f}s",
                    retry_after=wait,
                )
            self._sleep(wait)

    def _observe(self, response: httpx.Response, started: float) -> None:
        info = parse_rate_limit_headers(response.headers)
        self.last_rate_limit = info
        logger.debug(
            "%s -> %d in %.0f ms (rate limit remaining %s)",
            describe_route(response.request),
            response.status_code,
            (time.monotonic() - started) * 1000,
            "?" if info is None or info.remaining is None else info.remaining,
        )
