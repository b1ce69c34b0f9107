"""`autobook submit` on hostile files: a one-line decode error for deep JSON, a conflict named.

Run as a subprocess on embedded defaults (SQLite, filesystem broker) in a temp folder, with no
worker: only intake is exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.invalid_requests import valid_base_request


def _submit(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOBOOK_DATA_DIR": str(tmp_path / "data"), "AUTOBOOK_BROKER_URL": ""}
    env.pop("AUTOBOOK_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "autobook", "submit", "-"],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_json_nested_100000_levels_is_a_one_line_decode_error(tmp_path: Path) -> None:
    done = _submit(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "RecursionError" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "nested too deeply" in done.stderr


def test_a_batch_with_hostile_items_keeps_its_good_ones_and_names_a_conflict(
    tmp_path: Path,
) -> None:
    first = valid_base_request("cli-reused")
    assert _submit(tmp_path, json.dumps(first)).returncode == 0
    changed = valid_base_request("cli-reused")
    changed["invitee"]["name"] = "Changed"
    overflow = valid_base_request("cli-overflow")
    overflow["start_after"] = "0001-01-01T00:00:00+14:00"
    nul = valid_base_request("cli-nul")
    nul["invitee"]["name"] = "Ada\u0000"
    items = [changed, overflow, nul, valid_base_request("cli-good")]
    done = _submit(tmp_path, json.dumps(items))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {line["request_id"]: line for line in lines}
    assert "another body" in by_id["cli-reused"]["conflict"]
    assert by_id["cli-overflow"]["status"] == "invalid"
    assert "start_after" in by_id["cli-overflow"]["reason"]
    assert by_id["cli-nul"]["status"] == "invalid"
    assert by_id["cli-good"]["status"] == "received"
    again = _submit(tmp_path, json.dumps(first))
    assert again.returncode == 0  # an identical resubmission stays a quiet no-op
    assert "conflict" not in json.loads(again.stdout)
