"""The command line, as a user runs it: `autobook submit` and `autobook status` as subprocesses.

They run with the same `AUTOBOOK_*` settings as the stack's real worker, so what `submit` records
is booked by that worker and `status` reads it back. The worker runs without the dispatcher, so
each booking also proves that `submit` rang the configured broker. Checked here: the three input
shapes (an object, an array, JSON Lines) and stdin, one printed line per request, the exit codes,
the keys of `status --json`, and the log that `status ID` shows.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ProxiedStack, StartStack
from tests.support.contract import STATUS_JSON_KEYS

pytestmark = pytest.mark.slow

UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# A submit that rings the broker returns at once; one that waits on an unreachable broker doesn't.
SUBMIT_SECONDS_LIMIT = 15.0


def _request(request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": request_id,
            "email": f"{request_id}@example.com",
            "timezone": "America/Chicago",
        },
        **extra,
    }


def _invalid(request_id: str) -> dict[str, Any]:
    request = _request(request_id)
    request["invitee"]["timezone"] = "Central Time"
    return request


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    # No dispatcher: a request is booked only if `submit` rang the stack's own broker.
    return start_stack("embedded", dispatcher=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("requests")
    (folder / "one.json").write_text(json.dumps(_request("cli-object")))
    (folder / "array.json").write_text(
        json.dumps([_request("cli-array-1"), _invalid("cli-array-bad"), _request("cli-array-2")])
    )
    (folder / "stream.jsonl").write_text(
        "\n".join(json.dumps(_request(f"cli-line-{n}")) for n in range(3)) + "\n"
    )
    (folder / "broken.json").write_text('{"request_id": "cli-broken", ')
    return folder


def test_submit_one_object_prints_one_line_and_exits_0(stack: ProxiedStack, files: Path) -> None:
    started = time.monotonic()
    result = stack.cli("submit", str(files / "one.json"))
    assert time.monotonic() - started < SUBMIT_SECONDS_LIMIT
    assert result.returncode == 0, result.stderr
    # The doorbell was rung on the stack's broker, not left to the dispatcher.
    assert "broker unavailable" not in result.stderr
    (line,) = _lines(result.stdout)
    assert line["request_id"] == "cli-object"
    assert line["status"] == "received"
    assert line["reason"] is None
    (row,) = stack.wait_terminal(["cli-object"], timeout=30)
    assert str(row.status) == "booked", row.reason


def test_submit_array_prints_a_line_per_request_and_exits_1_on_any_invalid(
    stack: ProxiedStack, files: Path
) -> None:
    result = stack.cli("submit", str(files / "array.json"))
    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert [line["request_id"] for line in lines] == ["cli-array-1", "cli-array-bad", "cli-array-2"]
    assert [line["status"] for line in lines] == ["received", "invalid", "received"]
    assert "invitee.timezone" in lines[1]["reason"]
    rows = stack.wait_terminal(["cli-array-1", "cli-array-2"], timeout=30)
    assert {str(row.status) for row in rows} == {"booked"}


def test_submit_json_lines_prints_a_line_per_request_and_exits_0(
    stack: ProxiedStack, files: Path
) -> None:
    result = stack.cli("submit", str(files / "stream.jsonl"))
    assert result.returncode == 0, result.stderr
    assert [line["request_id"] for line in _lines(result.stdout)] == [
        f"cli-line-{n}" for n in range(3)
    ]
    rows = stack.wait_terminal([f"cli-line-{n}" for n in range(3)], timeout=30)
    assert {str(row.status) for row in rows} == {"booked"}


def test_submit_dash_reads_stdin(stack: ProxiedStack) -> None:
    text = json.dumps(_request("cli-stdin-1")) + "\n" + json.dumps(_invalid("cli-stdin-bad"))
    result = stack.cli("submit", "-", stdin=text)
    assert result.returncode == 1
    assert [(line["request_id"], line["status"]) for line in _lines(result.stdout)] == [
        ("cli-stdin-1", "received"),
        ("cli-stdin-bad", "invalid"),
    ]
    (row,) = stack.wait_terminal(["cli-stdin-1"], timeout=30)
    assert str(row.status) == "booked", row.reason


def test_submitting_again_is_a_no_op_that_reports_the_existing_record(
    stack: ProxiedStack, files: Path
) -> None:
    stack.wait_terminal(["cli-object"], timeout=30)
    bookings = len(stack.admin.ledger())
    result = stack.cli("submit", str(files / "one.json"))
    assert result.returncode == 0, result.stderr
    (line,) = _lines(result.stdout)
    assert (line["request_id"], line["status"], line["new"]) == ("cli-object", "booked", False)
    time.sleep(1.0)  # a second booking, if one were made, would be in the ledger by now
    assert len(stack.admin.ledger()) == bookings


def test_submit_of_text_that_is_not_json_exits_2_and_records_nothing(
    stack: ProxiedStack, files: Path
) -> None:
    result = stack.cli("submit", str(files / "broken.json"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error" in result.stderr
    assert stack.rows(["cli-broken"]) == []


def test_status_json_lists_every_request_with_the_public_keys(stack: ProxiedStack) -> None:
    ids = ["cli-object", "cli-array-1", "cli-array-2", "cli-line-0", "cli-stdin-1"]
    stack.wait_terminal(ids, timeout=30)
    result = stack.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    items = {item["request_id"]: item for item in json.loads(result.stdout)}
    for request_id in ids:
        item = items[request_id]
        assert item.keys() >= STATUS_JSON_KEYS
        row = stack.row(request_id)
        assert item["status"] == "booked"
        assert item["reason"] is None
        assert UTC_Z.match(item["start_time"]), item["start_time"]
        assert item["start_time"] == row.start_time.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
        assert item["event_type"] == row.event_type_uri
        for key in ("event_uri", "invitee_uri", "cancel_url", "reschedule_url"):
            assert item[key] == getattr(row, key)
            assert item[key].startswith("http")
        assert isinstance(item["attempts"], int)
        assert item["attempts"] >= 1
    bad = items["cli-array-bad"]
    assert bad["status"] == "invalid"
    assert "invitee.timezone" in bad["reason"]
    assert bad["start_time"] is None
    assert bad["attempts"] == 0


def test_status_id_shows_the_request_log(stack: ProxiedStack) -> None:
    stack.wait_terminal(["cli-object"], timeout=30)
    result = stack.cli("status", "cli-object")
    assert result.returncode == 0, result.stderr
    for kind in ("received", "resolved", "window_polled", "intent", "booked"):
        assert kind in result.stdout, kind
    row = stack.row("cli-object")
    assert row.cancel_url is not None
    assert row.cancel_url in result.stdout
    detail = json.loads(stack.cli("status", "cli-object", "--json").stdout)
    kinds = [entry["kind"] for entry in detail["log"]]
    assert kinds[0] == "received"
    assert "booked" in kinds
    assert all(UTC_Z.match(entry["at"]) for entry in detail["log"])


def test_status_of_an_unknown_id_exits_1(stack: ProxiedStack) -> None:
    result = stack.cli("status", "no-such-request")
    assert result.returncode == 1
    assert "no-such-request" in result.stderr


def test_cli_output_never_shows_the_token(stack: ProxiedStack, files: Path) -> None:
    outputs = [
        stack.cli("status"),
        stack.cli("status", "--json"),
        stack.cli("status", "cli-object"),
        stack.cli("submit", str(files / "array.json")),
    ]
    for output in outputs:
        assert "sandbox-token" not in output.stdout + output.stderr


def test_submit_of_a_missing_file_exits_2_with_a_message_not_a_traceback(
    stack: ProxiedStack, files: Path
) -> None:
    missing = files / "missing.json"
    result = stack.cli("submit", str(missing))
    assert result.returncode == 2  # bad usage, not "a request was invalid" (1)
    assert "Traceback" not in result.stderr
    assert str(missing) in result.stderr
    assert result.stdout == ""
