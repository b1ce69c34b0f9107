"""`/webhook_subscriptions`: create, list, read and delete (API-NOTES §2.9); no update.

A second subscription with the same callback URL is 409 "Already Exists" (a disabled one too:
it must be deleted, then made again). `organization` is required for every scope, and must be
this sandbox's; a `user` subscription names its user.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from . import render
from .errors import ApiError, detail, invalid, not_found
from .params import paginate
from .state import Call, json_response
from .timefmt import format_timestamp
from .webhooks import Subscription

EVENTS = (
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "routing_form_submission.created",
)
SCOPES = ("organization", "user", "group")
ALREADY_EXISTS = {"title": "Already Exists", "message": "Hook with this url already exists"}
DEFAULT_COUNT = 20


def _render(call: Call, record: Subscription) -> dict[str, Any]:
    return {
        "uri": f"{call.base}/webhook_subscriptions/{record.uuid}",
        "callback_url": record.callback_url,
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.updated_at),
        "retry_started_at": None
        if record.retry_started_at is None
        else format_timestamp(record.retry_started_at),
        "state": record.state,
        "events": list(record.events),
        "scope": record.scope,
        "organization": record.organization,
        "user": record.user,
        "group": None,
        "creator": record.creator,
    }


def _checked(call: Call, body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid()
    problems = []
    for name in ("url", "events", "organization", "scope"):
        if name not in body:
            problems.append(detail(name, "is missing"))
    url, events, scope = body.get("url"), body.get("events"), body.get("scope")
    if "url" in body and (not isinstance(url, str) or not url.startswith(("https://", "http://"))):
        problems.append(detail("url", "is not a valid URL"))
    if "events" in body and (
        not isinstance(events, list) or not events or any(e not in EVENTS for e in events)
    ):
        problems.append(detail("events", f"must be a list of: {', '.join(EVENTS)}"))
    if "scope" in body and scope not in SCOPES:
        problems.append(detail("scope", f"must be one of: {', '.join(SCOPES)}"))
    organization = render.organization_uri(call.base, call.store.organization)
    if "organization" in body and body.get("organization") != organization:
        problems.append(detail("organization", "is not this organization"))
    if scope == "user" and not isinstance(body.get("user"), str):
        problems.append(detail("user", "is missing"))
    key = body.get("signing_key")
    if key is not None and (not isinstance(key, str) or not key):
        problems.append(detail("signing_key", "must be a string"))
    if problems:
        raise invalid(problems)
    return body


async def create(call: Call) -> Response:
    body = _checked(call, await call.json_body())
    async with call.state.lock:
        hooks = call.state.webhooks
        if hooks.by_url(body["url"]) is not None:
            raise ApiError(409, dict(ALREADY_EXISTS))
        record = hooks.add(
            callback_url=body["url"],
            events=list(body["events"]),
            scope=body["scope"],
            organization=body["organization"],
            user=body.get("user") if body["scope"] == "user" else None,
            creator=render.user_uri(call.base, call.caller.user_uuid),
            signing_key=body.get("signing_key"),
            created_at=call.now,
            updated_at=call.now,
        )
    return json_response({"resource": _render(call, record)}, status=201)


async def list_all(call: Call) -> Response:
    params = call.params
    organization = render.organization_uri(call.base, call.store.organization)
    if params.get("organization") != organization or params.get("scope") not in SCOPES:
        raise invalid([detail("organization", "and scope are required")])
    found = [
        s
        for s in call.state.webhooks.subscriptions.values()
        if s.scope == params["scope"] and ("user" not in params or s.user == params["user"])
    ]
    found.sort(key=lambda s: (s.created_at, s.uuid))
    page, pagination = paginate(found, call.base, "/webhook_subscriptions", params, DEFAULT_COUNT)
    return json_response({"collection": [_render(call, s) for s in page], "pagination": pagination})


def _one(call: Call) -> Subscription:
    record = call.state.webhooks.subscriptions.get(str(call.request.path_params["uuid"]))
    if record is None:
        raise not_found()
    return record


async def get_one(call: Call) -> Response:
    return json_response({"resource": _render(call, _one(call))})


async def delete(call: Call) -> Response:
    async with call.state.lock:
        record = _one(call)
        del call.state.webhooks.subscriptions[record.uuid]
    return Response(status_code=204)
