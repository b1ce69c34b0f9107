"""An operator's mistake at start gets one line on stderr, exit 2, and no traceback.

Each test runs `autobook` as a subprocess, as an operator would, in an empty folder with no
`AUTOBOOK_*` variable but the ones it sets: a worker with no token, a database that refuses
connections or doesn't exist, a Redis that isn't there, a sandbox port that is out of range or
taken. The line must name what to fix (the variable, or the address with its password masked).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import require_postgres

EXIT_USAGE = 2
PASSWORD = "hunter2-not-shown"
COMMAND_TIMEOUT_SECONDS = 60


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")}
    return {**env, **settings}


def _autobook(
    folder: Path, *args: str, stdin: str = "", **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autobook", *args],
        cwd=folder,
        env=_env(**settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed start must print; asserts the rest of the contract."""
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("autobook"), lines[0]
    assert "error:" in lines[0]
    assert PASSWORD not in result.stdout + result.stderr
    return lines[0]


def test_worker_without_a_token_refuses_to_start_and_names_the_variable(folder: Path) -> None:
    result = _autobook(folder, "worker")
    line = _one_line_error(result)
    assert "AUTOBOOK_CALENDLY_TOKEN" in line
    assert "ready" not in result.stdout + result.stderr
    assert not (folder / ".autobook" / "queue").exists()  # stopped before Celery


def test_worker_with_a_blank_token_refuses_to_start(folder: Path) -> None:
    line = _one_line_error(_autobook(folder, "worker", AUTOBOOK_CALENDLY_TOKEN="   "))
    assert "AUTOBOOK_CALENDLY_TOKEN" in line


def test_a_setting_out_of_range_names_its_variable_without_its_value(folder: Path) -> None:
    result = _autobook(
        folder, "worker", AUTOBOOK_CALENDLY_TOKEN=PASSWORD, AUTOBOOK_MAX_WINDOW_DAYS="99"
    )
    line = _one_line_error(result)
    assert "AUTOBOOK_MAX_WINDOW_DAYS" in line
    assert "1 to 31" in line


@pytest.mark.parametrize(
    ("command", "stdin"),
    [(("status",), ""), (("submit", "-"), "{}"), (("worker",), ""), (("resume",), "")],
)
def test_a_database_that_refuses_connections_is_one_line_with_its_address(
    folder: Path, command: tuple[str, ...], stdin: str
) -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://autobook:{PASSWORD}@127.0.0.1:{port}/autobook"
    result = _autobook(
        folder,
        *command,
        stdin=stdin,
        AUTOBOOK_DATABASE_URL=url,
        AUTOBOOK_CALENDLY_TOKEN="sandbox-token",
    )
    line = _one_line_error(result)
    assert f"autobook:***@127.0.0.1:{port}/autobook" in line
    assert "database" in line
    assert "refused" in line.lower()


def test_a_database_that_does_not_exist_is_one_line_with_its_name(folder: Path) -> None:
    require_postgres()
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/autobook_no_such_database"
    line = _one_line_error(_autobook(folder, "status", AUTOBOOK_DATABASE_URL=url))
    assert "postgres:***@127.0.0.1:5432/autobook_no_such_database" in line
    assert "does not exist" in line


def test_a_database_url_with_no_driver_names_the_variable(folder: Path) -> None:
    url = f"nosuchdb://user:{PASSWORD}@db.example/autobook"
    line = _one_line_error(_autobook(folder, "status", AUTOBOOK_DATABASE_URL=url))
    assert "AUTOBOOK_DATABASE_URL" in line
    assert "user:***@db.example" in line


def test_worker_with_an_unreachable_redis_broker_names_the_variable_and_address(
    folder: Path,
) -> None:
    port = _closed_port()
    result = _autobook(
        folder,
        "worker",
        AUTOBOOK_CALENDLY_TOKEN="sandbox-token",
        AUTOBOOK_BROKER_URL=f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
    )
    line = _one_line_error(result)
    assert "AUTOBOOK_BROKER_URL" in line
    assert f"redis://:***@127.0.0.1:{port}/0" in line


def test_sandbox_port_out_of_range_is_a_usage_error(folder: Path) -> None:
    result = _autobook(folder, "sandbox", "--port", "70000")
    line = _one_line_error(result)
    assert "--port" in line
    assert "65535" in line
    assert result.stdout == ""


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_sandbox_on_a_busy_port_fails_before_announcing_itself(
    folder: Path, busy_port: int
) -> None:
    result = _autobook(folder, "sandbox", "--port", str(busy_port))
    line = _one_line_error(result)
    assert f"127.0.0.1:{busy_port}" in line
    assert "in use" in line
    assert "Calendly sandbox on" not in result.stdout


def test_ctrl_c_stops_the_sandbox_quietly(folder: Path) -> None:
    port = _closed_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "autobook", "sandbox", "--port", str(port)],
        cwd=folder,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = process.stdout.readline()  # printed once the port is listened on
        assert f"Calendly sandbox on http://127.0.0.1:{port}" in announced
        time.sleep(0.5)  # let uvicorn install its signal handlers
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert "stopped" in stdout
