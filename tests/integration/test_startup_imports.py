"""`autobook submit` and `autobook status` import only what they need (issue 13: start-up).

Start-up time is mostly imports, and a timing test would be flaky on a shared machine; so this
checks which modules each command loaded, in a real subprocess on embedded defaults: neither
loads the worker's code (tasks, dispatcher, booking engine, Calendly client, httpx), nor Alembic
once the database is at the packaged head; `status` loads no broker at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Prints the loaded modules at exit, after the command ran through `autobook.cli.main`.
RECORDING_MAIN = (
    "import atexit, json, sys\n"
    "def report(): print('MODULES=' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    "atexit.register(report)\n"
    "from autobook.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
WORKER_CODE = (
    "autobook.tasks",
    "autobook.worker",
    "autobook.dispatcher",
    "autobook.runtime",
    "autobook.booking",
    "autobook.calendly",
    "httpx",
    "alembic",
)
BROKER = ("celery", "kombu", "redis")


def loaded_by(tmp_path: Path, *argv: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")}
    done = subprocess.run(
        [sys.executable, "-c", RECORDING_MAIN, *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def heavy(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_submit_and_status_load_no_worker_code(tmp_path: Path) -> None:
    request = {
        "request_id": "startup-1",
        "event_type": {"slug": "intro"},
        "invitee": {"name": "A", "email": "a@example.com", "timezone": "UTC"},
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    first = loaded_by(tmp_path, "submit", str(path))  # migrates the fresh database
    assert "alembic" in first  # the check below can see a module that was loaded
    submit = loaded_by(tmp_path, "submit", str(path))
    assert heavy(submit, WORKER_CODE) == []
    assert "celery" in submit  # it does ring the worker, through the broker
    # On embedded defaults the broker is the filesystem: no Redis transport, no redis-py.
    assert heavy(submit, ("kombu.transport.redis", "redis")) == []
    status = loaded_by(tmp_path, "status")
    assert heavy(status, WORKER_CODE + BROKER) == []
    assert "sqlalchemy" in status


def test_help_and_usage_mistakes_load_no_settings_database_or_broker(tmp_path: Path) -> None:
    # The parser alone: settings are read when a command runs, not to build it.
    for argv in (("submit", "--help"), ("status", "--help"), ("--help",)):
        modules = loaded_by(tmp_path, *argv)
        assert "autobook.cli" in modules  # the check can see what was loaded
        assert heavy(modules, ("pydantic_settings", "sqlalchemy", *BROKER, *WORKER_CODE)) == []
