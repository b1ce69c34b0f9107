"""The admin API under ``/_sandbox/``: ledger, stats, faults, limits and reset.

Same bearer token as the Calendly API; admin calls are neither rate limited nor
counted in the stats. Each PUT can be read back with a GET of the same path. Bodies
that don't fit get a 400 in Calendly's shape, with one detail per problem.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from . import render
from .errors import Detail, detail, invalid
from .faults import parse_faults
from .params import uuid_from_uri
from .ratelimit import TIERS, Plan, plan_for_tier
from .state import Call, json_response
from .store import User

CUSTOM_LIMIT_KEYS = (
    "general_per_minute",
    "invitees_per_minute",
    "invitees_per_hour",
    "invitees_per_day",
)


async def ledger(call: Call) -> Response:
    store = call.store
    entries = [render.ledger_entry(call.base, store, store.invitees[uuid]) for uuid in store.ledger]
    return json_response({"collection": entries})


async def stats(call: Call) -> Response:
    rows = [
        {"method": method, "path": path, "status": status, "count": count}
        for (method, path, status), count in call.state.stats.items()
    ]
    rows.sort(key=lambda row: (str(row["path"]), str(row["method"]), str(row["status"])))
    return json_response({"requests": rows})


async def get_faults(call: Call) -> Response:
    return json_response(call.state.faults.describe())


async def put_faults(call: Call) -> Response:
    body = await call.json_body()
    async with call.state.lock:
        call.state.faults = parse_faults(body, call.state.fault_endpoints)
    return json_response(call.state.faults.describe())


def _describe_limits(call: Call) -> dict[str, Any]:
    users: dict[str, Any] = {}
    for user in call.store.users.values():
        plan = call.state.limiter.plans[user.uuid]
        users[render.user_uri(call.base, user.uuid)] = {"email": user.email, **plan.describe()}
    return {"users": users}


async def get_limits(call: Call) -> Response:
    return json_response(_describe_limits(call))


def _plan_from(body: object, where: str, problems: list[Detail]) -> Plan | None:
    if not isinstance(body, dict):
        problems.append(detail(where or "body", "must be a JSON object"))
        return None
    prefix = f"{where}." if where else ""
    tier = body.get("tier")
    if tier not in TIERS:
        problems.append(detail(f"{prefix}tier", f"must be one of: {', '.join(TIERS)}"))
        return None
    numbers: dict[str, int | None] = {}
    for key in CUSTOM_LIMIT_KEYS:
        value = body.get(key)
        if value is None:
            numbers[key] = None
        elif tier != "custom":
            problems.append(detail(f"{prefix}{key}", "applies to the custom tier only"))
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(detail(f"{prefix}{key}", "must be a whole number, 0 or more"))
        else:
            numbers[key] = value
    return plan_for_tier(str(tier), **numbers)


def _find_user(call: Call, key: str) -> User | None:
    uuid = uuid_from_uri(key, "users")
    if uuid is not None:
        return call.store.users.get(uuid)
    return call.store.users_by_email.get(key.lower())


async def put_limits(call: Call) -> Response:
    body = await call.json_body()
    problems: list[Detail] = []
    changes: dict[str, Plan] = {}
    if isinstance(body, dict) and "users" in body:
        users = body["users"]
        if not isinstance(users, dict):
            problems.append(detail("users", "must be a JSON object"))
            users = {}
        for key, plan_body in users.items():
            user = _find_user(call, str(key))
            if user is None:
                problems.append(detail(f"users.{key}", "is not a user URI or email of the seed"))
                continue
            plan = _plan_from(plan_body, f"users.{key}", problems)
            if plan is not None:
                changes[user.uuid] = plan
    else:
        plan = _plan_from(body, "", problems)
        if plan is not None:
            changes = dict.fromkeys(call.store.users, plan)
    if problems:
        raise invalid(problems)
    for user_uuid, plan in changes.items():
        call.state.limiter.set_plan(user_uuid, plan)
    return json_response(_describe_limits(call))


async def reset(call: Call) -> Response:
    async with call.state.lock:
        call.state.reset()
    return json_response({"status": "reset"})


async def get_webhooks(call: Call) -> Response:
    return json_response(call.state.webhooks.policy.describe())


async def put_webhooks(call: Call) -> Response:
    """How deliveries are retried: `{"retry_seconds", "disable_after_seconds"}` (both > 0)."""
    body = await call.json_body()
    if not isinstance(body, dict):
        raise invalid([detail("body", "must be a JSON object")])
    problems = [
        detail(key, "must be a number above 0")
        for key in body
        if key not in ("retry_seconds", "disable_after_seconds")
        or not isinstance(body[key], int | float)
        or isinstance(body[key], bool)
        or body[key] <= 0
    ]
    if problems:
        raise invalid(problems)
    policy = call.state.webhooks.policy
    for key, value in body.items():
        setattr(policy, key, float(value))
    return json_response(policy.describe())
