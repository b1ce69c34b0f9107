"""The group committer of one `autobook serve` process: concurrent submissions, one transaction.

Every `POST /v1/bookings` hands its items to the committer and waits. The submissions that arrive
while a commit runs are recorded together by the next one (`intake.record_together`: one
transaction, and each item on its own again should that transaction fail), then the doorbells
of those due now are rung over one broker connection. Only then is each caller answered, so a
202 still means committed; a database that can't be reached fails the whole group, every caller
answers 503, and nothing was recorded. A lone submission is committed at once, as before.

`max_submissions` (`autobook serve --group-commit N`, default 64) bounds the HTTP calls of one
transaction (one call may carry up to 500 items); 1 commits each call alone, as the intake did
before: `bench/intake.py` runs it as its naive baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from autobook import intake
from autobook.intake import SubmitResult
from autobook.serve.batching import Batcher, Blocking

# Commits that may run at once (each in its own thread and connection): a second one gathers
# and records while the first waits on the database's fsync.
CONCURRENT_COMMITS = 2


@dataclass(frozen=True)
class Submission:
    source_id: int
    items: Sequence[object]


class Committer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        ring_many: Callable[[Sequence[str]], None],
        blocking: Blocking,
        *,
        max_submissions: int,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._ring_many = ring_many
        self._batcher: Batcher[Submission, list[SubmitResult]] = Batcher(
            self._commit,
            blocking,
            max_items=max_submissions,
            concurrency=CONCURRENT_COMMITS,
        )

    async def submit(self, source_id: int, items: Sequence[object]) -> list[SubmitResult]:
        """Record the items of one call (with the others arriving now); their results, in order."""
        return await self._batcher(Submission(source_id, items))

    def _commit(self, submissions: list[Submission]) -> list[list[SubmitResult] | BaseException]:
        groups = [(submission.source_id, submission.items) for submission in submissions]
        results = intake.record_together(self._sessions, groups, now=self._clock)
        self._ring_many([r.request_id for group in results for r in group if r.due_now])
        return list(results)
