"""Users and event types: resources, URIs on the request's base URL, filters, sort, pagination."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.seeds import (
    OWNER_EMAIL,
    event_type_uri,
    many_event_types_seed,
    organization_uri,
    user_uri,
)
from tests.support.sandbox import FakeClock, calendly_client

NOT_FOUND = {
    "title": "Resource Not Found",
    "message": "The server could not find the requested resource.",
}


def test_users_me_is_the_token_owner(client: httpx.Client, sandbox: SandboxServer) -> None:
    user = client.get("/users/me").json()["resource"]
    assert user["uri"] == user_uri(sandbox.url, OWNER_EMAIL)
    assert user["email"] == OWNER_EMAIL
    assert user["timezone"] == "America/New_York"
    assert user["scheduling_url"] == "https://calendly.com/nina-owner"
    assert user["current_organization"] == organization_uri(sandbox.url)
    assert client.get(user["uri"]).json()["resource"] == user


def test_another_member_by_uuid(client: httpx.Client, sandbox: SandboxServer) -> None:
    leo = client.get(user_uri(sandbox.url, "leo@test.example")).json()["resource"]
    assert (leo["name"], leo["timezone"]) == ("Leo London", "Europe/London")


@pytest.mark.parametrize("uuid", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "ME"])
def test_an_unknown_user_is_not_found(client: httpx.Client, uuid: str) -> None:
    response = client.get(f"/users/{uuid}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_uris_follow_the_host_the_request_came_in_on(sandbox: SandboxServer) -> None:
    localhost = sandbox.url.replace("127.0.0.1", "localhost")
    with calendly_client(localhost) as client:
        assert client.get("/users/me").json()["resource"]["uri"].startswith(f"{localhost}/users/")


def _list(client: httpx.Client, **params: Any) -> httpx.Response:
    return client.get("/event_types", params=params)


def test_event_types_of_the_organization_sorted_by_name(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    body = _list(client, organization=organization_uri(sandbox.url), count=100).json()
    names = [event_type["name"] for event_type in body["collection"]]
    assert names == sorted(names, key=str.casefold)
    assert len(names) == 16
    assert body["pagination"] == {
        "count": 16,
        "next_page": None,
        "previous_page": None,
        "next_page_token": None,
        "previous_page_token": None,
    }


def test_an_event_type_resource_in_full(client: httpx.Client, sandbox: SandboxServer) -> None:
    resource = client.get(event_type_uri(sandbox.url, "questions")).json()["resource"]
    assert resource["uri"] == event_type_uri(sandbox.url, "questions")
    assert resource["scheduling_url"] == "https://calendly.com/nina-owner/questions"
    assert (resource["kind"], resource["pooling_type"], resource["duration"]) == ("solo", None, 30)
    assert resource["profile"] == {
        "type": "User",
        "name": "Nina Owner",
        "owner": user_uri(sandbox.url, OWNER_EMAIL),
    }
    assert [q["name"] for q in resource["custom_questions"]] == [
        "Company Name",
        "Team size",
        "Phone Number",
        "Notes",
        "Retired question",
    ]
    assert resource["custom_questions"][1]["answer_choices"] == ["1-10", "11-50", "51+"]
    assert resource["locations"] is None
    round_robin = client.get(event_type_uri(sandbox.url, "round-robin")).json()["resource"]
    assert round_robin["pooling_type"] == "round_robin"
    assert round_robin["profile"]["type"] == "Team"
    assert round_robin["locations"] == [{"kind": "zoom_conference"}]
    group = client.get(event_type_uri(sandbox.url, "group")).json()["resource"]
    assert (group["kind"], group["kind_description"]) == ("group", "Group")


def test_event_types_filtered_by_user_and_active(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    leo = user_uri(sandbox.url, "leo@test.example")
    slugs = {event_type["slug"] for event_type in _list(client, user=leo).json()["collection"]}
    assert slugs == {"physical", "inbound", "round-robin", "collective"}
    inactive = _list(client, organization=organization_uri(sandbox.url), active="false").json()[
        "collection"
    ]
    assert [event_type["slug"] for event_type in inactive] == ["inactive"]


def test_event_types_sort_by_position_descending(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    found = _list(
        client, organization=organization_uri(sandbox.url), sort="position:desc", count=3
    ).json()
    assert [event_type["position"] for event_type in found["collection"]] == [15, 14, 13]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"count": "0"}, "count"),
        ({"count": "101"}, "count"),
        ({"count": "ten"}, "count"),
        ({"count": "99999999999999999999999"}, "count"),
        ({"sort": "color:asc"}, "sort"),
        ({"active": "yes"}, "active"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"user": "leo"}, "user"),
    ],
)
def test_bad_list_parameters_are_named(
    client: httpx.Client, sandbox: SandboxServer, params: dict[str, str], parameter: str
) -> None:
    response = _list(client, organization=organization_uri(sandbox.url), **params)
    assert response.status_code == 400
    assert parameter in [item["parameter"] for item in response.json()["details"]]


def test_a_list_needs_user_or_organization(client: httpx.Client) -> None:
    response = _list(client)
    assert response.status_code == 400
    assert [item["parameter"] for item in response.json()["details"]] == ["organization", "user"]


def test_another_organization_or_user_is_refused(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    other_org = f"{sandbox.url}/organizations/00000000-0000-0000-0000-000000000000"
    assert _list(client, organization=other_org).json() == {
        "title": "Permission Denied",
        "message": "You do not have permission to access this resource.",
    }
    stranger = f"{sandbox.url}/users/00000000-0000-0000-0000-000000000000"
    assert _list(client, user=stranger).json() == {
        "title": "Permission Denied",
        "message": "This user is not in your organization",
    }


def test_an_unknown_event_type_is_not_found(client: httpx.Client, sandbox: SandboxServer) -> None:
    for uuid in ("00000000-0000-0000-0000-000000000000", "garbage"):
        response = client.get(f"/event_types/{uuid}")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


@pytest.fixture(scope="module")
def big_sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(seed=many_event_types_seed(230), clock=clock) as server:
        yield server


def test_pagination_walks_more_than_a_hundred_event_types(big_sandbox: SandboxServer) -> None:
    organization = f"{big_sandbox.url}/organizations/" + big_sandbox.state.store.organization.uuid
    with calendly_client(big_sandbox.url) as client:
        pages = []
        response = _list(client, organization=organization, count=100)
        while True:
            body = response.json()
            pages.append(body)
            if body["pagination"]["next_page"] is None:
                break
            assert body["pagination"]["next_page_token"] in body["pagination"]["next_page"]
            response = client.get(body["pagination"]["next_page"])
        names = [event_type["name"] for page in pages for event_type in page["collection"]]
        assert [page["pagination"]["count"] for page in pages] == [100, 100, 30]
        assert names == [f"Type {index:03d}" for index in range(230)]
        assert pages[0]["pagination"]["previous_page"] is None
        assert pages[-1]["pagination"]["next_page_token"] is None
        # Walking back from the last page gives the middle page again.
        previous = client.get(pages[-1]["pagination"]["previous_page"]).json()
        assert previous["collection"] == pages[1]["collection"]


def test_page_tokens_are_opaque_and_bound_to_their_query(big_sandbox: SandboxServer) -> None:
    organization = f"{big_sandbox.url}/organizations/" + big_sandbox.state.store.organization.uuid
    with calendly_client(big_sandbox.url) as client:
        first = _list(client, organization=organization, count=20).json()
        token = first["pagination"]["next_page_token"]
        assert "20" not in token
        second = _list(client, organization=organization, count=20, page_token=token).json()
        assert second["collection"][0]["name"] == "Type 020"
        active_only = _list(
            client, organization=organization, count=20, active="true", page_token=token
        )
        assert active_only.status_code == 400
        assert active_only.json()["details"] == [
            {"parameter": "page_token", "message": "is invalid"}
        ]
