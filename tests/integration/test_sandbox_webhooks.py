"""The whole loop through the sandbox (issue 11): `autobook webhooks ensure` subscribes
`autobook serve` to the sandbox, which signs and delivers its webhooks. A person's click on the
booking's `cancel_url` makes the request `canceled` with `booking.canceled`; a click on its
`reschedule_url` moves it to its new time with `booking.rescheduled`. A subscription whose
deliveries keep failing is disabled after the configured window, as Calendly does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from autobook.localstack import SANDBOX_TOKEN
from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, add_callback_source, start_intake
from tests.support.receiver import Receiver
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded", extra_env={"AUTOBOOK_CALLBACK_ALLOW_PRIVATE": "true"})


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    made = start_intake(stack)
    url = f"{made.url}/v1/calendly/webhook"
    first = stack.cli("webhooks", "ensure", "--url", url)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    again = stack.cli("webhooks", "ensure", "--url", url)
    assert again.returncode == 0, again.stderr
    assert "is active" in again.stdout
    return made


@pytest.fixture(scope="module")
def source(intake: Intake) -> tuple[str, str]:
    return add_callback_source(intake.stack)


def _book(stack: ProxiedStack, intake: Intake, key: str, request_id: str, url: str) -> Any:
    request = {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": "Grace Hopper",
            "email": f"{request_id}@example.com",
            "timezone": "UTC",
        },
        "tracking": {"salesforce_uuid": "00Q5e00000XyZ"},
        "callback_url": url,
    }
    assert intake.post(request, key=key).status_code == 202
    (row,) = stack.wait_terminal([request_id], timeout=60)
    assert str(row.status) == "booked"
    return row


def _on_sandbox(stack: ProxiedStack, link: str) -> str:
    """The link's page, asked of the sandbox itself (the worker may reach it through a proxy)."""
    path = urlsplit(link).path
    assert path.startswith(("/cancellations/", "/reschedulings/")), link
    return stack.sandbox_url + path


def _events(made: Receiver, path: str, secret: str, kind: str) -> list[dict[str, Any]]:
    verified = [Webhook(secret).verify(r.body, r.headers) for r in made.at(path)]
    return [e for e in verified if e["type"] == kind]


def test_webhooks_status_shows_the_active_subscription(stack: ProxiedStack, intake: Intake) -> None:
    result = stack.cli("webhooks", "status", "--json")
    assert result.returncode == 0, result.stderr
    (shown,) = json.loads(result.stdout)
    assert shown["state"] == "active"
    assert shown["signing_key_held"] is True
    assert shown["callback_url"] == f"{intake.url}/v1/calendly/webhook"


def test_a_click_on_cancel_url_cancels_the_request_and_calls_back(
    stack: ProxiedStack, intake: Intake, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, secret = source
    made, url = receiver
    row = _book(stack, intake, key, "page-cancel", f"{url}/page-cancel")
    page = _on_sandbox(stack, row.cancel_url)
    assert "Cancel your meeting" in httpx.get(page, timeout=30).text
    clicked = httpx.post(page, data={"reason": "found another time"}, timeout=30)
    assert clicked.status_code == 200, clicked.text
    wait_for(lambda: str(stack.row("page-cancel").status) == "canceled", 20, "canceled")
    assert "found another time" in (stack.row("page-cancel").reason or "")
    (event,) = wait_for(
        lambda: _events(made, "/page-cancel", secret, "booking.canceled"), 20, "booking.canceled"
    )
    assert event["data"]["canceled_by"] == "Grace Hopper"


def test_a_click_on_reschedule_url_moves_the_request(
    stack: ProxiedStack, intake: Intake, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, secret = source
    made, url = receiver
    row = _book(stack, intake, key, "page-move", f"{url}/page-move")
    page = _on_sandbox(stack, row.reschedule_url)
    assert "Reschedule your meeting" in httpx.get(page, timeout=30).text
    assert httpx.post(page, data={}, timeout=30).status_code == 200
    moved = wait_for(
        lambda: (r := stack.row("page-move")).start_time != row.start_time and r, 20, "moved"
    )
    assert str(moved.status) == "booked"
    assert moved.invitee_uri != row.invitee_uri
    ledger = httpx.get(
        f"{stack.sandbox_url}/_sandbox/ledger",
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        timeout=30,
    ).json()["collection"]
    active = [b for b in ledger if b["uri"] == moved.invitee_uri]
    assert active[0]["status"] == "active"
    (event,) = wait_for(
        lambda: _events(made, "/page-move", secret, "booking.rescheduled"), 20, "rescheduled"
    )
    assert event["data"]["previous"]["invitee_uri"] == row.invitee_uri
    assert event["data"]["reschedule_url"] == moved.reschedule_url


def test_a_subscription_failing_past_the_window_is_disabled(
    stack: ProxiedStack, intake: Intake, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, _ = source
    _, url = receiver
    admin = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    policy = {"retry_seconds": 0.2, "disable_after_seconds": 1}
    assert httpx.put(
        f"{stack.sandbox_url}/_sandbox/webhooks", json=policy, headers=admin
    ).is_success
    me = httpx.get(f"{stack.sandbox_url}/users/me", headers=admin).json()["resource"]
    dead = httpx.post(
        f"{stack.sandbox_url}/webhook_subscriptions",
        json={
            "url": "http://127.0.0.1:9/nobody-listens",
            "events": ["invitee.created"],
            "organization": me["current_organization"],
            "scope": "organization",
            "signing_key": "k" * 20,
        },
        headers=admin,
    )
    assert dead.status_code == 201
    duplicate = httpx.post(
        f"{stack.sandbox_url}/webhook_subscriptions",
        json={**json.loads(dead.request.content), "signing_key": None},
        headers=admin,
    )
    assert duplicate.status_code == 409
    _book(stack, intake, key, "dead-hook", f"{url}/dead")
    uri = dead.json()["resource"]["uri"]
    wait_for(
        lambda: httpx.get(uri, headers=admin).json()["resource"]["state"] == "disabled",
        15,
        "the failing subscription disabled",
    )
    assert httpx.delete(uri, headers=admin).status_code == 204
