"""The rate budget on embedded defaults: one file in the data folder, shared by every process.

Without Redis, each worker process kept its own `InMemoryBudget`, so two processes (a worker's
prefork children, or two workers on one data folder) could together send more than Calendly
allows, and nothing outside a worker could see what was spent. `FileBudget` keeps the same
sliding-window logs and penalties (same rules, same arithmetic: it is an `InMemoryBudget` whose
state lives in a JSON file) under an exclusive `flock`, read and written once per call; the
clock is the wall clock (UTC seconds), which every process of the machine shares.
`autobook status --budget` reads the file under a shared lock (`read_file_state`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from .budget import InMemoryBudget
from .limits import STANDARD, CallKind, PlanLimits

BUDGET_FILE_NAME = "budget.json"
# Keys in the file: "<user>|<window or penalty scope>".
SEPARATOR = "|"


@contextlib.contextmanager
def _locked(path: Path, mode: int) -> Iterator[TextIO]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, mode)
        try:
            handle.seek(0)
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _parse(text: str) -> dict[str, Any]:
    try:
        state = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}  # a torn or foreign file: start afresh (at worst a window is counted anew)
    return state if isinstance(state, dict) else {}


def read_file_state(path: Path) -> dict[str, Any]:
    """The budget file as saved: `{"logs": {key: [times]}, "penalties": {key: until}}`."""
    if not path.exists():
        return {}
    with _locked(path, fcntl.LOCK_SH) as handle:
        return _parse(handle.read())


class FileBudget(InMemoryBudget):
    """`InMemoryBudget`'s rules, with its state in a file every process of the machine shares."""

    def __init__(
        self,
        path: Path,
        plan: PlanLimits | str = STANDARD,
        *,
        per_user: Mapping[str, PlanLimits] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(plan, per_user=per_user, clock=clock)
        self._path = path
        # The threads of one process take turns here; the parent's own lock is taken inside.
        self._file_turn = threading.Lock()

    def acquire(self, user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        with self._shared_state():
            return super().acquire(user_key, kind, priority=priority)

    def penalize(self, user_key: str, seconds: float, *, kind: CallKind | None = None) -> None:
        with self._shared_state():
            super().penalize(user_key, seconds, kind=kind)

    @contextlib.contextmanager
    def _shared_state(self) -> Iterator[None]:
        with self._file_turn, _locked(self._path, fcntl.LOCK_EX) as handle:
            state = _parse(handle.read())
            self._logs = {
                _split(key): deque(sorted(float(t) for t in times))
                for key, times in dict(state.get("logs") or {}).items()
            }
            self._penalties = {
                _split(key): float(until)
                for key, until in dict(state.get("penalties") or {}).items()
            }
            yield
            now = self._clock()
            saved = {
                "logs": {_join(key): list(log) for key, log in self._logs.items() if log},
                # A penalty that is over is dropped, so the file does not grow.
                "penalties": {
                    _join(key): until for key, until in self._penalties.items() if until > now
                },
            }
            handle.seek(0)
            handle.truncate()
            # Flushed, not synced: other processes read it through the same page cache. After a
            # crash the budget may count a window anew: at worst one 429, which all then wait out.
            handle.write(json.dumps(saved))
            handle.flush()


def _split(key: str) -> tuple[str, str]:
    user, _, name = key.rpartition(SEPARATOR)
    return user, name


def _join(key: tuple[str, str]) -> str:
    return f"{key[0]}{SEPARATOR}{key[1]}"
