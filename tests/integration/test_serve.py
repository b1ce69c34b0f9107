"""`autobook serve` over real HTTP, with real workers booking in the sandbox (issue 10).

One stack for the module: the sandbox, a worker with its dispatcher, and `autobook serve`, all
subprocesses on embedded defaults. Sources are added with `autobook sources add`. Checked here:
every refusal (credentials, signatures of each scheme, replays, size, media type, rate), a batch
with invalid items, idempotency, source isolation, the four shipped mappings booked with their
tracking, cancel before and after booking (the cancellation reaches Calendly once), the hostile
corpus posted, and that no secret or email reaches the intake's log.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ProxiedStack, StartStack
from tests.hostile.corpus import HOSTILE_CASES, generated_cases
from tests.support.intake import (
    Intake,
    hubspot_v3_headers,
    standard_webhooks_headers,
    start_intake,
    typeform_headers,
)

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sources"
HUBSPOT_SECRET = "hubspot-app-client-secret-5f0c2a"
MAX_BODY = 1024 * 1024
# JSON has no NaN or Infinity: such a body is not JSON at all, and answered 400.
NOT_JSON_CASES = {"nan", "infinity"}


def _request(request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": "Ada Lovelace",
            "email": f"{request_id}@example.com",
            "timezone": "America/Chicago",
        },
        **extra,
    }


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded")


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


@pytest.fixture(scope="module")
def key(intake: Intake) -> str:
    return intake.add_source("crm")


def _wait_status(stack: ProxiedStack, request_id: str, status: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        rows = stack.rows([request_id])
        if rows and str(rows[0].status) == status:
            return rows[0]
        if time.monotonic() > deadline:
            shown = {r.request_id: (str(r.status), r.reason) for r in rows}
            raise AssertionError(f"{request_id} not {status} after {timeout}s: {shown}")
        time.sleep(0.2)


def _assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["title"]
    assert body["detail"]
    return body


# -- refusals -------------------------------------------------------------------------------


def test_calls_without_a_valid_key_are_refused_and_nothing_else_exists(
    intake: Intake, key: str
) -> None:
    assert _assert_problem(intake.post(_request("no-key")), 401)
    _assert_problem(intake.post(_request("wrong-key"), key=key[:-2] + "xx"), 401)
    latin1 = {"Authorization": b"Bearer \xe9t\xe9"}
    _assert_problem(intake.post(_request("bearer-junk"), headers=latin1), 401)
    # Nothing under /v1 answers a stranger, not even with a 404; elsewhere a JSON 404.
    _assert_problem(httpx.get(f"{intake.url}/v1/bookings/anything"), 401)
    _assert_problem(httpx.get(f"{intake.url}/v1/other"), 401)
    _assert_problem(
        httpx.get(f"{intake.url}/v1/other", headers={"Authorization": f"Bearer {key}"}), 404
    )
    _assert_problem(httpx.get(f"{intake.url}/admin"), 404)
    assert httpx.get(f"{intake.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{intake.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == ready.json()["broker"] == "ok"
    scraped = httpx.get(f"{intake.url}/metrics", follow_redirects=True)
    assert scraped.status_code == 200
    assert "autobook_requests_in_state" in scraped.text


def test_a_removed_or_rotated_key_stops_working_at_once(
    intake: Intake, stack: ProxiedStack
) -> None:
    old = intake.add_source("short-lived")
    assert intake.post(_request("short-lived-1"), key=old).status_code == 202
    rotated = stack.cli("sources", "rotate", "short-lived", "--json")
    new = json.loads(rotated.stdout)["secret"]
    _assert_problem(intake.post(_request("short-lived-2"), key=old), 401)
    assert intake.post(_request("short-lived-3"), key=new).status_code == 202
    assert stack.cli("sources", "remove", "short-lived").returncode == 0
    _assert_problem(intake.post(_request("short-lived-4"), key=new), 401)
    listed = stack.cli("sources", "list", "--json")
    assert "short-lived" not in listed.stdout
    assert new not in listed.stdout


def test_body_size_media_type_and_malformed_json_are_refused(intake: Intake, key: str) -> None:
    big = json.dumps(_request("too-big", padding="x" * MAX_BODY)).encode()
    body = _assert_problem(intake.post(big, key=key), 413)
    assert "1 MiB" in body["detail"]
    _assert_problem(
        intake.post(_request("as-text"), key=key, headers={"Content-Type": "text/plain"}), 415
    )
    _assert_problem(intake.post(b'{"request_id": "broken", ', key=key), 400)


def test_the_rate_limit_answers_429_with_retry_after(intake: Intake) -> None:
    limited = intake.add_source("limited", "--rate", "3")
    answers = [intake.post(_request(f"limited-{n}"), key=limited) for n in range(5)]
    assert [a.status_code for a in answers[:3]] == [202, 202, 202]
    refused = answers[3]
    _assert_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_standard_webhooks_signatures_stale_bad_and_replayed_are_refused(intake: Intake) -> None:
    secret = intake.add_source("webhooks", "--auth", "standard_webhooks")
    url = intake.signed_url("webhooks")
    body = json.dumps(_request("webhooks-1")).encode()
    headers = {"Content-Type": "application/json"}

    def post(signed: dict[str, str], content: bytes = body) -> httpx.Response:
        return httpx.post(url, content=content, headers={**headers, **signed}, timeout=30)

    good = standard_webhooks_headers(secret, body)
    assert post(good).status_code == 202
    replay = _assert_problem(post(good), 401)
    assert "replayed" in replay["detail"]
    stale_at = datetime.now(UTC) - timedelta(minutes=6)
    stale = _assert_problem(post(standard_webhooks_headers(secret, body, at=stale_at)), 401)
    assert "5 minutes" in stale["detail"]
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    _assert_problem(post(standard_webhooks_headers(other, body)), 401)
    tampered = standard_webhooks_headers(secret, body)
    _assert_problem(post(tampered, body.replace(b"Ada", b"Eve")), 401)
    _assert_problem(post({}), 401)


def test_hubspot_v3_and_typeform_signatures_are_checked(intake: Intake) -> None:
    intake.add_source(
        "hubspot-raw", "--auth", "hubspot_v3", "--secret-stdin", stdin=HUBSPOT_SECRET + "\n"
    )
    url = intake.signed_url("hubspot-raw")
    body = json.dumps(_request("hubspot-raw-1")).encode()
    plain = {"Content-Type": "application/json"}
    good = hubspot_v3_headers(HUBSPOT_SECRET, url, body)
    assert httpx.post(url, content=body, headers={**plain, **good}).status_code == 202
    bad = hubspot_v3_headers("not-the-client-secret-at-all", url, body)
    _assert_problem(httpx.post(url, content=body, headers={**plain, **bad}), 401)
    stale = hubspot_v3_headers(HUBSPOT_SECRET, url, body, at=time.time() - 301)
    assert (
        "5 minutes"
        in _assert_problem(httpx.post(url, content=body, headers={**plain, **stale}), 401)["detail"]
    )

    secret = intake.add_source("typeform-raw", "--auth", "typeform")
    url = intake.signed_url("typeform-raw")
    body = json.dumps(_request("typeform-raw-1")).encode()
    good = typeform_headers(secret, body)
    assert httpx.post(url, content=body, headers={**plain, **good}).status_code == 202
    bad = typeform_headers("another-typeform-secret-xyz", body)
    _assert_problem(httpx.post(url, content=body, headers={**plain, **bad}), 401)
    # A signature source can't be used without its signature, and a key can't reach it.
    _assert_problem(httpx.post(url, content=body, headers=plain), 401)


# -- booking ----------------------------------------------------------------------------------


def test_a_batch_of_50_with_7_invalid_books_the_43_and_names_the_7(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    items = [_request(f"batch-{n:02d}") for n in range(50)]
    invalid = {
        3: "invitee.timezone",
        9: "invitee.email",
        17: "event_type",
        22: "window.days",
        30: "event_guests",
        41: "location.kind",
        48: "invitee",
    }
    items[3]["invitee"]["timezone"] = "Central Time"
    items[9]["invitee"]["email"] = "not-an-email"
    items[17]["event_type"] = 42
    items[22]["window"] = {"days": ["someday"]}
    items[30]["event_guests"] = [f"g{n}@example.com" for n in range(11)]
    items[41]["location"] = {"kind": "carrier-pigeon"}
    del items[48]["invitee"]
    response = intake.post(items, key=key)
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["request_id"] for r in results] == [i["request_id"] for i in items]
    for index, result in enumerate(results):
        if index in invalid:
            assert result["http_status"] == 422
            assert result["status"] == "invalid"
            assert any(p["field"].startswith(invalid[index]) for p in result["problems"]), result
        else:
            assert result["http_status"] == 202
            assert result["status"] == "received"
    valid_ids = [i["request_id"] for n, i in enumerate(items) if n not in invalid]
    rows = stack.wait_terminal(valid_ids, timeout=240)
    assert {str(r.status) for r in rows} == {"booked"}
    booked_emails = {b["email"] for b in stack.admin.ledger() if b["status"] == "active"}
    assert {f"{rid}@example.com" for rid in valid_ids} <= booked_emails
    assert not any(f"batch-{n:02d}@example.com" in booked_emails for n in invalid)


def test_the_same_body_is_200_another_body_409_and_other_sources_see_nothing(
    intake: Intake, key: str
) -> None:
    first = intake.post(_request("idem-1"), key=key)
    assert first.status_code == 202
    assert first.json()["status_url"].endswith("/v1/bookings/idem-1")
    again = intake.post(_request("idem-1"), key=key)
    assert again.status_code == 200
    assert again.json()["request_id"] == "idem-1"
    changed = intake.post(_request("idem-1", prefer="latest"), key=key)
    assert _assert_problem(changed, 409)["request_id"] == "idem-1"
    stranger = intake.add_source("stranger")
    _assert_problem(intake.get("idem-1", stranger), 404)
    _assert_problem(intake.cancel("idem-1", stranger), 404)
    taken = _assert_problem(intake.post(_request("idem-1"), key=stranger), 409)
    assert "Ada" not in json.dumps(taken)
    shown = intake.get("idem-1", key)
    assert shown.status_code == 200
    assert shown.json()["log"][0]["kind"] == "received"


def _event_type_slug(stack: ProxiedStack, uri: str) -> str:
    response = httpx.get(uri, headers={"Authorization": "Bearer sandbox-token"}, timeout=10)
    slug: str = response.json()["resource"]["slug"]
    return slug


@pytest.mark.parametrize(
    ("example", "auth", "slug", "tracking"),
    [
        (
            "hubspot-workflow",
            "hubspot_v3",
            "demo",
            {"utm_source": "hubspot", "utm_campaign": "q4-enterprise-push"},
        ),
        (
            "salesforce-flow",
            "api_key",
            "demo",
            {"utm_source": "salesforce", "salesforce_uuid": "00Q5e00000AbCdEEAZ"},
        ),
        (
            "typeform",
            "typeform",
            "sales-round-robin",
            {"utm_source": "newsletter", "utm_campaign": "winter-webinar"},
        ),
        ("website-form", "api_key", "demo", {"utm_source": "website"}),
    ],
)
def test_each_shipped_mapping_books_its_payload_with_its_tracking(
    intake: Intake,
    stack: ProxiedStack,
    example: str,
    auth: str,
    slug: str,
    tracking: dict[str, str],
) -> None:
    name = f"example-{example}"
    args = ["--auth", auth, "--mapping", str(EXAMPLES / f"{example}.yaml")]
    stdin = None
    if auth == "hubspot_v3":
        args.append("--secret-stdin")
        stdin = HUBSPOT_SECRET + "\n"
    secret = intake.add_source(name, *args, stdin=stdin)
    tested = stack.cli("sources", "test", name, str(EXAMPLES / f"{example}.json"))
    assert tested.returncode == 0, tested.stdout
    request_id = json.loads(tested.stdout)["request"]["request_id"]
    body = (EXAMPLES / f"{example}.json").read_bytes()
    url = f"{intake.url}/v1/bookings"
    headers = {"Content-Type": "application/json"}
    if auth == "api_key":
        headers["Authorization"] = f"Bearer {secret}"
    else:
        url = intake.signed_url(name)
        if auth == "hubspot_v3":
            headers.update(hubspot_v3_headers(secret, url, body))
        else:
            headers.update(typeform_headers(secret, body))
    response = httpx.post(url, content=body, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    assert response.json()["request_id"] == request_id
    row = _wait_status(stack, request_id, "booked", timeout=90)
    assert row.event_type_uri is not None
    assert _event_type_slug(stack, row.event_type_uri) == slug
    (booking,) = [b for b in stack.admin.ledger() if b["uri"] == row.invitee_uri]
    for field, value in tracking.items():
        assert booking["tracking"][field] == value


def test_cancel_before_booking_withdraws_and_nothing_is_sent(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    later = (datetime.now(UTC) + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    assert intake.post(_request("withdrawn-1", start_after=later), key=key).status_code == 202
    answer = intake.cancel("withdrawn-1", key, reason="lead went cold")
    assert answer.status_code == 202
    assert answer.json()["status"] == "canceled"
    assert intake.cancel("withdrawn-1", key).status_code == 202  # repeating is harmless
    time.sleep(22)  # past start_after, and several dispatcher ticks
    assert str(stack.row("withdrawn-1").status) == "canceled"
    assert not [b for b in stack.admin.ledger() if b["email"] == "withdrawn-1@example.com"]


def test_cancel_after_booking_cancels_at_calendly_once_even_when_repeated(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    assert intake.post(_request("cancel-after-1"), key=key).status_code == 202
    booked = _wait_status(stack, "cancel-after-1", "booked")
    answers = [intake.cancel("cancel-after-1", key, reason="customer asked") for _ in range(3)]
    assert {a.status_code for a in answers} == {202}
    _wait_status(stack, "cancel-after-1", "canceled")
    for _ in range(2):  # and once more after it is canceled
        assert intake.cancel("cancel-after-1", key).status_code == 202
    time.sleep(2)
    (booking,) = [b for b in stack.admin.ledger() if b["uri"] == booked.invitee_uri]
    assert booking["status"] == "canceled"
    cancellations = [
        s
        for s in stack.admin.stats()
        if s["method"] == "POST" and s["path"].endswith("/cancellation")
    ]
    assert sum(s["count"] for s in cancellations) == 1
    assert str(stack.row("cancel-after-1").status) == "canceled"


def test_the_hostile_corpus_is_answered_without_a_5xx_and_recorded(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    answered: dict[str, int] = {}
    for label, raw, _field in HOSTILE_CASES:
        response = intake.post(json.dumps(raw).encode(), key=key)
        answered[label] = response.status_code
        if label in NOT_JSON_CASES:
            assert response.status_code == 400, label
            continue
        assert response.status_code in (202, 409, 422), (label, response.text[:300])
        body = response.json()
        if response.status_code == 422:
            assert body["problems"], label
        shown = intake.get(body["request_id"], key) if "request_id" in body else None
        assert shown is None or shown.status_code == 200, label
    generated = [raw for _label, raw in generated_cases()]
    batch: list[Any] = []
    for raw in [*generated, None]:
        if raw is not None and len(batch) < 400:
            batch.append(raw)
            continue
        response = intake.post(batch, key=key)
        assert response.status_code == 207, response.text[:300]
        results = response.json()["results"]
        assert len(results) == len(batch)
        assert all(r["http_status"] < 500 for r in results)
        batch = [] if raw is None else [raw]
    assert all(status < 500 for status in answered.values())


def test_no_secret_and_no_email_reaches_the_intake_log(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    intake.post(_request("log-check"), key=key + "-wrong")
    intake.post(_request("log-check-2"), key=key)
    log = (stack.data_dir / "logs" / "serve.log").read_text(errors="replace")
    assert "refused POST /v1/bookings: 401" in log
    assert key not in log
    assert HUBSPOT_SECRET not in log
    assert "@example.com" not in log
