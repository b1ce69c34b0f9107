"""The store's plumbing: transaction scope, errors, the claim, and the shared SQL predicates.

Transaction rule (applies to every public store function):
- Inside a transaction the caller began (`with sessions.begin() as session:`), a store function
  joins it: the caller's block commits (or rolls back) everything at once, so a transition and
  its log entry can be atomic. Commit before any call that must see the write durable: the intent
  row is committed before `POST /invitees` by leaving that block first.
- Otherwise (a plain `with sessions() as session:`), each store function is its own transaction
  and has committed when it returns.
- A session with pending ORM changes is refused: only store functions write these tables.

`sqlalchemy` exceptions never leave the store: they become `StoreUnavailable` (cannot reach the
database, or it stayed locked: retry later) or `StoreError`. A naive datetime raises ValueError.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Select, Table, and_, or_, select, update
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, SessionTransactionOrigin

from autobook.errors import AutobookError
from autobook.models import (
    TERMINAL_STATUSES,
    Base,
    BookingRequestRow,
    NextAction,
    ServiceStateRow,
    utcnow,
)

P = ParamSpec("P")
R = TypeVar("R")


def table_of(model: type[Base]) -> Table:
    """A model's table: Core statements on it skip the ORM's per-row work (the hot paths), and
    an INSERT on it with a dict of parameters is not taken for an ORM bulk insert."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class StoreError(AutobookError):
    """The database failed the operation."""


class StoreUnavailable(StoreError):
    """The database could not be reached or stayed locked; try again later."""


class UnknownRequest(StoreError):
    """No booking request has that primary key."""


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one request: valid while `fence` is the row's current fence."""

    request_pk: int
    fence: int
    lease_expires_at: datetime
    worker: str


def aware_utc(value: datetime, name: str = "now") -> datetime:
    """`value` in UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime; give an aware UTC datetime")
    return value.astimezone(UTC)


def now_or_utcnow(now: datetime | None) -> datetime:
    return utcnow() if now is None else aware_utc(now)


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def sending_is_paused() -> ColumnElement[bool]:
    """True while the 401 rule holds all sending (see `autobook.store.pause`)."""
    return (
        select(ServiceStateRow.id)
        .where(ServiceStateRow.sending_paused_reason.is_not(None))
        .exists()
    )


def is_claimable(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """A request a worker may claim at `now`: the same rule as what the dispatcher re-sends.

    `now` may be a bound parameter, for a statement built once.

    Non-terminal requests, and the one terminal case with work left: a `booked` request whose
    meeting must be canceled at Calendly (next action `cancel`).
    """
    row = BookingRequestRow
    return and_(
        or_(
            row.status.not_in(sorted(TERMINAL_STATUSES)),
            row.next_action == NextAction.CANCEL,
        ),
        row.next_action != NextAction.NONE,
        row.next_action_at <= now,  # NULL never compares true
        or_(row.lease_expires_at.is_(None), row.lease_expires_at <= now),
        ~sending_is_paused(),
    )


def _caller_owns_transaction(session: Session) -> bool:
    transaction = session.get_transaction()
    return transaction is not None and transaction.origin is not SessionTransactionOrigin.AUTOBEGIN


def _translate(exc: SQLAlchemyError) -> Exception:
    if (
        isinstance(exc, StatementError)
        and not isinstance(exc, DBAPIError)
        and isinstance(exc.orig, ValueError | TypeError)
    ):
        return exc.orig  # a bad argument (e.g. a naive datetime), not a database failure
    # The driver's message, never SQLAlchemy's str(exc): that one quotes the bound parameters.
    detail = str(exc.orig).strip().splitlines()[0] if isinstance(exc, DBAPIError) else str(exc)
    message = f"{type(exc).__name__}: {detail[:300]}"
    unavailable = OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError
    if isinstance(exc, unavailable):
        return StoreUnavailable(message)
    return StoreError(message)


def _refuse_pending_changes(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(
            "the session holds unflushed ORM changes; only autobook.store writes these tables"
        )


def transactional(
    function: Callable[Concatenate[Session, P], R],
) -> Callable[Concatenate[Session, P], R]:
    """Apply the transaction rule of this module's docstring to a store function."""

    @functools.wraps(function)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        _refuse_pending_changes(session)
        if _caller_owns_transaction(session):
            try:
                return function(session, *args, **kwargs)
            except SQLAlchemyError as exc:
                raise _translate(exc) from exc
        try:
            result = function(session, *args, **kwargs)
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise _translate(exc) from exc
        except BaseException:
            session.rollback()
            raise
        return result

    return run


def take_for_dispatch(
    session: Session, model: Any, candidates: Select[Any], now: datetime, *returning: Any
) -> list[Any]:
    """Mark the rows `candidates` selects (by `model.id`) dispatched at `now`, in one
    conditional UPDATE, and return `returning` of each, in no promised order.

    On PostgreSQL the candidates are locked `SKIP LOCKED`, so dispatchers in several processes
    take each row once; SQLite's single writer does that by itself.
    """
    if dialect_name(session) == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=model)
    return list(
        session.execute(
            update(model)
            .where(model.id.in_(candidates))
            .values(dispatched_at=now)
            .returning(*returning)
            .execution_options(synchronize_session=False)
        ).all()
    )
