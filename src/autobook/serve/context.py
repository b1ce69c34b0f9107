"""What every handler of one `autobook serve` process shares, built once at start.

The database sessions, the Celery app that rings the doorbell, the guards (rate limits and
replay memory, in Redis or the database), the batchers that serve concurrent calls in one hop
(`admissions`: who is calling, and their rate; `committer`: the group commit), the sealer of
signing secrets (built on first use: a deployment with API keys only needs no key), and parsed
mappings, cached by their text so that a mapping changed in the database is read again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from autobook import db
from autobook.config import Settings
from autobook.doorbell import Doorbell
from autobook.serve.admission import Admissions
from autobook.serve.committer import Committer
from autobook.sources.guards import Guards, guards_for
from autobook.sources.mapping import Mapping, load_mapping
from autobook.sources.sealing import Sealer, sealer_for
from autobook.times import utc_now

log = logging.getLogger("autobook.serve")
T = TypeVar("T")
MAPPING_CACHE_SIZE = 64
# Threads that may run database and broker work at once. More only queue on the connection
# pool and the GIL: under 50 concurrent calls, 40 threads (Starlette's default) served fewer
# calls a second, with a far longer tail, than a few.
BLOCKING_THREADS = 4


@functools.lru_cache(maxsize=MAPPING_CACHE_SIZE)
def _parsed(digest: str, text: str, name: str) -> Mapping:
    return load_mapping(text, name=name)


@dataclass
class IntakeContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    guards: Guards
    celery: Any
    clock: Callable[[], datetime] = utc_now
    _sealer: Sealer | None = field(default=None, init=False)
    _limiter: anyio.CapacityLimiter | None = field(default=None, init=False)
    admissions: Admissions = field(init=False)
    committer: Committer = field(init=False)
    doorbell: Doorbell = field(init=False)

    def __post_init__(self) -> None:
        self.doorbell = Doorbell(self.celery)
        self.admissions = Admissions(self.sessions, self.guards, self.clock, self.run)
        self.committer = Committer(
            self.sessions,
            self.clock,
            self.ring_many,
            self.run,
            max_submissions=self.settings.serve_group_commit,
        )

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (database, broker, Redis) in one of `BLOCKING_THREADS` threads."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(BLOCKING_THREADS)
        call = functools.partial(function, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    @classmethod
    def build(cls, settings: Settings) -> IntakeContext:
        from autobook.worker import create_app

        engine = db.make_engine(settings.database_url)
        sessions = db.make_session_factory(engine)
        return cls(settings, engine, sessions, guards_for(settings, sessions), create_app(settings))

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            self._sealer = sealer_for(self.settings)
        return self._sealer

    def ring(self, request_id: str) -> None:
        """Ring for one request; raises if the broker could not take it."""
        self.doorbell.ring_many([request_id])

    def ring_many(self, request_ids: Sequence[str]) -> None:
        """Ring for each request, in one round trip; a broker that fails is left be.

        The requests are committed and due: the dispatcher sends whatever was not rung.
        """
        try:
            self.doorbell.ring_many(request_ids)
        except Exception:
            log.warning(
                "broker unavailable; %d request(s) will be sent by the dispatcher",
                len(request_ids),
            )

    def mapping(self, text: str, name: str) -> Mapping:
        return _parsed(hashlib.sha256(text.encode()).hexdigest(), text, name)

    def close(self) -> None:
        self.doorbell.close()
        self.celery.close()
        self.engine.dispose()
