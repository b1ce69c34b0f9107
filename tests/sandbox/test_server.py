"""Running the sandbox: python -m autobook.sandbox, the real clock, several servers at once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from autobook.sandbox.server import SandboxServer
from tests.sandbox.seeds import base_seed, event_type_uri
from tests.support.sandbox import calendly_client, sandbox_process, write_seed


def test_the_module_serves_a_seed_file_with_its_token_and_window(tmp_path: Path) -> None:
    seed_path = write_seed(tmp_path / "seed.json", base_seed())
    with sandbox_process(seed_path=seed_path, token="tok-123", max_window_days=31) as process:
        url = process.url
        with calendly_client(url, token="tok-123") as client:
            assert client.get("/users/me").json()["resource"]["email"] == "nina@test.example"
            start = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            end = (datetime.now(UTC) + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
            params = {
                "event_type": event_type_uri(url, "solo"),
                "start_time": start,
                "end_time": end,
            }
            assert client.get("/event_type_available_times", params=params).status_code == 200
        assert (
            httpx.get(
                f"{url}/users/me", headers={"Authorization": "Bearer sandbox-token"}
            ).status_code
            == 401
        )


def test_the_module_refuses_a_bad_seed_with_every_problem(tmp_path: Path) -> None:
    document = base_seed()
    document["users"][0]["timezone"] = "Mars/Olympus"
    seed_path = write_seed(tmp_path / "bad.json", document)
    result = subprocess.run(
        [sys.executable, "-m", "autobook.sandbox", "--seed", str(seed_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "users[0].timezone: unknown IANA timezone 'Mars/Olympus'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_seed_books_on_the_real_clock() -> None:
    with SandboxServer() as server, calendly_client(server.url) as client:
        me = client.get("/users/me").json()["resource"]
        assert me["email"] == "taylor@acme.com"
        types = client.get(
            "/event_types", params={"organization": me["current_organization"], "count": 100}
        )
        demo = next(t for t in types.json()["collection"] if t["slug"] == "demo")
        start = datetime.now(UTC) + timedelta(minutes=5)
        params = {
            "event_type": demo["uri"],
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_time": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        slots = client.get("/event_type_available_times", params=params).json()["collection"]
        assert slots
        booked = client.post(
            "/invitees",
            json={
                "event_type": demo["uri"],
                "start_time": slots[0]["start_time"],
                "invitee": {"name": "Real Clock", "email": "real@example.com", "timezone": "UTC"},
                "location": {"kind": "zoom_conference"},
                "questions_and_answers": [{"question": "Company", "answer": "Acme", "position": 0}],
            },
        )
        assert booked.status_code == 201


def test_two_servers_keep_separate_state() -> None:
    with SandboxServer(seed=base_seed()) as first, SandboxServer(seed=base_seed()) as second:
        assert first.url != second.url
        first.state.store.ledger.append("marker")
        assert second.state.store.ledger == []
