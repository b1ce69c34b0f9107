"""Stale marks in the data folder: a slot that opened reaches every process's cache, no Redis.

On embedded defaults (SQLite and the filesystem broker) each worker process keeps its own
availability snapshots. When a cancellation opens a slot, the process that hears of it (the one
running `autobook.slot_opened`) drops its snapshots, but the other pool processes, and other
workers on the same data folder, would go on serving theirs, in which that slot is still taken,
until their TTL ends. So `forget` also writes a stale mark here: one small file per event type,
`<data_dir>/availability-stale/<digest>`, holding the time of the mark. Before serving a snapshot
every process reads the mark of its event type (one small file read), and a snapshot polled at or
before the mark is never served again, exactly as the Redis `stale-before` key does.

Only the marks are shared, not the snapshots: those stay per process (a file per poll would
cost more than it saves). A mark is written to a temporary file and renamed, so a reader never
sees half of one; a mark that can't be read or written only costs a poll or a TTL.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from autobook.booking.availability import SharedLoad, Snapshot
from autobook.booking.slots import SearchWindow

MARKS_DIR_NAME = "availability-stale"


class FolderStaleMarks:
    """`SharedSnapshots` over a folder: shares the stale marks (module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self._folder = data_dir / MARKS_DIR_NAME

    def _path(self, event_type_uri: str) -> Path:
        return self._folder / hashlib.sha256(event_type_uri.encode()).hexdigest()[:32]

    def load(self, event_type_uri: str, window: SearchWindow) -> SharedLoad:
        try:
            text = self._path(event_type_uri).read_text()
            return SharedLoad(None, datetime.fromisoformat(text.strip()))
        except (OSError, ValueError):
            return SharedLoad(None, None)

    def save(self, event_type_uri: str, snapshot: Snapshot, ttl_seconds: float) -> None:
        """Snapshots stay in their process: only the marks are shared."""

    def mark_stale(self, event_type_uri: str, at: datetime, ttl_seconds: float) -> None:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self._folder, prefix=".mark-")
            with os.fdopen(handle, "w") as written:
                written.write(at.isoformat())
            os.replace(temporary, self._path(event_type_uri))
        except OSError:
            return
