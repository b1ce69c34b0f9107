"""The organization, its memberships and roles, scoped tokens, and `sort=name` with no direction.

What `autobook check` asks the sandbox: the organization that `current_organization` names, the
caller's role from `GET /organization_memberships`, and what a token that lacks a scope or whose
user is no admin is answered (Calendly's 403 bodies, API-NOTES §3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from autobook.sandbox.seed import SeedError, parse_seed
from autobook.sandbox.server import SandboxServer
from tests.sandbox.seeds import LONDON_EMAIL, NOW, OWNER_EMAIL, base_seed, organization_uri
from tests.sandbox.seeds import user_uri as seed_user_uri
from tests.support.sandbox import FakeClock, calendly_client

NO_WRITE_TOKEN = "token-without-write"
MEMBER_TOKEN = "token-of-a-plain-member"
ADMIN_TOKEN = "token-of-an-admin"
READ_SCOPES = ["users:read", "organizations:read", "event_types:read", "scheduled_events:read"]


def _seed() -> dict[str, Any]:
    seed = base_seed()
    seed["users"][2]["role"] = "admin"
    seed["tokens"] = [
        {"token": NO_WRITE_TOKEN, "user": OWNER_EMAIL, "scopes": READ_SCOPES},
        {"token": MEMBER_TOKEN, "user": LONDON_EMAIL},
        {"token": ADMIN_TOKEN, "user": seed["users"][2]["email"]},
    ]
    return seed


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=_seed(), clock=FakeClock(NOW)) as server:
        yield server


def _client(sandbox: SandboxServer, token: str | None = None) -> httpx.Client:
    # No schema validation: the 2023 OpenAPI has no GET /organizations/{uuid}.
    if token is None:
        return calendly_client(sandbox.url, validate=False)
    return calendly_client(sandbox.url, token, validate=False)


def test_the_organization_is_served_at_current_organization(sandbox: SandboxServer) -> None:
    with _client(sandbox) as client:
        me = client.get("/users/me").json()["resource"]
        organization = client.get(me["current_organization"]).json()["resource"]
    assert organization["uri"] == me["current_organization"] == organization_uri(sandbox.url)
    assert (organization["name"], organization["plan"], organization["stage"]) == (
        "Test Org",
        "enterprise",
        "paid",
    )


def test_another_organization_is_not_found(sandbox: SandboxServer) -> None:
    with _client(sandbox) as client:
        response = client.get("/organizations/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404


def test_memberships_give_each_members_role(sandbox: SandboxServer) -> None:
    with _client(sandbox) as client:
        response = client.get(
            "/organization_memberships", params={"organization": organization_uri(sandbox.url)}
        )
    assert response.status_code == 200
    body = response.json()
    roles = {m["user"]["email"]: m["role"] for m in body["collection"]}
    assert roles == {OWNER_EMAIL: "owner", LONDON_EMAIL: "user", "sam@test.example": "admin"}
    assert body["pagination"]["next_page_token"] is None
    assert all(m["organization"] == organization_uri(sandbox.url) for m in body["collection"])


def test_memberships_filter_by_user(sandbox: SandboxServer) -> None:
    with _client(sandbox, MEMBER_TOKEN) as client:
        me = client.get("/users/me").json()["resource"]
        found = client.get("/organization_memberships", params={"user": me["uri"]}).json()
    assert me["email"] == LONDON_EMAIL
    assert [(m["user"]["uri"], m["role"]) for m in found["collection"]] == [
        (seed_user_uri(sandbox.url, LONDON_EMAIL), "user")
    ]


def test_a_token_without_a_scope_gets_insufficient_scope_naming_it(
    sandbox: SandboxServer,
) -> None:
    with _client(sandbox, NO_WRITE_TOKEN) as client:
        assert client.get("/users/me").status_code == 200
        response = client.post(
            "/scheduled_events/00000000-0000-0000-0000-000000000000/cancellation", json={}
        )
        times = client.get(
            "/event_type_available_times", params={"event_type": "x", "start_time": "y"}
        )
    assert response.status_code == 403
    assert response.json() == {
        "title": "Insufficient scope",
        "message": "This operation requires the scopes listed in the 'required_scopes' array.",
        "required_scopes": ["scheduled_events:write"],
    }
    # Scopes are checked before the parameters: a bad query still gets the scope answer.
    assert times.status_code == 403
    assert times.json()["required_scopes"] == ["availability:read"]


def test_a_token_with_the_scope_reaches_the_handler(sandbox: SandboxServer) -> None:
    with _client(sandbox) as client:
        response = client.post(
            "/scheduled_events/00000000-0000-0000-0000-000000000000/cancellation", json={}
        )
    assert response.status_code == 404


def test_a_plain_member_cannot_list_the_organization_but_an_admin_can(
    sandbox: SandboxServer,
) -> None:
    params = {"organization": organization_uri(sandbox.url)}
    with _client(sandbox, MEMBER_TOKEN) as member, _client(sandbox, ADMIN_TOKEN) as admin:
        refused = member.get("/event_types", params=params)
        allowed = admin.get("/event_types", params=params)
    assert refused.status_code == 403
    assert refused.json()["title"] == "Permission Denied"
    assert allowed.status_code == 200


def test_only_the_main_token_opens_the_admin_api(sandbox: SandboxServer) -> None:
    with _client(sandbox, ADMIN_TOKEN) as client:
        assert client.get("/_sandbox/stats").status_code == 401
    with _client(sandbox) as client:
        assert client.get("/_sandbox/stats").status_code == 200


def test_sort_by_a_field_with_no_direction_means_ascending(sandbox: SandboxServer) -> None:
    params = {"organization": organization_uri(sandbox.url), "count": 100}
    with _client(sandbox) as client:
        bare = client.get("/event_types", params={**params, "sort": "name"})
        ascending = client.get("/event_types", params={**params, "sort": "name:asc"})
        descending = client.get("/event_types", params={**params, "sort": "name:desc"})
    assert bare.status_code == 200
    names = [et["name"] for et in bare.json()["collection"]]
    assert names == [et["name"] for et in ascending.json()["collection"]]
    assert names != [et["name"] for et in descending.json()["collection"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tokens": [{"token": "abcdefgh1", "user": "nobody@test.example"}]}, "no user"),
        ({"tokens": [{"token": "abcdefgh1", "user": OWNER_EMAIL, "scopes": ["x:y"]}]}, "scopes"),
    ],
)
def test_the_seed_refuses_a_token_for_nobody_or_an_unknown_scope(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(SeedError, match=message):
        parse_seed(base_seed() | change)


def test_the_seed_has_one_owner() -> None:
    seed = base_seed()
    seed["users"][1]["role"] = "owner"
    with pytest.raises(SeedError, match="only the first user is the owner"):
        parse_seed(seed)
