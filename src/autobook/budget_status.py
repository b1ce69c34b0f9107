"""`autobook status --budget`: the shared rate budget's state, per Calendly user.

For each user the budget has seen: each window the budget enforces (the general calls of a
minute; the bookings of a minute, an hour, a day), the calls used and allowed in it, and the
seconds until it has room; then the seconds until a booking (`POST /invitees`, which counts in
every window, and waits out a 429's penalty) can be sent. Read from Redis without spending
anything (`autobook.calendly.budget_view`); without `AUTOBOOK_REDIS_URL` (embedded defaults) from
the budget file in the data folder that every worker process shares (`budget_file.FileBudget`).
"""

from __future__ import annotations

import json
import time

import redis

from autobook.calendly.budget_file import BUDGET_FILE_NAME, read_file_state
from autobook.calendly.budget_view import UserBudget, file_budgets, read_budgets
from autobook.config import Settings

UNTOUCHED = "untouched: no call was made yet"


def read_budget_status(settings: Settings) -> tuple[list[UserBudget], str | None]:
    """Every user's budget, or none and a note saying why it can't be seen."""
    if not settings.redis_url:
        path = settings.data_dir / BUDGET_FILE_NAME
        state = read_file_state(path)
        budgets = file_budgets(state, settings.plan_limits(), time.time())
        return budgets, None if budgets else f"{UNTOUCHED} (the budget file is {path})"
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        budgets = read_budgets(client, settings.plan_limits())
    except (redis.RedisError, OSError) as exc:
        return [], f"cannot read it from Redis ({type(exc).__name__})"
    finally:
        client.close()
    return budgets, None if budgets else UNTOUCHED


def _seconds(value: float) -> str:
    return "now" if value <= 0 else f"in {value:.0f}s"


def render_text(budgets: list[UserBudget], note: str | None, plan: str) -> list[str]:
    if note is not None:
        return [f"budget ({plan}): {note}"]
    lines: list[str] = []
    for budget in budgets:
        lines.append(f"budget of user {budget.user} ({plan}):")
        lines.append(f"  {'window':<16}{'used':>6}{'allowed':>9}  room")
        for window in budget.windows:
            lines.append(
                f"  {window.window:<16}{window.used:>6}{window.limit:>9}  "
                f"{_seconds(window.next_in_seconds)}"
            )
        if budget.penalty_seconds > 0:
            lines.append(f"  after a 429, waiting {budget.penalty_seconds:.0f}s more")
        lines.append(f"  next booking can be sent {_seconds(budget.next_booking_in_seconds)}")
    return lines


def render_json(budgets: list[UserBudget], note: str | None, plan: str) -> str:
    return json.dumps(
        {
            "plan": plan,
            "note": note,
            "users": [
                {
                    "user": budget.user,
                    "next_booking_in_seconds": round(budget.next_booking_in_seconds, 1),
                    "penalty_seconds": round(budget.penalty_seconds, 1),
                    "windows": [
                        {
                            "window": window.window,
                            "used": window.used,
                            "allowed": window.limit,
                            "room_in_seconds": round(window.next_in_seconds, 1),
                        }
                        for window in budget.windows
                    ],
                }
                for budget in budgets
            ],
        },
        indent=2,
    )
