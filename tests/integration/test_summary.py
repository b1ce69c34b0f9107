"""`autobook status --summary` and the budget view: what an operator sees of the whole queue.

Requests are recorded through intake, then put in the states a production queue holds (waiting,
unknown, failed for two reasons, a pause after a 401) with plain UPDATEs; the budget is spent
through a real `RedisBudget`. The summary must count, name the oldest, group the failures, show
the pause, and give the budget left with the time until the next booking can be sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from autobook import db, intake, store
from autobook.calendly.budget import RedisBudget
from autobook.calendly.budget_file import BUDGET_FILE_NAME, FileBudget
from autobook.calendly.budget_view import read_budgets
from autobook.calendly.limits import STANDARD, PlanLimits
from autobook.models import BookingRequestRow
from autobook.times import utc_now
from tests.support.databases import sqlite_url_in
from tests.support.stack import free_redis_db

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> Iterator[str]:
    with free_redis_db() as url:
        yield url


def _request(request_id: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {"name": "A", "email": f"{request_id}@example.com", "timezone": "UTC"},
    }


def test_the_budget_view_reads_what_was_spent_and_when_a_booking_may_go(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    budget = RedisBudget(client, plan=STANDARD)
    for _ in range(STANDARD.invitees_per_minute or 0):
        assert budget.acquire("token-abc", "invitee_post") == 0
    (user,) = read_budgets(client, STANDARD)
    left = {window.window: window.remaining for window in user.windows}
    assert user.user == "token-abc"
    assert left == {"general": 490, "invitee:minute": 0, "invitee:hour": 40, "invitee:day": 90}
    assert 55 < user.next_booking_in_seconds <= 61  # the minute window frees a place
    budget.penalize("token-abc", 300, kind="invitee_post")
    (user,) = read_budgets(client, STANDARD)
    assert 295 < user.next_booking_in_seconds <= 300


def test_status_summary_counts_names_the_oldest_groups_failures_and_shows_the_pause(
    tmp_path: Path, redis_url: str
) -> None:
    url = sqlite_url_in(tmp_path)
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    now = utc_now()
    ids = [f"sum-{index}" for index in range(6)]
    intake.submit_many(sessions, [_request(i) for i in ids], now=lambda: now, ring=lambda _: None)
    states = {
        "sum-0": ("waiting", None, 3600),
        "sum-1": ("waiting", None, 60),
        "sum-2": ("unknown", None, 600),
        "sum-3": ("failed", "gave up after 5 internal errors; last: boom", 0),
        "sum-4": ("failed", "gave up after 5 internal errors; last: boom", 0),
        "sum-5": ("failed", "Calendly kept answering 500", 0),
    }
    with sessions.begin() as session:
        for request_id, (status, reason, age) in states.items():
            session.execute(
                sa.update(BookingRequestRow)
                .where(BookingRequestRow.request_id == request_id)
                .values(status=status, reason=reason, created_at=now - timedelta(seconds=age))
            )
        store.pause_sending(session, reason="Calendly refused the token (401)", now=now)
    RedisBudget(redis.Redis.from_url(redis_url), plan=STANDARD).acquire("token-xyz", "invitee_post")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")}
    env.update({"AUTOBOOK_DATABASE_URL": url, "AUTOBOOK_REDIS_URL": redis_url})

    text = _status(env, tmp_path, "--summary")
    assert "requests: waiting 2, unknown 1, failed 3" in text
    assert "oldest waiting: sum-0 for 60m" in text
    assert "oldest unknown: sum-2 for 10m" in text
    assert "      2  gave up after 5 internal errors; last: boom" in text
    assert "      1  Calendly kept answering 500" in text
    assert "sending: PAUSED" in text
    assert "budget token-xyz: general 499/500, invitee:minute 9/10" in text
    assert "next booking can be sent now" in text
    data = json.loads(_status(env, tmp_path, "--summary", "--json"))
    assert data["counts"]["failed"] == 3
    assert data["sending_paused"] is True
    assert data["oldest_unknown"]["request_id"] == "sum-2"
    assert data["budgets"][0]["windows"][1] == {
        "window": "invitee:minute",
        "limit": 10,
        "remaining": 9,
    }


def _status(env: dict[str, str], cwd: Path, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "autobook", "status", *extra],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_status_budget_shows_used_and_allowed_per_window_and_the_next_booking(
    tmp_path: Path, redis_url: str
) -> None:
    """A custom tier (30 bookings a minute), spent to its end by two "workers" on one budget."""
    custom = PlanLimits(general_per_minute=100, invitees_per_minute=30)
    client = redis.Redis.from_url(redis_url)
    workers = [RedisBudget(client, plan=custom), RedisBudget(client, plan=custom)]
    for index in range(30):
        assert workers[index % 2].acquire("token-custom", "invitee_post") == 0
    workers[0].acquire("token-custom", "general")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")}
    env.update(
        {
            # No database is read: this URL points nowhere that exists.
            "AUTOBOOK_DATABASE_URL": sqlite_url_in(tmp_path / "absent"),
            "AUTOBOOK_REDIS_URL": redis_url,
            "AUTOBOOK_PLAN": "custom",
            "AUTOBOOK_PLAN_GENERAL_PER_MINUTE": "100",
            "AUTOBOOK_PLAN_INVITEES_PER_MINUTE": "30",
        }
    )
    text = _status(env, tmp_path, "--budget")
    assert "budget of user token-custom (custom):" in text
    assert "  general             31      100  now" in text
    assert "  invitee:minute      30       30  in " in text
    assert "next booking can be sent in " in text
    (user,) = json.loads(_status(env, tmp_path, "--budget", "--json"))["users"]
    windows = {w["window"]: w for w in user["windows"]}
    assert windows["invitee:minute"]["used"] == windows["invitee:minute"]["allowed"] == 30
    assert 55 < windows["invitee:minute"]["room_in_seconds"] <= 61
    assert 55 < user["next_booking_in_seconds"] <= 61
    assert not (tmp_path / "absent").exists()
    # Embedded defaults: the budget is a file in the data folder, which every worker shares.
    del env["AUTOBOOK_REDIS_URL"]
    env["AUTOBOOK_DATA_DIR"] = str(tmp_path / "data")
    assert "untouched" in _status(env, tmp_path, "--budget")
    embedded = FileBudget(tmp_path / "data" / BUDGET_FILE_NAME, custom)
    for _ in range(12):
        assert embedded.acquire("token-embedded", "invitee_post") == 0
    text = _status(env, tmp_path, "--budget")
    assert "budget of user token-embedded (custom):" in text
    assert "  invitee:minute      12       30  now" in text
    assert "next booking can be sent now" in text
