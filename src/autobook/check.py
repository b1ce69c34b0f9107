"""`autobook check`: a preflight of everything a deployment needs, one line per item.

Each item is ok, FAIL (with its fix, in one line) or skip (it could not be checked because an
item it depends on failed). The items, in order: the settings; the database reachable and
migrated to head (checked, never migrated: `check` changes nothing); the broker reachable; Redis
reachable when `AUTOBOOK_REDIS_URL` is set; and at Calendly the token valid (`GET /users/me`),
its user an owner or admin of the organization (reconciliation lists the organization's events,
which Calendly refuses to a plain member), the plan and the limits the budget will hold to, and
every scope booking needs (API-NOTES §1: scopes are mandatory for tokens issued since 2026-03),
and the webhook subscription that `autobook webhooks ensure` made, present and active (Calendly
disables one silently after 24 hours of failed deliveries).

Invariants: nothing here raises for a broken item, every item is printed, and every line passes
through `logsafe.mask` with the token as a secret, so neither the token nor an email shows.
The exit status is 1 when any item failed, 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kombu import Connection
from sqlalchemy.exc import SQLAlchemyError

from autobook import db, logsafe, preflight
from autobook.calendly.client import build_http_client
from autobook.calendly.limits import PLANS, PlanLimits
from autobook.calendly.probe import Prober, ProbeResult, booking_scope_probes
from autobook.config import InvalidSettings, Settings, get_settings

BROKER_CHECK_TIMEOUT_SECONDS = 3.0
CALENDLY_CHECK_TIMEOUT_SECONDS = 10.0
ADMIN_ROLES = ("owner", "admin")
WEBHOOKS_ITEM = "calendly webhooks"
ENSURE_FIX = "autobook webhooks ensure --url"
# Our plans, from the one that allows least to the one that allows most.
PLAN_ORDER = ("free", "trial", "standard", "enterprise", "unlimited")
NEW_PAT_FIX = (
    "create a personal access token in Calendly (Integrations > API and webhooks) with the "
    "scopes users:read, organizations:read, event_types:read, availability:read, "
    "scheduled_events:read and scheduled_events:write, and set AUTOBOOK_CALENDLY_TOKEN"
)


@dataclass(frozen=True)
class Item:
    """One checked thing. `ok` None: skipped, because something it needs failed."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        text = f"{mark}  {self.name}: {self.detail}"
        return f"{text} -> fix: {self.fix}" if self.ok is False and self.fix else text


def _skip(name: str, why: str) -> Item:
    return Item(name, None, f"not checked ({why})")


def check_database(settings: Settings) -> list[Item]:
    where = db.masked_url(settings.database_url)
    try:
        with db.unavailable_as_error(settings.database_url):
            current = db.current_revision(settings.database_url)
    except db.DatabaseUnavailable as exc:
        return [
            Item(
                "database reachable",
                False,
                exc.message,
                "start the database, or correct AUTOBOOK_DATABASE_URL",
            ),
            _skip("database migrated", "the database is unreachable"),
        ]
    head = db.head_revision()
    reachable = Item("database reachable", True, where)
    if current == head:
        return [reachable, Item("database migrated", True, f"at the newest revision ({head})")]
    found = "empty (no autobook tables)" if current is None else f"at revision {current}"
    return [
        reachable,
        Item(
            "database migrated",
            False,
            f"{found}; this autobook needs {head}",
            "run autobook migrate (docker compose runs it as the migrate service)",
        ),
    ]


def check_broker(settings: Settings) -> Item:
    name = "broker reachable"
    url = settings.celery_broker_url
    try:
        if settings.uses_filesystem_broker:
            preflight.require_data_dir(settings)
            return Item(name, True, f"filesystem broker in {settings.data_dir}/queue")
        if url.startswith(("redis://", "rediss://")):
            preflight.require_redis(url, "AUTOBOOK_BROKER_URL")
        else:
            with Connection(url, connect_timeout=BROKER_CHECK_TIMEOUT_SECONDS) as connection:
                connection.ensure_connection(max_retries=1)
    except preflight.DataDirUnusable as exc:
        return Item(name, False, exc.message, "make AUTOBOOK_DATA_DIR a writable folder")
    except preflight.ServiceUnreachable as exc:
        return Item(name, False, exc.message, "start the broker, or correct AUTOBOOK_BROKER_URL")
    except Exception as exc:  # kombu raises the transport's own errors; any is a failure here
        return Item(
            name,
            False,
            f"cannot reach the broker at {preflight.masked(url)}: {type(exc).__name__}",
            "start the broker, or correct AUTOBOOK_BROKER_URL",
        )
    return Item(name, True, preflight.masked(url))


def check_redis(settings: Settings) -> list[Item]:
    if not settings.redis_url:
        return []
    try:
        preflight.require_redis(settings.redis_url, "AUTOBOOK_REDIS_URL")
    except preflight.ServiceUnreachable as exc:
        fix = "start Redis, or correct AUTOBOOK_REDIS_URL (or unset it: budgets become per-process)"
        return [Item("redis reachable", False, exc.message, fix)]
    return [Item("redis reachable", True, preflight.masked(settings.redis_url))]


def _refusal(result: ProbeResult) -> str:
    if result.status is None:
        return f"no answer ({result.unreachable})"
    title = result.body.get("title") or "no error title"
    message = result.body.get("message")
    return f"HTTP {result.status} {title}" + (f": {message}" if message else "")


def calendly_plan(plan: str, stage: str) -> str:
    """Our plan name for what Calendly's Organization resource says (`plan`, `stage`)."""
    if stage == "trial" or plan == "trial":
        return "trial"
    if plan in ("basic", "free"):
        return "free"
    if plan in ("enterprise", "unlimited"):
        return plan
    return "standard"  # essentials, standard, professional, teams: the paid limits


def describe_limits(limits: PlanLimits) -> str:
    def per(count: int | None, window: str) -> str | None:
        return None if count is None else f"{count}/{window}"

    bookings = [
        text
        for text in (
            per(limits.invitees_per_minute, "min"),
            per(limits.invitees_per_hour, "h"),
            per(limits.invitees_per_day, "day"),
        )
        if text
    ]
    general = per(limits.general_per_minute, "min") or "no limit"
    return f"bookings {', '.join(bookings) or 'no limit'}; calls {general}"


def check_plan(settings: Settings, organization: ProbeResult) -> Item:
    name = "calendly plan limits"
    if not organization.ok:
        return Item(
            name, False, f"cannot read the organization: {_refusal(organization)}", NEW_PAT_FIX
        )
    raw_plan = str(organization.resource.get("plan") or "unknown")
    stage = str(organization.resource.get("stage") or "")
    theirs = calendly_plan(raw_plan, stage)
    ours = settings.plan.value
    said = f"Calendly plan {raw_plan}" + (f" ({stage})" if stage else "")
    if theirs == "free":
        return Item(
            name,
            False,
            f"{said}: the Scheduling API (POST /invitees) needs a paid plan",
            "upgrade the Calendly plan of the token's organization",
        )
    if PLAN_ORDER.index(ours) > PLAN_ORDER.index(theirs):
        return Item(
            name,
            False,
            f"{said}, but AUTOBOOK_PLAN={ours} allows more ({describe_limits(PLANS[ours])}); "
            "Calendly would answer 429s",
            f"set AUTOBOOK_PLAN={theirs}",
        )
    note = "" if ours == theirs else f" (stricter than {theirs} allows)"
    return Item(name, True, f"{said}; AUTOBOOK_PLAN={ours}: {describe_limits(PLANS[ours])}{note}")


def check_calendly(
    settings: Settings, prober: Prober | None = None, *, database_ok: bool = True
) -> list[Item]:
    names = ("calendly admin", "calendly plan limits", "calendly scopes", WEBHOOKS_ITEM)
    if settings.calendly_token is None:
        return [
            Item(
                "calendly token",
                False,
                "AUTOBOOK_CALENDLY_TOKEN is not set",
                f"{NEW_PAT_FIX} ({preflight.SANDBOX_HINT})",
            ),
            *(_skip(name, "no token") for name in names),
        ]
    if prober is None:
        http = build_http_client(
            settings.calendly_url,
            settings.calendly_token,
            connect_timeout=min(
                settings.http_connect_timeout_seconds, CALENDLY_CHECK_TIMEOUT_SECONDS
            ),
            read_timeout=CALENDLY_CHECK_TIMEOUT_SECONDS,
        )
        with http:
            return _check_calendly(settings, Prober(http), names, database_ok)
    return _check_calendly(settings, prober, names, database_ok)


def _check_calendly(
    settings: Settings, prober: Prober, names: tuple[str, ...], database_ok: bool
) -> list[Item]:
    me = prober.call("GET", "/users/me")
    if me.status is None:
        return [
            Item(
                "calendly token",
                False,
                f"cannot reach Calendly at {settings.calendly_url}: {me.unreachable}",
                "correct AUTOBOOK_CALENDLY_URL, or let this host reach it",
            ),
            *(_skip(name, "Calendly is unreachable") for name in names),
        ]
    if me.status == 401:
        return [
            Item(
                "calendly token",
                False,
                f"Calendly refused the token ({_refusal(me)})",
                NEW_PAT_FIX,
            ),
            *(_skip(name, "the token was refused") for name in names),
        ]
    if not me.ok:
        return [
            Item("calendly token", False, f"GET /users/me answered {_refusal(me)}", NEW_PAT_FIX),
            *(_skip(name, "GET /users/me failed") for name in names),
        ]
    user_uri = str(me.resource.get("uri") or "")
    organization_uri = str(me.resource.get("current_organization") or "")
    email = str(me.resource.get("email") or "unknown")
    items = [Item("calendly token", True, f"valid, for the user {email}")]
    items.append(_check_admin(prober, user_uri, organization_uri))
    organization_path = "/organizations/" + organization_uri.rstrip("/").rsplit("/", 1)[-1]
    items.append(check_plan(settings, prober.call("GET", organization_path)))
    probes = booking_scope_probes(settings.calendly_url, organization_uri)
    missing, unanswered = prober.missing_scopes(probes)
    if missing:
        items.append(
            Item(
                "calendly scopes",
                False,
                f"the token lacks {', '.join(missing)}, which booking needs",
                NEW_PAT_FIX,
            )
        )
    elif unanswered:
        items.append(
            Item(
                "calendly scopes",
                False,
                f"could not tell: no clear answer to {', '.join(unanswered)}",
                "run autobook check again; if it persists, check Calendly's status page",
            )
        )
    else:
        items.append(Item("calendly scopes", True, "every scope booking needs"))
    if database_ok:
        items.append(check_webhook_subscription(settings, prober))
    else:
        items.append(_skip(WEBHOOKS_ITEM, "the database is not ready"))
    return items


def check_webhook_subscription(settings: Settings, prober: Prober) -> Item:
    """The subscription `autobook webhooks ensure` made: there, and active at Calendly."""
    from autobook import store

    engine = db.make_engine(settings.database_url)
    try:
        with db.make_session_factory(engine)() as session:
            ours = store.subscription_state.current(session)
    except SQLAlchemyError as exc:
        return _skip(WEBHOOKS_ITEM, f"the database could not be read ({type(exc).__name__})")
    finally:
        engine.dispose()
    if ours is None:
        return Item(
            WEBHOOKS_ITEM,
            False,
            "no subscription: cancellations and reschedules at Calendly reach autobook only "
            f"through the booked sweep, up to {settings.booked_sweep_seconds} s late",
            f"{ENSURE_FIX} https://YOUR-HOST/v1/calendly/webhook",
        )
    fix = f"{ENSURE_FIX} {ours.callback_url}"
    uuid = ours.uri.rstrip("/").rsplit("/", 1)[-1]
    found = prober.call("GET", f"/webhook_subscriptions/{uuid}")
    if found.status == 404:
        return Item(WEBHOOKS_ITEM, False, f"the subscription to {ours.callback_url} is gone", fix)
    if not found.ok:
        return Item(
            WEBHOOKS_ITEM,
            False,
            f"cannot read the subscription: {_refusal(found)}",
            "run autobook check again; the token needs webhooks:read",
        )
    state = str(found.resource.get("state") or "unknown")
    if state != "active":
        return Item(
            WEBHOOKS_ITEM,
            False,
            f"the subscription to {ours.callback_url} is {state} (Calendly disables one after "
            "24 hours of failed deliveries)",
            fix,
        )
    return Item(WEBHOOKS_ITEM, True, f"active, delivering to {ours.callback_url}")


def _check_admin(prober: Prober, user_uri: str, organization_uri: str) -> Item:
    name = "calendly admin"
    result = prober.call(
        "GET", "/organization_memberships", {"organization": organization_uri, "user": user_uri}
    )
    if not result.ok:
        return Item(name, False, f"cannot read the role: {_refusal(result)}", NEW_PAT_FIX)
    roles = [str(m.get("role")) for m in result.collection]
    if not roles:
        return Item(name, False, "the token's user is in no organization", NEW_PAT_FIX)
    if roles[0] in ADMIN_ROLES:
        return Item(name, True, f"{roles[0]} of the organization")
    return Item(
        name,
        False,
        f"the token's user is a plain {roles[0]}: Calendly refuses organization-wide lists "
        "to members, and reconciling a booking reads them",
        "use a personal access token of an owner or admin of the organization",
    )


def run_checks(settings: Settings) -> list[Item]:
    database = check_database(settings)
    return [
        Item("settings", True, "valid"),
        *database,
        check_broker(settings),
        *check_redis(settings),
        *check_calendly(settings, database_ok=all(item.ok for item in database)),
    ]


def main(out: Callable[[str], None] = print) -> int:
    """Run every check and print one line each; 1 when any failed."""
    try:
        settings = get_settings()
    except InvalidSettings as exc:
        out(Item("settings", False, exc.message, "correct the variables named above").line())
        return 1
    secrets = [settings.calendly_token.get_secret_value()] if settings.calendly_token else []
    items = run_checks(settings)
    for item in items:
        out(logsafe.mask(item.line(), secrets))
    return 1 if any(item.ok is False for item in items) else 0
