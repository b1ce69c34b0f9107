"""Calendly's rate limits per plan, and the windows each kind of call counts against.

Pure arithmetic shared by `InMemoryBudget` and `RedisBudget` (see `budget.py` for the rules they
enforce): which sliding windows a call belongs to, with which limit, and which penalties it must
respect. No I/O and no clock here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

CallKind = Literal["general", "invitee_post"]

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
SAFETY_MARGIN_SECONDS = 1.0
"""Added to every window: our grant happens a little before Calendly counts the request."""


@dataclass(frozen=True)
class PlanLimits:
    """Calendly's limits for one user; None means no limit. Counts are calls per window."""

    general_per_minute: int | None = 500
    invitees_per_minute: int | None = 10
    invitees_per_hour: int | None = 50
    invitees_per_day: int | None = 100
    reserved_for_bookings: int | None = None
    """General calls kept for bookings; None picks min(invitees_per_minute, 5% of general, >=1)."""

    @property
    def general_reserve(self) -> int:
        if self.general_per_minute is None:
            return 0
        if self.reserved_for_bookings is not None:
            return max(0, min(self.reserved_for_bookings, self.general_per_minute - 1))
        share = max(1, self.general_per_minute // 20)
        if self.invitees_per_minute is not None:
            share = min(share, self.invitees_per_minute)
        return max(0, min(share, self.general_per_minute - 1))


FREE = PlanLimits(
    general_per_minute=50, invitees_per_minute=None, invitees_per_hour=None, invitees_per_day=None
)
"""Free plan. POST /invitees is not counted separately: Calendly refuses it with a 403 that says
why, which is more useful to the caller than a budget that never grants."""
TRIAL = PlanLimits(invitees_per_minute=None, invitees_per_hour=None, invitees_per_day=5)
STANDARD = PlanLimits()
ENTERPRISE = PlanLimits(invitees_per_minute=500, invitees_per_hour=None, invitees_per_day=None)
UNLIMITED = PlanLimits(None, None, None, None)

PLANS: Mapping[str, PlanLimits] = {
    "free": FREE,
    "trial": TRIAL,
    "standard": STANDARD,
    "enterprise": ENTERPRISE,
    "unlimited": UNLIMITED,
}


@dataclass(frozen=True)
class Window:
    """One limit a call counts against: `limit` calls per `seconds` in the log named `name`."""

    name: str
    limit: int
    seconds: float


def windows_for(limits: PlanLimits, kind: CallKind, *, priority: bool = False) -> list[Window]:
    """The windows a call of `kind` must fit in, with the limit that applies to it."""
    windows: list[Window] = []
    if limits.general_per_minute is not None:
        cap = limits.general_per_minute
        if kind == "general" and not priority:
            cap -= limits.general_reserve
        windows.append(Window("general", cap, SECONDS_PER_MINUTE + SAFETY_MARGIN_SECONDS))
    if kind == "invitee_post":
        for name, limit, seconds in (
            ("invitee:minute", limits.invitees_per_minute, SECONDS_PER_MINUTE),
            ("invitee:hour", limits.invitees_per_hour, SECONDS_PER_HOUR),
            ("invitee:day", limits.invitees_per_day, SECONDS_PER_DAY),
        ):
            if limit is not None:
                windows.append(Window(name, limit, seconds + SAFETY_MARGIN_SECONDS))
    return windows


def penalty_scopes(kind: CallKind | None) -> list[str]:
    """The penalty names a 429 on `kind` sets: a general 429 stops every call."""
    return ["invitee_post"] if kind == "invitee_post" else ["all"]


def penalties_checked(kind: CallKind) -> list[str]:
    """The penalty names an acquirer of `kind` must respect."""
    return ["all", "invitee_post"] if kind == "invitee_post" else ["all"]


def plan_of(
    user_key: str, default: PlanLimits, per_user: Mapping[str, PlanLimits] | None
) -> PlanLimits:
    """The plan of a user: `per_user[user_key]` when given, else `default`."""
    return (per_user or {}).get(user_key, default)


def resolve_plan(plan: PlanLimits | str) -> PlanLimits:
    """A plan given by its limits or by name (`trial`, `standard`, `enterprise`, ...)."""
    if isinstance(plan, PlanLimits):
        return plan
    try:
        return PLANS[str(plan).lower()]
    except KeyError:
        raise ValueError(f"unknown Calendly plan {plan!r}; known: {', '.join(PLANS)}") from None
