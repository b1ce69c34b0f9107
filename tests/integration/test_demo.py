"""`autobook demo` as a user runs it, piped (rich then lays out for 80 columns).

Checked: it ends 0 with every request terminal; every link in its output is whole on one line;
the id it suggests for `autobook status` is accepted by that command; and with a `--timeout` too
short for the follow-up, it says it timed out, what was pending and why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEMO_TIMEOUT_SECONDS = 240
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The sandbox's links open its own pages (http://127.0.0.1:PORT/cancellations/...).
LINK = re.compile(rf"https?://[\w.:-]+/(cancellations|reschedulings)/{UUID}")


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")}
    env["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "autobook", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
    )


def test_the_demo_books_and_prints_whole_links_and_a_usable_status_hint(tmp_path: Path) -> None:
    result = _run(tmp_path, "demo")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    links = [m.group(0) for line in lines for m in LINK.finditer(line)]
    assert len(links) >= 2 * 10  # a cancel and a reschedule link per booking
    # A folded link would leave a line ending in a partial URL.
    assert not any(re.search(r"https?://\S*$", line) and not LINK.search(line) for line in lines)
    hint = next(line for line in lines if "autobook status demo-" in line)
    request_id = hint.rsplit(" ", 1)[-1]
    assert any(line.startswith(request_id + " ") for line in lines)  # the table shows it whole
    status = subprocess.run(
        [sys.executable, "-m", "autobook", "status", request_id],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")},
            "AUTOBOOK_DATA_DIR": ".autobook/demo",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert request_id in status.stdout


def test_a_demo_that_times_out_says_so_and_what_was_pending(tmp_path: Path) -> None:
    # The follow-up is held for 8 s after submission: a 1 s timeout always catches it.
    result = _run(tmp_path, "demo", "--timeout", "1")
    assert result.returncode == 1
    assert "timed out after 1s" in result.stdout
    assert re.search(r"demo-\w+-follow-up: a follow-up, held until its start_after", result.stdout)
    assert "Traceback" not in result.stderr
