"""No server-side request forgery through `callback_url` (issue 11), at `autobook serve`'s
intake, without `AUTOBOOK_CALLBACK_ALLOW_PRIVATE`: loopback, private, link-local and metadata
addresses, literal or behind a name, are refused with a problem on `callback_url`; so is plain
http, and a source's default callback URL aimed inside.
"""

from __future__ import annotations

import pytest

from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, start_intake

pytestmark = pytest.mark.slow

REFUSED = [
    "https://127.0.0.1/hook",
    "https://10.0.0.8/hook",
    "https://10.200.3.4:8443/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://localhost/hook",  # a name that resolves to loopback
    "http://crm.example.com/hook",
]


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded", workers=0)


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


def _request(request_id: str, callback_url: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": "UTC"},
        "callback_url": callback_url,
    }


def test_inner_callback_urls_are_refused_at_intake(intake: Intake) -> None:
    key = intake.add_source("crm")
    for index, url in enumerate(REFUSED):
        response = intake.post(_request(f"ssrf-{index}", url), key=key)
        assert response.status_code == 422, (url, response.text)
        fields = [p["field"] for p in response.json()["problems"]]
        assert fields == ["callback_url"], (url, fields)
    # A public https URL (here one that does not resolve offline) passes intake: it is
    # checked again, after DNS, before each delivery.
    assert (
        intake.post(_request("ssrf-ok", "https://crm.example.com/hook"), key=key).status_code == 202
    )


def test_a_source_default_callback_url_aimed_inside_is_refused(stack: ProxiedStack) -> None:
    refused = stack.cli("sources", "add", "inner", "--callback-url", "https://10.1.1.1/x")
    assert refused.returncode != 0
    assert "private" in refused.stderr
    allowed = stack.cli("sources", "add", "outer", "--callback-url", "https://crm.example.com/x")
    assert allowed.returncode == 0, allowed.stderr
