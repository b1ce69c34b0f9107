"""`autobook propose FILE|-` as a subprocess against the sandbox: output and exit codes.

0 with the proposal's JSON on stdout (from a file or from stdin); 1 with the problems, as JSON,
for a request that is invalid or that Calendly refuses; 2 with one line on stderr for a file
that can't be read or is not JSON.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ProxiedStack, StartStack

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
LABEL = re.compile(r"^(Mon|Tue|Wed|Thu|Fri) \d{1,2} [A-Z][a-z]{2}, \d{1,2}:\d{2} (am|pm) E[SD]T$")


def _request(**extra: Any) -> dict[str, Any]:
    today = datetime.now(UTC).astimezone(NEW_YORK).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=3)
    window = {
        "earliest": monday.isoformat(),
        "latest": (monday + timedelta(days=4)).isoformat(),
        "timezone": "America/New_York",
    }
    body = {"event_type": {"slug": "demo"}, "timezone": "America/New_York", "window": window}
    return {**body, **extra}


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded", workers=0)


def test_a_request_in_a_file_prints_the_proposal(stack: ProxiedStack, tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(_request(count=4)))
    result = stack.cli("propose", str(path))
    assert result.returncode == 0, result.stderr
    proposal = json.loads(result.stdout)
    assert proposal["proposal_id"].startswith("prop_")
    assert proposal["event_type"]["name"] == "30 Minute Demo"
    assert [slot["choice"] for slot in proposal["slots"]] == [1, 2, 3, 4]
    assert all(LABEL.match(slot["label"]) for slot in proposal["slots"]), proposal["slots"]
    assert all(slot["start_time"].endswith("Z") for slot in proposal["slots"])


def test_a_request_on_stdin_prints_the_proposal(stack: ProxiedStack) -> None:
    result = stack.cli("propose", "-", stdin=json.dumps(_request()))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["slots"]) == 3


def test_an_invalid_request_exits_1_naming_each_field(stack: ProxiedStack) -> None:
    body = _request(count=11, timezone="Mars/Olympus", colour="blue")
    result = stack.cli("propose", "-", stdin=json.dumps(body))
    assert result.returncode == 1, result.stdout + result.stderr
    fields = {problem["field"] for problem in json.loads(result.stdout)["problems"]}
    assert {"count", "timezone", "colour"} <= fields


def test_an_event_type_calendly_does_not_know_exits_1(stack: ProxiedStack) -> None:
    result = stack.cli("propose", "-", stdin=json.dumps(_request(event_type={"slug": "nope"})))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "nope" in json.loads(result.stdout)["detail"]


def test_a_file_that_is_not_json_or_not_there_exits_2(stack: ProxiedStack, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"event_type": ')
    result = stack.cli("propose", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert result.stdout == ""
    missing = stack.cli("propose", str(tmp_path / "missing.json"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
