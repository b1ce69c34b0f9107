"""HTTP sources: their rows, the replay memory of signed deliveries, and per-minute call counts.

- A source is found by name, or by the SHA-256 digest of its API key (the key itself is never
  stored; a digest of a random 256-bit key needs no salt or slow hash).
- `remember_delivery` inserts `(source, delivery id)` once: a second insert of the same pair,
  even a concurrent one, reports a replay. Rows older than the replay window are pruned.
- `count_call` adds one call to the source's current minute and returns the count, in one
  `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, so concurrent servers count exactly.
These two are the database fallbacks; with Redis the intake uses Redis instead
(`autobook.sources.guards`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from autobook.models import (
    BookingRequestRow,
    IntakeDeliveryRow,
    IntakeRateRow,
    IntakeSourceRow,
    SourceAuth,
)
from autobook.store._common import dialect_name, now_or_utcnow, transactional

Source = IntakeSourceRow


class SourceExists(ValueError):
    """A source with that name exists already."""


@transactional
def add_source(
    session: Session,
    /,
    *,
    name: str,
    auth: SourceAuth,
    key_digest: str | None,
    secret_sealed: str | None,
    secret_hint: str,
    rate_per_minute: int,
    mapping_yaml: str | None = None,
    mapping_file: str | None = None,
    callback_url: str | None = None,
    callback_secret_sealed: str | None = None,
    now: datetime | None = None,
) -> Source:
    """Create a source; raises SourceExists if the name is taken."""
    values: dict[str, Any] = {
        "callback_url": callback_url,
        "callback_secret_sealed": callback_secret_sealed,
        "name": name,
        "auth": auth,
        "key_digest": key_digest,
        "secret_sealed": secret_sealed,
        "secret_hint": secret_hint,
        "rate_per_minute": rate_per_minute,
        "mapping_yaml": mapping_yaml,
        "mapping_file": mapping_file,
        "created_at": now_or_utcnow(now),
    }
    inserted = session.execute(
        _insert(session, Source)
        .values(values)
        .on_conflict_do_nothing(index_elements=[Source.name])
        .returning(Source.id)
    ).scalar_one_or_none()
    if inserted is None:
        raise SourceExists(f"a source named {name!r} exists already")
    return _by_id(session, inserted)


def _insert(session: Session, table: Any) -> Any:
    if dialect_name(session) == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def _by_id(session: Session, source_id: int) -> Source:
    statement = select(Source).where(Source.id == source_id)
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one()


@transactional
def source_by_name(session: Session, /, name: str) -> Source | None:
    statement = select(Source).where(Source.name == name)
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


@transactional
def source_by_key_digest(session: Session, /, key_digest: str) -> Source | None:
    statement = select(Source).where(
        Source.key_digest == key_digest, Source.auth == SourceAuth.API_KEY
    )
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


@transactional
def list_sources(session: Session, /) -> list[Source]:
    statement = select(Source).order_by(Source.name)
    return list(session.execute(statement.execution_options(populate_existing=True)).scalars())


@transactional
def rotate_source(
    session: Session,
    /,
    name: str,
    *,
    key_digest: str | None,
    secret_sealed: str | None,
    secret_hint: str,
    callback_secret_sealed: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Replace the source's credentials at once (the old ones stop working); False if unknown.

    `callback_secret_sealed`, when given, replaces the secret that signs its callbacks too.
    """
    extra = (
        {} if callback_secret_sealed is None else {"callback_secret_sealed": callback_secret_sealed}
    )
    changed = session.execute(
        update(Source)
        .where(Source.name == name)
        .values(
            **extra,
            key_digest=key_digest,
            secret_sealed=secret_sealed,
            secret_hint=secret_hint,
            rotated_at=now_or_utcnow(now),
        )
        .returning(Source.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return changed is not None


@transactional
def update_source(
    session: Session,
    /,
    name: str,
    *,
    mapping: tuple[str | None, str | None] | None = None,
    rate_per_minute: int | None = None,
    callback_url: tuple[str | None] | None = None,
) -> bool:
    """Change a source's mapping (text, file name), rate limit or callback URL; False if unknown.

    `callback_url` is a 1-tuple so that `(None,)` can clear it.
    """
    values: dict[str, Any] = {}
    if callback_url is not None:
        values["callback_url"] = callback_url[0]
    if mapping is not None:
        values["mapping_yaml"], values["mapping_file"] = mapping
    if rate_per_minute is not None:
        values["rate_per_minute"] = rate_per_minute
    if not values:
        return source_by_name(session, name) is not None
    changed = session.execute(
        update(Source)
        .where(Source.name == name)
        .values(values)
        .returning(Source.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return changed is not None


@transactional
def remove_source(session: Session, /, name: str) -> bool:
    """Delete the source (its requests stay, with no source); False if unknown."""
    source_id = session.execute(select(Source.id).where(Source.name == name)).scalar_one_or_none()
    if source_id is None:
        return False
    # Explicitly, not only by ON DELETE SET NULL: SQLite enforces it only with foreign keys on.
    session.execute(
        update(BookingRequestRow)
        .where(BookingRequestRow.source_id == source_id)
        .values(source_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(IntakeDeliveryRow).where(IntakeDeliveryRow.source_id == source_id))
    session.execute(delete(IntakeRateRow).where(IntakeRateRow.source_id == source_id))
    session.execute(delete(Source).where(Source.id == source_id))
    return True


@transactional
def remember_delivery(
    session: Session, /, source_id: int, delivery_id: str, *, now: datetime, keep: timedelta
) -> bool:
    """Record a delivery id; False if it was seen within `keep` (a replay)."""
    session.execute(delete(IntakeDeliveryRow).where(IntakeDeliveryRow.seen_at < now - keep))
    inserted = session.execute(
        _insert(session, IntakeDeliveryRow)
        .values(source_id=source_id, delivery_id=delivery_id, seen_at=now)
        .on_conflict_do_nothing(
            index_elements=[IntakeDeliveryRow.source_id, IntakeDeliveryRow.delivery_id]
        )
        .returning(IntakeDeliveryRow.id)
    ).scalar_one_or_none()
    return inserted is not None


@transactional
def forget_delivery(session: Session, /, source_id: int, delivery_id: str) -> None:
    """Forget a delivery whose request could not be recorded, so its retry is accepted."""
    session.execute(
        delete(IntakeDeliveryRow).where(
            IntakeDeliveryRow.source_id == source_id, IntakeDeliveryRow.delivery_id == delivery_id
        )
    )


@transactional
def count_call(session: Session, /, source_id: int, minute: int, *, calls: int = 1) -> int:
    """Count `calls` calls of the source in `minute` (minutes since the epoch); the new count."""
    statement = _insert(session, IntakeRateRow).values(
        source_id=source_id, minute=minute, calls=calls
    )
    statement = statement.on_conflict_do_update(
        index_elements=[IntakeRateRow.source_id, IntakeRateRow.minute],
        set_={"calls": IntakeRateRow.calls + calls},
    ).returning(IntakeRateRow.calls)
    counted: int = session.execute(statement).scalar_one()
    session.execute(
        delete(IntakeRateRow).where(
            IntakeRateRow.source_id == source_id, IntakeRateRow.minute < minute - 1
        )
    )
    return counted


@transactional
def request_of_source(
    session: Session, /, request_id: str, source_id: int
) -> BookingRequestRow | None:
    """The request with this id if this source sent it; None otherwise (even if it exists)."""
    statement = select(BookingRequestRow).where(
        BookingRequestRow.request_id == request_id, BookingRequestRow.source_id == source_id
    )
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()
