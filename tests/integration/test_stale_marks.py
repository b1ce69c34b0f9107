"""Stale marks in the data folder (`autobook.booking.stale_marks`), across two real processes:
on embedded defaults (no Redis) a slot opened by a cancellation, forgotten by one process, makes
every other process poll afresh instead of serving its cached snapshot; with no mark, the cache
serves."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from autobook.booking.availability import AvailabilitySnapshots
from autobook.booking.slots import SearchWindow
from autobook.booking.stale_marks import FolderStaleMarks

EVENT_TYPE = "https://api.calendly.com/event_types/abc"
OTHER_TYPE = "https://api.calendly.com/event_types/other"

# The other process: the one that got the cancellation, as `autobook.slot_opened` runs it.
FORGET = """
import sys
from pathlib import Path
from autobook.booking.availability import AvailabilitySnapshots
from autobook.booking.stale_marks import FolderStaleMarks
snapshots = AvailabilitySnapshots(
    None, ttl_seconds=60, shared=FolderStaleMarks(Path(sys.argv[1]))  # type: ignore[arg-type]
)
snapshots.forget(sys.argv[2])
"""


class Calendly:
    def __init__(self) -> None:
        self.polls: list[str] = []

    def list_available_times(self, uri: str, start: datetime, end: datetime) -> list[Any]:
        self.polls.append(uri)
        return []


def _forget_in_another_process(data_dir: Path, event_type_uri: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORGET, str(data_dir), event_type_uri],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_a_slot_opened_in_another_process_reaches_this_cache(tmp_path: Path) -> None:
    calendly = Calendly()
    snapshots = AvailabilitySnapshots(
        calendly,  # type: ignore[arg-type]
        ttl_seconds=60,
        shared=FolderStaleMarks(tmp_path),
    )
    start = datetime.now(UTC) + timedelta(hours=1)
    window = SearchWindow(start, start + timedelta(days=1))
    snapshots.get(EVENT_TYPE, window)
    snapshots.get(OTHER_TYPE, window)
    snapshots.get(EVENT_TYPE, window)
    assert calendly.polls == [EVENT_TYPE, OTHER_TYPE]  # the cache serves

    _forget_in_another_process(tmp_path, EVENT_TYPE)

    assert snapshots.get(EVENT_TYPE, window).fresh
    snapshots.get(OTHER_TYPE, window)
    assert calendly.polls == [EVENT_TYPE, OTHER_TYPE, EVENT_TYPE]  # only the marked type
    snapshots.get(EVENT_TYPE, window)
    assert calendly.polls.count(EVENT_TYPE) == 2  # the fresh poll serves again


def test_an_unreadable_mark_costs_nothing_but_the_cache(tmp_path: Path) -> None:
    marks = FolderStaleMarks(tmp_path)
    start = datetime.now(UTC)
    window = SearchWindow(start, start + timedelta(days=1))
    assert marks.load(EVENT_TYPE, window).stale_before is None
    marks.mark_stale(EVENT_TYPE, start, 60)
    assert marks.load(EVENT_TYPE, window).stale_before == start
    for path in (tmp_path / "availability-stale").iterdir():
        path.write_text("not a time")
    assert marks.load(EVENT_TYPE, window).stale_before is None
