"""The embedded budget file: the rules of `InMemoryBudget`, shared by every process on a machine.

Two `FileBudget`s on one file stand for two worker processes: they share nothing but the file.
A third process, started for real, spends from the same file too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autobook.calendly.budget import STANDARD
from autobook.calendly.budget_file import FileBudget, read_file_state
from autobook.calendly.budget_view import file_budgets
from autobook.calendly.limits import SAFETY_MARGIN_SECONDS


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_two_processes_share_the_booking_limit_and_a_penalty(tmp_path: Path) -> None:
    path, clock = tmp_path / "budget.json", FakeClock()
    first = FileBudget(path, STANDARD, clock=clock)
    second = FileBudget(path, STANDARD, clock=clock)
    for index in range(10):  # Standard: 10 bookings a minute, between both
        assert (first if index % 2 else second).acquire("u", "invitee_post") == 0
    assert first.acquire("u", "invitee_post") == 60 + SAFETY_MARGIN_SECONDS
    assert second.acquire("u", "invitee_post") == 60 + SAFETY_MARGIN_SECONDS
    clock.now += 61
    assert second.acquire("u", "invitee_post") == 0
    second.penalize("u", 30, kind="general")  # a 429: every process waits it out
    assert first.acquire("u", "general") == 30
    assert first.acquire("other-user", "general") == 0


def test_the_view_reads_what_was_spent_and_when_a_booking_may_go(tmp_path: Path) -> None:
    path, clock = tmp_path / "budget.json", FakeClock()
    budget = FileBudget(path, STANDARD, clock=clock)
    for _ in range(10):
        budget.acquire("u", "invitee_post")
    clock.now += 20
    (user,) = file_budgets(read_file_state(path), STANDARD, clock.now)
    windows = {w.window: (w.used, w.limit, w.remaining) for w in user.windows}
    assert windows["invitee:minute"] == (10, 10, 0)
    assert windows["invitee:day"] == (10, 100, 90)
    assert 40 < user.next_booking_in_seconds <= 41


def test_a_real_second_process_spends_from_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "budget.json"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from autobook.calendly.budget_file import FileBudget\n"
        "budget = FileBudget(Path(sys.argv[1]), 'standard')\n"
        "print(sum(budget.acquire('u', 'invitee_post') == 0 for _ in range(7)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "7"
    here = FileBudget(path, STANDARD)
    granted = sum(here.acquire("u", "invitee_post") == 0 for _ in range(7))
    assert granted == 3  # 10 a minute in all
