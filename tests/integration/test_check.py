"""`autobook check` against the sandbox: every item ok, then each broken piece failing clearly.

The sandbox is seeded with extra tokens (one without `scheduled_events:write`, one of a plain
member), so the Calendly items are checked the way Calendly answers them. Each broken piece must
give a FAIL line that names it and a fix, exit 1, and never print the token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from autobook import check, db
from autobook.calendly import CalendlyClient, build_http_client
from autobook.config import get_settings, load_settings
from autobook.sandbox.server import SandboxServer
from autobook.sources.sealing import sealer_for
from autobook.webhooks import subscription
from tests.support.databases import sqlite_url_in

OWNER_TOKEN = "sandbox-token"
NO_WRITE_TOKEN = "scoped-token-without-write"
MEMBER_TOKEN = "token-of-oliver-a-plain-member"
WRONG_TOKEN = "not-the-token-0123456789"
ALL_BUT_WRITE = [
    "users:read",
    "organizations:read",
    "event_types:read",
    "availability:read",
    "scheduled_events:read",
]


def _seed() -> dict[str, Any]:
    text = resources.files("autobook.sandbox").joinpath("default_seed.json").read_text("utf-8")
    seed: dict[str, Any] = json.loads(text)
    seed["tokens"] = [
        {"token": NO_WRITE_TOKEN, "user": "taylor@acme.com", "scopes": ALL_BUT_WRITE},
        {"token": MEMBER_TOKEN, "user": "oliver@acme.com"},
    ]
    return seed


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=_seed(), token=OWNER_TOKEN) as server:
        yield server


def _subscribe(sandbox: SandboxServer, database_url: str, data_dir: Path, hook_url: str) -> str:
    """What `autobook webhooks ensure --url hook_url` does; the subscription's URI."""
    db.upgrade(database_url)
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    http = build_http_client(sandbox.url, OWNER_TOKEN, connect_timeout=5, read_timeout=10)
    with http:
        made = subscription.ensure(
            db.make_session_factory(db.make_engine(database_url)),
            CalendlyClient(http),
            sealer_for(settings, create=True),
            hook_url,
            datetime.now(UTC),
        )
    return made.subscription.uri


@pytest.fixture(scope="module")
def migrated_url(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> str:
    """Migrated, with an active webhook subscription: a healthy deployment."""
    folder = tmp_path_factory.mktemp("migrated")
    url = sqlite_url_in(folder)
    _subscribe(sandbox, url, folder, "https://autobook.example.com/v1/calendly/webhook")
    return url


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer, migrated_url: str
) -> dict[str, str]:
    """A healthy configuration; a test changes one variable to break one piece."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("AUTOBOOK_"):
            monkeypatch.delenv(name)
    env = {
        "AUTOBOOK_DATA_DIR": str(tmp_path / "data"),
        "AUTOBOOK_DATABASE_URL": migrated_url,
        "AUTOBOOK_CALENDLY_URL": sandbox.url,
        "AUTOBOOK_CALENDLY_TOKEN": OWNER_TOKEN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _run(monkeypatch: pytest.MonkeyPatch, **changes: str) -> tuple[int, list[str]]:
    for name, value in changes.items():
        monkeypatch.setenv(f"AUTOBOOK_{name.upper()}", value)
    get_settings.cache_clear()
    lines: list[str] = []
    code = check.main(lines.append)
    return code, lines


def _line(lines: list[str], name: str) -> str:
    (found,) = [line for line in lines if line.split(":")[0].split(maxsplit=1)[1] == name]
    return found


def test_a_healthy_setup_passes_every_item(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(monkeypatch)
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [
        "ok    settings",
        "ok    database reachable",
        "ok    database migrated",
        "ok    broker reachable",
        "ok    calendly token",
        "ok    calendly admin",
        "ok    calendly plan limits",
        "ok    calendly scopes",
        "ok    calendly webhooks",
    ]
    assert "owner of the organization" in _line(lines, "calendly admin")
    assert "Calendly plan enterprise" in _line(lines, "calendly plan limits")
    # The user's email is masked like in logs.
    assert "t***@acme.com" in _line(lines, "calendly token")
    assert all("taylor@acme.com" not in line for line in lines)


def test_a_wrong_token_fails_with_the_fix_and_is_never_printed(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(monkeypatch, calendly_token=WRONG_TOKEN)
    assert code == 1
    token_line = _line(lines, "calendly token")
    assert token_line.startswith("FAIL")
    assert "Calendly refused the token (HTTP 401 Unauthenticated" in token_line
    assert "fix: create a personal access token" in token_line
    assert _line(lines, "calendly scopes").startswith("skip")
    assert all(WRONG_TOKEN not in line for line in lines)


def test_a_token_missing_a_scope_names_the_scope(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(monkeypatch, calendly_token=NO_WRITE_TOKEN)
    assert code == 1
    assert _line(lines, "calendly token").startswith("ok")
    scopes = _line(lines, "calendly scopes")
    assert scopes.startswith("FAIL")
    assert "the token lacks scheduled_events:write" in scopes
    assert "availability:read" not in scopes.split("->")[0]


def test_a_plain_members_token_is_not_an_admin(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(monkeypatch, calendly_token=MEMBER_TOKEN)
    assert code == 1
    admin = _line(lines, "calendly admin")
    assert admin.startswith("FAIL")
    assert "plain user" in admin
    assert "fix: use a personal access token of an owner or admin" in admin


def test_a_plan_setting_above_calendlys_plan_fails(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(monkeypatch, plan="unlimited")
    assert code == 1
    assert "fix: set AUTOBOOK_PLAN=enterprise" in _line(lines, "calendly plan limits")


def test_an_unreachable_database_fails_and_skips_the_migration_item(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://autobook:pw-not-shown@127.0.0.1:{_closed_port()}/autobook"
    code, lines = _run(monkeypatch, database_url=url)
    assert code == 1
    reachable = _line(lines, "database reachable")
    assert reachable.startswith("FAIL  database reachable: cannot reach the database at")
    assert "fix: start the database, or correct AUTOBOOK_DATABASE_URL" in reachable
    assert "pw-not-shown" not in "\n".join(lines)
    assert _line(lines, "database migrated").startswith("skip")


def test_an_unmigrated_database_fails_with_autobook_migrate_as_the_fix(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, lines = _run(monkeypatch, database_url=sqlite_url_in(tmp_path / "empty"))
    assert code == 1
    migrated = _line(lines, "database migrated")
    assert migrated.startswith("FAIL  database migrated: empty (no autobook tables)")
    assert "fix: run autobook migrate" in migrated
    assert _line(lines, "database reachable").startswith("ok")


def test_an_unreachable_broker_fails(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"redis://:pw-not-shown@127.0.0.1:{_closed_port()}/0"
    code, lines = _run(monkeypatch, broker_url=url)
    assert code == 1
    broker = _line(lines, "broker reachable")
    assert broker.startswith("FAIL  broker reachable: cannot reach Redis at redis://:***@127.0.0.1")
    assert "fix: start the broker, or correct AUTOBOOK_BROKER_URL" in broker
    assert "pw-not-shown" not in "\n".join(lines)


def test_an_unreachable_redis_fails(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = _run(monkeypatch, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    assert code == 1
    assert _line(lines, "redis reachable").startswith("FAIL")


def test_autobook_check_as_a_command_exits_1_on_a_failure_and_0_when_healthy(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**os.environ, **settings_env}
    healthy = subprocess.run(
        [sys.executable, "-m", "autobook", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    broken = subprocess.run(
        [sys.executable, "-m", "autobook", "check"],
        env={**env, "AUTOBOOK_CALENDLY_TOKEN": WRONG_TOKEN},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode == 1
    assert "FAIL  calendly token" in broken.stdout
    assert WRONG_TOKEN not in broken.stdout + broken.stderr


def test_no_webhook_subscription_fails_with_ensure_as_the_fix(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh = sqlite_url_in(tmp_path / "fresh")
    db.upgrade(fresh)
    code, lines = _run(monkeypatch, database_url=fresh)
    assert code == 1
    webhooks = _line(lines, "calendly webhooks")
    assert webhooks.startswith("FAIL  calendly webhooks: no subscription")
    assert "booked sweep" in webhooks
    assert "fix: autobook webhooks ensure --url https://YOUR-HOST/v1/calendly/webhook" in webhooks
    assert all(line.startswith("ok") for line in lines if line is not webhooks)


def test_a_subscription_calendly_disabled_fails_and_is_watched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings_env: dict[str, str]
) -> None:
    """A sandbox of its own: its subscription fails every delivery until it is disabled."""
    from autobook.metrics.collect import QueueCollector
    from autobook.webhooks.watch import SubscriptionWatch

    dead_url = f"http://127.0.0.1:{_closed_port()}/v1/calendly/webhook"
    with SandboxServer(seed=_seed(), token=OWNER_TOKEN) as own:
        url = sqlite_url_in(tmp_path / "disabled")
        uri = _subscribe(own, url, tmp_path, dead_url)
        admin = {"Authorization": f"Bearer {OWNER_TOKEN}"}
        policy = {"retry_seconds": 0.1, "disable_after_seconds": 0.5}
        assert httpx.put(f"{own.url}/_sandbox/webhooks", json=policy, headers=admin).is_success
        _book_one(own)  # its invitee.created can't be delivered
        deadline = time.monotonic() + 15
        while httpx.get(uri, headers=admin).json()["resource"]["state"] != "disabled":
            assert time.monotonic() < deadline, "the subscription was never disabled"
            time.sleep(0.1)

        code, lines = _run(monkeypatch, database_url=url, calendly_url=own.url)
        assert code == 1
        webhooks = _line(lines, "calendly webhooks")
        assert webhooks.startswith(f"FAIL  calendly webhooks: the subscription to {dead_url}")
        assert "is disabled" in webhooks
        assert f"fix: autobook webhooks ensure --url {dead_url}" in webhooks

        # The worker's watch records it, and the scrape shows it as 0.
        sessions = db.make_session_factory(db.make_engine(url))
        http = build_http_client(own.url, OWNER_TOKEN, connect_timeout=5, read_timeout=10)
        with http:
            # `ensure` counted as a check: the next is due one interval (5 min) later.
            watch = SubscriptionWatch(
                sessions, CalendlyClient(http), lambda: datetime.now(UTC) + _minutes(6)
            )
            assert watch.maybe_check() == "disabled"
            assert watch.maybe_check() is None  # asked once per interval
        gauges = {
            family.name: family.samples[0].value
            for family in QueueCollector(
                load_settings(data_dir=tmp_path, database_url=url)
            ).collect()
            if family.samples
        }
        assert gauges["autobook_webhook_subscription_active"] == 0.0
        assert gauges["autobook_callbacks_due"] == 0.0


def _book_one(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {OWNER_TOKEN}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=10) as http:
        me = http.get("/users/me").json()["resource"]
        types = http.get(
            "/event_types", params={"organization": me["current_organization"]}
        ).json()["collection"]
        intro = next(t for t in types if t["slug"] == "intro")
        start = datetime.now(UTC).replace(microsecond=0)
        times = http.get(
            "/event_type_available_times",
            params={
                "event_type": intro["uri"],
                "start_time": (start.replace(second=0) + _minutes(10)).isoformat(),
                "end_time": (start + _minutes(7 * 24 * 60 - 10)).isoformat(),
            },
        ).json()["collection"]
        body = {
            "event_type": intro["uri"],
            "start_time": times[0]["start_time"],
            "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": "UTC"},
        }
        assert http.post("/invitees", json=body).status_code == 201


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)
