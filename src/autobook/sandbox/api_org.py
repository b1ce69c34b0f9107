"""The organization and its members: `GET /organizations/{uuid}`, `GET /organization_memberships`.

Clients read the organization from the URI `current_organization` gives, and a member's `role`
(`owner`, `admin` or `user`) from the memberships list, filtered by `organization`, `user` or
`email` (2023 OpenAPI, OrganizationMembership). The organization's `plan` is the owner's seed
tier and `stage` says `trial` or `paid`: the fields third-party clients read from Calendly's
Organization resource (`uri`, `name`, `plan`, `stage`, `created_at`, `updated_at`).
"""

from __future__ import annotations

from starlette.responses import Response

from . import render
from .errors import not_found, permission_denied
from .params import Query, paginate
from .state import Call, json_response
from .store import User


async def get_organization(call: Call) -> Response:
    organization = call.store.organization
    if str(call.request.path_params["uuid"]) != organization.uuid:
        raise not_found()
    owner_plan = call.store.owner.plan
    return json_response({"resource": render.organization(call.base, organization, owner_plan)})


async def list_memberships(call: Call) -> Response:
    params = call.params
    query = Query(params)
    organization_uuid = query.uri("organization", "organizations")
    user_uuid = query.uri("user", "users")
    email = query.text("email")
    count = query.count()
    query.raise_problems()
    if organization_uuid is not None and organization_uuid != call.store.organization.uuid:
        raise permission_denied()
    wanted_email = email.casefold() if email else None

    def wanted(user: User) -> bool:
        if user_uuid is not None and user.uuid != user_uuid:
            return False
        return wanted_email is None or user.email.casefold() == wanted_email

    found = sorted(
        (user for user in call.store.users.values() if wanted(user)), key=lambda u: u.uuid
    )
    page, pagination = paginate(found, call.base, "/organization_memberships", params, count)
    collection = [render.membership(call.base, call.store, user) for user in page]
    return json_response({"collection": collection, "pagination": pagination})
