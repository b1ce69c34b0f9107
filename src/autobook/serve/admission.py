"""Find the sources behind concurrent calls, and count their calls, in one hop for them all.

Each call's credentials are looked up in the database every time (so a removed or rotated key is
refused at once: nothing is cached across calls), but the calls that arrive together share one
transaction, and one lookup per distinct key or name. An API-key call is counted against its
source's rate in the same hop (one Redis pipeline, or one database transaction): for such a call
nothing happens between knowing the caller and counting it. A signing source's call is counted
only once its signature verified (`callers.check_rate`), so a knock never counts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.models import IntakeSourceRow, SourceAuth
from autobook.serve.batching import Batcher, Blocking
from autobook.sources.credentials import key_digest
from autobook.sources.guards import Guards, RateVerdict

MAX_KNOCKS_PER_HOP = 128


@dataclass(frozen=True)
class Knock:
    """What a call presents: a bearer key, or the name of a signing source."""

    key: str | None
    name: str | None
    count: bool = True  # count an API-key call against its source's rate


@dataclass(frozen=True)
class Admission:
    source: IntakeSourceRow | None  # None: no such key, or no such name
    verdict: RateVerdict | None  # set when the call was counted


def _look_up(session: Session, key: str | None, name: str | None) -> IntakeSourceRow | None:
    if key is not None:
        return store.source_by_key_digest(session, key_digest(key))
    assert name is not None
    return store.source_by_name(session, name)


class Admissions:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        guards: Guards,
        clock: Callable[[], datetime],
        blocking: Blocking,
    ) -> None:
        self._sessions = sessions
        self._guards = guards
        self._clock = clock
        self._batcher: Batcher[Knock, Admission] = Batcher(
            self._admit, blocking, max_items=MAX_KNOCKS_PER_HOP
        )

    async def admit(self, knock: Knock) -> Admission:
        return await self._batcher(knock)

    def _admit(self, knocks: list[Knock]) -> list[Admission | BaseException]:
        found: dict[tuple[str | None, str | None], IntakeSourceRow | None] = {}
        # Each lookup is its own (read) transaction, as the store's rule makes it: nothing is
        # committed here that could fail other than as `StoreUnavailable`.
        with self._sessions() as session:
            for knock in knocks:
                credentials = (knock.key, knock.name)
                if credentials not in found:
                    found[credentials] = _look_up(session, knock.key, knock.name)
        sources = [found[(knock.key, knock.name)] for knock in knocks]
        counted: list[tuple[int, IntakeSourceRow]] = []
        for index, (knock, source) in enumerate(zip(knocks, sources, strict=True)):
            if source is None or knock.key is None or not knock.count:
                continue  # unknown, or a name (a signing source counts once it verified)
            if source.auth is SourceAuth.API_KEY:
                counted.append((index, source))
        calls = [(source.id, source.rate_per_minute) for _, source in counted]
        verdicts = self._guards.count_calls(calls, self._clock()) if calls else []
        by_index = {index: verdict for (index, _), verdict in zip(counted, verdicts, strict=True)}
        return [Admission(source, by_index.get(i)) for i, source in enumerate(sources)]
