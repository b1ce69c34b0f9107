"""The README's example requests, copied from the README itself, end as the README says.

A user copies the flagship request and expects a booking from the sandbox's default seed; it
once named a question and a location kind that no single event type there had. The requests are
read from README.md, not written out again here, so the two can't drift apart. Only the flagship's
dates move: by whole weeks (weekdays stay), to the first shift that puts `latest` ahead of today,
so the test still means something after December 2026.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ProxiedStack, StartStack
from tests.support.sandbox import TRACKING_KEYS

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
WAIT_SECONDS = 90


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def flagship_request() -> dict[str, Any]:
    """The JSON block under "## The booking request"."""
    section = _readme().split("## The booking request", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block is not None, "the README lost its example request"
    request: dict[str, Any] = json.loads(block.group(1))
    return request


def least_request() -> dict[str, Any]:
    """The one-line request of "The least you can send"."""
    section = _readme().split("**The least you can send**", 1)[1]
    inline = re.search(r"`(\{.*?\})`\n", section)
    assert inline is not None, "the README lost its smallest request"
    request: dict[str, Any] = json.loads(inline.group(1))
    return request


def _shifted(request: dict[str, Any], today: date) -> dict[str, Any]:
    """The request with every date moved by whole weeks, so its window is not over yet."""
    moved = copy.deepcopy(request)
    latest = date.fromisoformat(moved["window"]["latest"])
    delta = timedelta(0)
    while latest + delta < today + timedelta(weeks=1):  # at least a week of window left
        delta += timedelta(weeks=1)
    window = moved["window"]
    for key in ("earliest", "latest"):
        window[key] = (date.fromisoformat(window[key]) + delta).isoformat()
    for key in ("keep_trying_until", "start_after"):
        moment = datetime.fromisoformat(moved[key].replace("Z", "+00:00")) + delta
        moved[key] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(UTC)
    if datetime.fromisoformat(moved["start_after"].replace("Z", "+00:00")) > now:
        # A follow-up that starts later in the day would make the test wait for it.
        moved["start_after"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moved


def test_the_flagship_names_an_event_type_that_asks_company_and_offers_outbound_call() -> None:
    request = flagship_request()
    assert request["event_type"].endswith("/event_types/973c79aa-0071-5cda-840b-ed46066c6915")
    assert request["location"]["kind"] == "outbound_call"
    assert [qa["question"] for qa in request["questions_and_answers"]] == ["Company"]


def test_the_readme_says_how_each_example_ends() -> None:
    text = " ".join(_readme().split())
    assert "this request ends `booked`" in text
    assert "(against the sandbox, it ends `booked`)" in text


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded", workers=1)


def test_the_flagship_request_is_booked_on_the_default_seed(stack: ProxiedStack) -> None:
    request = _shifted(flagship_request(), datetime.now(UTC).date())
    (result,) = stack.submit([request])
    assert result.status == "received", result.reason
    (row,) = stack.wait_terminal([request["request_id"]], timeout=WAIT_SECONDS)
    assert str(row.status) == "booked", row.reason
    (booking,) = [b for b in stack.admin.ledger() if b["email"] == request["invitee"]["email"]]
    assert booking["event_type"].endswith("/event_types/973c79aa-0071-5cda-840b-ed46066c6915")
    assert booking["location"]["type"] == "outbound_call"
    assert booking["location"]["location"] == "+14155550100"
    assert booking["questions_and_answers"][0]["question"] == "Company"
    assert booking["questions_and_answers"][0]["answer"] == "Acme"
    assert booking["event_guests"] == ["cc@example.com"]
    assert set(booking["tracking"]) == set(TRACKING_KEYS)
    assert booking["tracking"]["salesforce_uuid"] == "00Q5e00000AbCdE"
    assert row.start_time is not None
    new_york = row.start_time.astimezone(ZoneInfo("America/New_York"))
    assert new_york.strftime("%a") in ("Wed", "Thu")
    assert 13 <= new_york.hour < 17


def test_the_least_you_can_send_is_booked(stack: ProxiedStack) -> None:
    request = least_request()
    (result,) = stack.submit([request])
    assert result.status == "received", result.reason
    (row,) = stack.wait_terminal([request["request_id"]], timeout=WAIT_SECONDS)
    assert str(row.status) == "booked", row.reason


def test_the_unusual_domain_example_is_refused_with_the_suggestion(stack: ProxiedStack) -> None:
    assert 'john@gmial.com` is refused with "did you mean john@gmail.com?"' in _readme()
    request = least_request()
    request["request_id"] = "readme-typo"
    request["invitee"] = {**request["invitee"], "email": "john@gmial.com"}
    (result,) = stack.submit([request])
    assert result.status == "invalid"
    assert "did you mean john@gmail.com?" in (result.reason or "")
