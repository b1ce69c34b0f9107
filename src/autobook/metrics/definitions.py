"""The metrics the worker's own code counts, and the two calls that count them.

Counters and the histogram live in prometheus-client's default registry. In a prefork worker
each pool process writes them to files under `PROMETHEUS_MULTIPROC_DIR`, and the scrape sums
the files (multiprocess mode). prometheus-client picks its storage when it is first imported,
so `autobook worker` sets that variable before anything imports this module (see `serve.py`).

Labels never carry personal data or the token: an endpoint is its route template (UUIDs become
`{uuid}`), a status is an HTTP code or a request status.
"""

from __future__ import annotations

import re
from datetime import datetime

from prometheus_client import Counter, Histogram

NO_RESPONSE = "none"  # the status label of a call that got no HTTP answer
_UUID_SEGMENT = re.compile(
    r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=/|$)"
)
# From a few seconds (a free slot, booked at once) to days (a request that waited for a slot).
TIME_TO_BOOK_BUCKETS = (1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)

REQUESTS_TOTAL = Counter(
    "autobook_requests", "Requests a worker brought to a final status.", ["status"]
)
TIME_TO_BOOK = Histogram(
    "autobook_time_to_book_seconds",
    "From submit to booked.",
    buckets=TIME_TO_BOOK_BUCKETS,
)
CALENDLY_CALLS = Counter(
    "autobook_calendly_calls",
    "Calls to Calendly, by endpoint (route template) and HTTP status (none: no answer).",
    ["endpoint", "status"],
)
CALENDLY_429 = Counter("autobook_calendly_429", "Calendly answers 429 Too Many Requests.")
# A receiver answers in milliseconds; the slowest are cut by the callback timeout (up to 120 s).
CALLBACK_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
CALLBACK_ATTEMPTS = Counter(
    "autobook_callback_attempts",
    "Callback delivery attempts, by outcome: delivered; retry (failed, due again later); "
    "failed (given up, refused by the SSRF rules, or no secret to sign with).",
    ["outcome"],
)
CALLBACK_LATENCY = Histogram(
    "autobook_callback_latency_seconds",
    "From a callback's POST to its receiver's answer (or error).",
    buckets=CALLBACK_LATENCY_BUCKETS,
)
CALENDLY_WEBHOOKS = Counter(
    "autobook_calendly_webhooks",
    "Calendly webhook deliveries to autobook serve, by outcome: accepted, refused (bad "
    "signature or envelope), duplicate (a retry of one already applied).",
    ["outcome"],
)


def endpoint_of(method: str, path: str) -> str:
    """`GET /event_types/{uuid}` for `GET /event_types/9ac0…`: one label per route."""
    return f"{method} {_UUID_SEGMENT.sub('/{uuid}', path)}"


def calendly_call(method: str, path: str, status: int | None) -> None:
    """Count one attempt at a Calendly call and its answer."""
    label = NO_RESPONSE if status is None else str(status)
    CALENDLY_CALLS.labels(endpoint=endpoint_of(method, path), status=label).inc()
    if status == 429:
        CALENDLY_429.inc()


def request_finished(status: str, submitted_at: datetime | None, finished_at: datetime) -> None:
    """Count a request that reached a final status; time it when it was booked."""
    REQUESTS_TOTAL.labels(status=status).inc()
    if status == "booked" and submitted_at is not None:
        TIME_TO_BOOK.observe(max(0.0, (finished_at - submitted_at).total_seconds()))


def callback_attempt(outcome: str, latency_seconds: float | None) -> None:
    """Count one attempt at a callback; time it when a POST was made."""
    CALLBACK_ATTEMPTS.labels(outcome=outcome).inc()
    if latency_seconds is not None:
        CALLBACK_LATENCY.observe(latency_seconds)


def calendly_webhook(outcome: str) -> None:
    CALENDLY_WEBHOOKS.labels(outcome=outcome).inc()
