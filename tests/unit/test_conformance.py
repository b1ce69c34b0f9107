"""Unit tests of the conformance checker (tests/support/conformance.py).

Fixtures are the spec's own examples (openapi.yaml), the real captures quoted in API-NOTES §2.5/§2.6
and hand-made wrong bodies. The schemas are compiled once per process by the checker's cache.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS31Validator

from tests.support import conformance
from tests.support.conformance import (
    PATCHES,
    calendly_documents_dir,
    covered_operations,
    validate_response,
    validate_schema,
)

EVENT_UUID = "cdd4c933-653b-4373-937a-3f9b08111a4a"
INVITEE_UUID = "8b5e2bc5-52bb-4dc1-8ad0-41ef0d6084b8"
API = "https://api.calendly.com"
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"

# The real 201 body of POST /invitees (API-NOTES §2.5, live capture S5).
CAPTURED_INVITEE: dict[str, Any] = {
    "cancel_url": f"https://calendly.com/cancellations/{INVITEE_UUID}",
    "created_at": "2026-08-22T17:13:17.150860Z",
    "email": "lduncan@example.com",
    "event": f"{API}/scheduled_events/{EVENT_UUID}",
    "first_name": "Levi",
    "invitee_scheduled_by": f"{API}/users/a613a1bb-a118-46c0-b518-7d2795909c2c",
    "last_name": "Duncan",
    "name": "Levi Duncan",
    "new_invitee": None,
    "no_show": None,
    "old_invitee": None,
    "payment": None,
    "questions_and_answers": [],
    "reconfirmation": None,
    "reschedule_url": f"https://calendly.com/reschedulings/{INVITEE_UUID}",
    "rescheduled": False,
    "routing_form_submission": None,
    "scheduling_method": "api",
    "status": "active",
    "text_reminder_number": None,
    "timezone": "America/Chicago",
    "tracking": {
        "utm_campaign": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_content": None,
        "utm_term": None,
        "salesforce_uuid": None,
    },
    "updated_at": "2026-08-22T17:13:17.150860Z",
    "uri": f"{API}/scheduled_events/{EVENT_UUID}/invitees/{INVITEE_UUID}",
}

# An Event shaped like the real capture of GET /scheduled_events/{uuid} (API-NOTES §2.6, S5).
CAPTURED_EVENT: dict[str, Any] = {
    "uri": f"{API}/scheduled_events/{EVENT_UUID}",
    "name": "30 Minute Meeting",
    "meeting_notes_plain": None,
    "meeting_notes_html": "",
    "status": "active",
    "start_time": "2026-09-01T14:00:00.000000Z",
    "end_time": "2026-09-01T14:30:00.000000Z",
    "event_type": f"{API}/event_types/9ac0b557-1840-4846-b35b-cc457712510b",
    "location": {
        "type": "zoom",
        "status": "pushed",
        "join_url": "https://us06web.zoom.us/j/82003739767",
        "data": {"id": 82003739767, "password": "secret"},
    },
    "invitees_counter": {"active": 1, "limit": 1, "total": 1},
    "created_at": "2026-08-22T17:13:17.150860Z",
    "updated_at": "2026-08-22T17:13:17.150860Z",
    "event_memberships": [
        {
            "user": f"{API}/users/a613a1bb-a118-46c0-b518-7d2795909c2c",
            "user_email": "host@example.com",
            "user_name": "Host",
        }
    ],
    "event_guests": [],
    "calendar_event": {"kind": "outlook", "external_id": "AAMkAGI2"},
}

PAGINATION_LAST_PAGE: dict[str, Any] = {
    "count": 20,
    "next_page": None,
    "previous_page": None,
    "next_page_token": None,
    "previous_page_token": None,
}

SLOT_TAKEN: dict[str, Any] = {
    "title": "Invalid Argument",
    "message": "The supplied parameters are invalid.",
    "details": [
        {
            "parameter": "event.start_time",
            "message": "That start time has been filled",
            "code": "already_filled",
        }
    ],
}


def _spec_2023() -> dict[str, Any]:
    with (calendly_documents_dir() / "openapi.yaml").open(encoding="utf-8") as stream:
        document: dict[str, Any] = yaml.safe_load(stream)
    return document


SPEC_2023 = _spec_2023()


def _example(template: str, method: str, status: str, name: str) -> Any:
    response = SPEC_2023["paths"][template][method]["responses"][status]
    return copy.deepcopy(response["content"]["application/json"]["examples"][name]["value"])


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", EVENT_UUID, template)


def _violations(excinfo: pytest.ExceptionInfo[AssertionError]) -> str:
    return str(excinfo.value)


# --- spec examples that are valid pass ---------------------------------------------------------

EXAMPLES_THAT_CONFORM = [
    ("/users/me", "get", "200", "Example"),
    ("/users/{uuid}", "get", "200", "Example"),
    ("/event_type_available_times", "get", "200", "Example"),
    ("/scheduled_events", "get", "200", "Example"),
    ("/scheduled_events/{uuid}", "get", "200", "Example"),
    ("/event_types", "get", "403", "Caller does not have access"),
    ("/scheduled_events", "get", "403", "Caller requests alternate user within organization"),
    ("/scheduled_events/{uuid}", "get", "403", "Caller is not the event owner"),
    ("/scheduled_events/{uuid}/invitees", "get", "403", "Caller is not the event owner"),
    ("/scheduled_events/{event_uuid}/invitees/{invitee_uuid}", "get", "403", "Unauthorized"),
]


@pytest.mark.parametrize(("template", "method", "status", "name"), EXAMPLES_THAT_CONFORM)
def test_spec_example_conforms(template: str, method: str, status: str, name: str) -> None:
    body = _example(template, method, status, name)
    validate_response(method.upper(), _concrete(template), int(status), body)


@pytest.mark.parametrize(
    ("template", "status", "name", "schema_name", "missing_2026_field"),
    [
        ("/event_types", "200", "Example", "EventType", "locations"),
        ("/event_types/{uuid}", "200", "Example", "EventType", "locale"),
        ("/scheduled_events/{uuid}/invitees", "200", "Example", "Invitee", "scheduling_method"),
    ],
)
def test_2023_resource_examples_are_judged_by_the_2026_schemas(
    template: str, status: str, name: str, schema_name: str, missing_2026_field: str
) -> None:
    body = _example(template, "get", status, name)
    resources = body["collection"] if "collection" in body else [body["resource"]]
    for resource in resources:
        validate_schema(schema_name, resource, source="2023")
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", _concrete(template), int(status), body)
    assert f"'{missing_2026_field}' is a required property" in _violations(excinfo)


def test_real_captured_invitee_conforms_to_post_invitees_201() -> None:
    validate_response("POST", "/invitees", 201, {"resource": CAPTURED_INVITEE})


def test_real_captured_event_with_zoom_location_conforms() -> None:
    validate_response("GET", f"/scheduled_events/{EVENT_UUID}", 200, {"resource": CAPTURED_EVENT})


def test_event_list_with_last_page_pagination_conforms() -> None:
    body = {"collection": [CAPTURED_EVENT], "pagination": PAGINATION_LAST_PAGE}
    validate_response("GET", "/scheduled_events", 200, body)


UNAUTHENTICATED = {"title": "Unauthenticated", "message": "The access token is invalid"}
INVALID_ARGUMENT = {"title": "Invalid Argument", "message": "The supplied parameters are invalid."}
NOT_FOUND = {
    "title": "Resource Not Found",
    "message": "The server could not find the requested resource.",
}
ALREADY_CANCELED = {"title": "Permission Denied", "message": "Event is already canceled"}
INTERNAL_ERROR = {
    "title": "Internal Server Error",
    "message": "The server encountered an unexpected condition that prevented it from fulfilling "
    "the request.",
}
CANCELLATION = {
    "resource": {
        "canceled_by": "Host",
        "reason": None,
        "canceler_type": "host",
        "created_at": "2026-08-22T17:13:17.150860Z",
    }
}
CANCELLATION_PATH = f"/scheduled_events/{EVENT_UUID}/cancellation"


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("POST", "/invitees", 400, SLOT_TAKEN),
        ("POST", "/invitees", 401, UNAUTHENTICATED),
        ("POST", "/invitees", 500, INTERNAL_ERROR),
        ("GET", "/users/me", 401, UNAUTHENTICATED),
        ("GET", "/event_types", 400, INVALID_ARGUMENT),
        ("GET", f"/event_types/{EVENT_UUID}", 404, NOT_FOUND),
        ("POST", CANCELLATION_PATH, 403, ALREADY_CANCELED),
        ("POST", CANCELLATION_PATH, 201, CANCELLATION),
    ],
)
def test_api_notes_bodies_conform(method: str, path: str, status: int, body: object) -> None:
    validate_response(method, path, status, body)


# --- wrong bodies fail with a clear message ----------------------------------------------------


def test_pagination_missing_next_page_token_names_the_path() -> None:
    pagination = {
        key: value for key, value in PAGINATION_LAST_PAGE.items() if key != "next_page_token"
    }
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", "/event_types", 200, {"collection": [], "pagination": pagination})
    assert "$.pagination: 'next_page_token' is a required property" in _violations(excinfo)


def test_invitee_missing_scheduling_method_names_the_path() -> None:
    invitee = {key: value for key, value in CAPTURED_INVITEE.items() if key != "scheduling_method"}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("POST", "/invitees", 201, {"resource": invitee})
    assert "$.resource: 'scheduling_method' is a required property" in _violations(excinfo)


def test_invitee_in_a_collection_is_judged_by_the_2026_schema() -> None:
    invitee = {key: value for key, value in CAPTURED_INVITEE.items() if key != "scheduling_method"}
    body = {"collection": [CAPTURED_INVITEE, invitee], "pagination": PAGINATION_LAST_PAGE}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", f"/scheduled_events/{EVENT_UUID}/invitees", 200, body)
    assert "$.collection[1]: 'scheduling_method' is a required property" in _violations(excinfo)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/invitees", 400), ("GET", "/event_types", 400), ("GET", "/users/me", 404)],
)
def test_error_body_missing_title_fails(method: str, path: str, status: int) -> None:
    with pytest.raises(AssertionError) as excinfo:
        validate_response(method, path, status, {"message": "The supplied parameters are invalid."})
    assert "$: 'title' is a required property" in _violations(excinfo)


def test_wrong_enum_value_is_reported_with_allowed_values() -> None:
    invitee = {**CAPTURED_INVITEE, "status": "cancelled"}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("POST", "/invitees", 201, {"resource": invitee})
    assert "$.resource.status: 'cancelled' is not one of ['active', 'canceled']" in _violations(
        excinfo
    )


def test_junk_title_enum_of_post_invitees_is_replaced_by_the_real_title() -> None:
    wrong_title = {**SLOT_TAKEN, "title": "Internal Server Error"}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("POST", "/invitees", 400, wrong_title)
    assert "$.title: 'Internal Server Error' is not one of ['Invalid Argument']" in _violations(
        excinfo
    )


@pytest.mark.parametrize("message", ["The access token is invalid", "The access token is expired"])
def test_real_unauthenticated_messages_pass_despite_the_scalar_enum(message: str) -> None:
    validate_response("GET", "/users/me", 401, {"title": "Unauthenticated", "message": message})


@pytest.mark.parametrize("message", ["T", "token", "Invalid token"])
def test_other_unauthenticated_messages_fail(message: str) -> None:
    body = {"title": "Unauthenticated", "message": message}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", "/users/me", 401, body)
    assert f"$.message: {message!r} is not one of" in _violations(excinfo)


def test_spec_zoom_conference_type_is_rejected_in_favour_of_real_zoom() -> None:
    location = {**CAPTURED_EVENT["location"], "type": "zoom_conference"}
    body = {"resource": {**CAPTURED_EVENT, "location": location}}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", f"/scheduled_events/{EVENT_UUID}", 200, body)
    assert "$.resource.location.type: 'zoom_conference' is not one of" in _violations(excinfo)
    assert "'zoom'" in _violations(excinfo)


def test_event_location_without_its_required_field_is_explained_by_the_nearest_branch() -> None:
    body = {"resource": {**CAPTURED_EVENT, "location": {"type": "physical"}}}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", f"/scheduled_events/{EVENT_UUID}", 200, body)
    assert "$.resource.location: 'location' is a required property" in _violations(excinfo)


def test_every_violation_is_listed_not_only_the_first() -> None:
    invitee = {**CAPTURED_INVITEE, "status": "cancelled", "rescheduled": "no"}
    with pytest.raises(AssertionError) as excinfo:
        validate_response("POST", "/invitees", 201, {"resource": invitee})
    message = _violations(excinfo)
    assert "2 violation(s)" in message
    assert "$.resource.rescheduled" in message
    assert "$.resource.status" in message


@pytest.mark.parametrize(
    ("field", "value", "format_name"),
    [
        ("created_at", "2026-08-22 17:13", "date-time"),
        ("created_at", "2026-08-22T17:13:17", "date-time"),  # no offset: not RFC 3339
        ("cancel_url", "not a url", "uri"),
        ("cancel_url", "https://", "uri"),
        ("email", "lduncan.example.com", "email"),
    ],
)
def test_formats_are_checked(field: str, value: str, format_name: str) -> None:
    with pytest.raises(AssertionError) as excinfo:
        validate_response(
            "POST", "/invitees", 201, {"resource": {**CAPTURED_INVITEE, field: value}}
        )
    assert f"$.resource.{field}: {value!r} is not a {format_name!r}" in _violations(excinfo)


def test_nullable_2023_field_accepts_null_and_rejects_other_types() -> None:
    user = copy.deepcopy(_example("/users/me", "get", "200", "Example"))
    user["resource"]["avatar_url"] = None
    validate_response("GET", "/users/me", 200, user)
    user["resource"]["avatar_url"] = 7
    with pytest.raises(AssertionError) as excinfo:
        validate_response("GET", "/users/me", 200, user)
    assert "$.resource.avatar_url: 7 is not of type 'string', 'null'" in _violations(excinfo)


def test_nullable_enum_of_2023_accepts_null() -> None:
    event_type = _example("/event_types/{uuid}", "get", "200", "Example")["resource"]
    event_type["pooling_type"] = None
    event_type["profile"] = None
    validate_schema("EventType", event_type, source="2023")
    event_type["pooling_type"] = "multi_pool"  # only in the 2026 enum
    with pytest.raises(AssertionError, match=r"\$\.pooling_type"):
        validate_schema("EventType", event_type, source="2023")


def test_pagination_x_example_of_the_spec_itself_is_incomplete() -> None:
    example = SPEC_2023["components"]["schemas"]["Pagination"]["x-examples"]["Example"]
    with pytest.raises(AssertionError, match="'next_page_token' is a required property"):
        validate_schema("Pagination", example, source="2023")


def test_validate_schema_rejects_an_unknown_schema_name() -> None:
    with pytest.raises(ValueError, match="NoSuchThing"):
        validate_schema("NoSuchThing", {}, source="2026")


# --- operations, templates, allow-list ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/users/me", "/users/me"),
        ("GET", f"/users/{EVENT_UUID}", "/users/{uuid}"),
        ("GET", f"/event_types/{EVENT_UUID}", "/event_types/{uuid}"),
        ("GET", f"/scheduled_events/{EVENT_UUID}/invitees", "/scheduled_events/{uuid}/invitees"),
        (
            "GET",
            f"/scheduled_events/{EVENT_UUID}/invitees/{INVITEE_UUID}",
            "/scheduled_events/{event_uuid}/invitees/{invitee_uuid}",
        ),
        ("post", CANCELLATION_PATH, "/scheduled_events/{uuid}/cancellation"),
        ("GET", f"{API}/event_types?user={API}/users/x&count=100", "/event_types"),
    ],
)
def test_concrete_paths_map_to_their_template(method: str, path: str, template: str) -> None:
    operation = conformance._match(method.upper(), conformance._path_only(path))
    assert operation is not None
    assert operation.template == template


def test_users_me_resolves_to_the_literal_template_not_the_uuid_one() -> None:
    operation = conformance._match("GET", "/users/me")
    assert operation is not None
    assert operation.template == "/users/me"


def test_covered_operations_include_every_sandbox_endpoint() -> None:
    sandbox_endpoints = {
        ("GET", "/users/me"),
        ("GET", "/users/{uuid}"),
        ("GET", "/event_types"),
        ("GET", "/event_types/{uuid}"),
        ("GET", "/event_type_available_times"),
        ("POST", "/invitees"),
        ("GET", "/scheduled_events"),
        ("GET", "/scheduled_events/{uuid}"),
        ("GET", "/scheduled_events/{uuid}/invitees"),
        ("GET", "/scheduled_events/{event_uuid}/invitees/{invitee_uuid}"),
        ("POST", "/scheduled_events/{uuid}/cancellation"),
    }
    assert sandbox_endpoints <= covered_operations()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/invitees"), ("GET", "/event_types/a/b"), ("DELETE", "/users/me"), ("GET", "/nope")],
)
def test_unknown_endpoint_raises(method: str, path: str) -> None:
    with pytest.raises(AssertionError, match="no operation in the Calendly specs"):
        validate_response(method, path, 200, {})


def test_undescribed_status_raises() -> None:
    with pytest.raises(AssertionError, match="status not described"):
        validate_response("POST", "/invitees", 409, {"title": "Conflict", "message": "x"})


def test_status_429_is_allowed_without_a_documented_body() -> None:
    validate_response("POST", "/invitees", 429, {"anything": True})
    validate_response("GET", "/event_types", 429, None)


def test_sandbox_admin_paths_are_ignored() -> None:
    validate_response("GET", "/_sandbox/ledger", 200, {"collection": "not checked"})
    validate_response("PUT", "/_sandbox/faults", 418, None)


# --- the httpx hook ----------------------------------------------------------------------------


def _client(status: int, content: bytes, content_type: str = "application/json") -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"Content-Type": content_type})

    return httpx.Client(
        base_url="http://sandbox.test",
        transport=httpx.MockTransport(handler),
        event_hooks={"response": [conformance.conformance_hook]},
    )


def test_hook_passes_a_conforming_response() -> None:
    with _client(201, json.dumps({"resource": CAPTURED_INVITEE}).encode()) as client:
        assert client.post("/invitees", json={}).status_code == 201


def test_hook_fails_a_non_conforming_response() -> None:
    with (
        _client(200, json.dumps({"collection": []}).encode()) as client,
        pytest.raises(AssertionError, match="'pagination' is a required property"),
    ):
        client.get("/event_types")


def test_hook_fails_a_body_that_is_not_json() -> None:
    with (
        _client(500, b"<html>Internal Server Error</html>", "text/html") as client,
        pytest.raises(AssertionError, match="body is not JSON"),
    ):
        client.get("/users/me")


async def _async_round_trip() -> int:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"resource": CAPTURED_INVITEE})

    async with httpx.AsyncClient(
        base_url="http://sandbox.test",
        transport=httpx.MockTransport(handler),
        event_hooks={"response": [conformance.async_conformance_hook]},
    ) as client:
        return (await client.post("/invitees", json={})).status_code


def test_async_hook_validates_async_client_responses() -> None:
    import asyncio

    assert asyncio.run(_async_round_trip()) == 201


# --- patches and the documents -----------------------------------------------------------------


def test_every_patch_is_documented() -> None:
    documentation = DOCS_PATH.read_text(encoding="utf-8")
    undocumented = [
        patch.patch_id for patch in PATCHES if f"`{patch.patch_id}`" not in documentation
    ]
    assert undocumented == []


def test_every_allowance_is_documented() -> None:
    documentation = DOCS_PATH.read_text(encoding="utf-8")
    for method, template, status in conformance.ALLOWED_UNDESCRIBED:
        assert f"`{method} {template} {status}`" in documentation


def test_a_changed_upstream_value_makes_its_patch_fail_loudly() -> None:
    document = {
        "components": {"schemas": {"ZoomConference": {"properties": {"type": {"enum": ["x"]}}}}}
    }
    zoom_patch = next(patch for patch in PATCHES if patch.patch_id == "zoom-location-type")
    with pytest.raises(RuntimeError, match="zoom-location-type"):
        conformance._apply(document, zoom_patch)


def test_patched_documents_are_valid_openapi_31_schemas() -> None:
    registry = conformance._catalog().registry
    for uri in conformance.SOURCE_URIS.values():
        for schema in registry.contents(uri)["components"]["schemas"].values():
            OAS31Validator.check_schema(schema)
