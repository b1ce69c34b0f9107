"""JSON logs over a whole run with faults: every line is one JSON object, nothing personal leaks.

A stack runs with `AUTOBOOK_LOG_FORMAT=json` (at INFO: the stack's workers pass `--loglevel
INFO`, which wins over `AUTOBOOK_LOG_LEVEL`), books requests that carry emails and phone numbers
while the sandbox answers 500s and drops connections after committing, then the workers' whole
output is read back. Every line must parse as a JSON object with the documented keys, Celery's
own lines included, lines written while a request was worked on must carry its `request_id`,
and no email address, phone number or the token may appear anywhere in it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from autobook.localstack import SANDBOX_TOKEN
from tests.conftest import ProxiedStack, StartStack

pytestmark = pytest.mark.slow

KEYS = {"time", "level", "logger", "process", "request_id", "event"}
PHONES = ("+14155550123", "+442079460958")
# An unmasked address: two or more local-part characters before the @ and a domain with a TLD.
# The mask keeps one character (`a***@example.com`), which this does not match.
RAW_EMAIL = re.compile(r"[\w.+-]{2,}@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
FAULTS = {
    "seed": 11,
    "endpoints": {
        # No 429 here: each waits out X-RateLimit-Reset (60 s); the budget tests cover them.
        "POST /invitees": {"error_500": 0.2, "drop_after_commit": 0.3},
        "GET /event_type_available_times": {"error_500": 0.2},
    },
}


def _request(index: int) -> dict[str, Any]:
    return {
        "request_id": f"jsonlog-{index}",
        "event_type": {"slug": "phone-call"},
        "invitee": {
            "name": f"Grace Hopper {index}",
            "email": f"grace.hopper{index}@navy.example.com",
            "timezone": "Australia/Sydney",
            "text_reminder_number": PHONES[index % 2],
        },
        "location": {"kind": "outbound_call", "location": PHONES[(index + 1) % 2]},
        "event_guests": [f"watcher{index}@example.org"],
    }


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack(
        "embedded", extra_env={"AUTOBOOK_LOG_FORMAT": "json", "AUTOBOOK_LOG_LEVEL": "DEBUG"}
    )


def test_every_worker_line_is_json_with_no_email_phone_or_token(stack: ProxiedStack) -> None:
    stack.admin.set_faults(FAULTS)
    requests = [_request(index) for index in range(6)]
    rows = stack.wait_terminal([result.request_id for result in stack.submit(requests)], timeout=90)
    assert any(row.status == "booked" for row in rows)
    stack.local.stop_all()  # flush: everything the workers wrote is in the files now
    text = stack.worker_logs()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) > 50  # a run writes plenty; an empty capture would prove nothing
    records = []
    for line in lines:
        record = json.loads(line)  # raises on any line that is not JSON
        assert isinstance(record, dict), line
        assert set(record) - {"exc_info"} == KEYS, line
        records.append(record)
    loggers = {r["logger"] for r in records}
    # Celery's own lines, the shutdown it used to print bare included, went through it too.
    assert {"celery.app.trace", "celery.apps.worker", "httpx"} <= loggers
    ids = {r["request_id"] for r in records if r["request_id"]}
    assert ids & {f"jsonlog-{index}" for index in range(6)}
    for needle in (SANDBOX_TOKEN, *PHONES, "4155550123", "2079460958", "hopper0@", "watcher0@"):
        assert needle not in text, needle
    leaked = RAW_EMAIL.findall(text)
    assert not leaked, leaked[:5]
