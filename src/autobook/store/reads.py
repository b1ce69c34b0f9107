"""Reading requests and their history, always as the database has them now.

Reads follow the same transaction rule as writes (they end their own read transaction, so no
worker keeps a snapshot open), and they refresh rows already loaded in the session, so a caller
never sees a stale copy from the session's identity map.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autobook.models import BookingRequestRow, NextAction, RequestLogRow, RequestStatus
from autobook.store._common import UnknownRequest, transactional
from autobook.store.lifecycle import load_row

Row = BookingRequestRow


@transactional
def get(session: Session, /, request_pk: int) -> Row:
    """The request with this primary key; raises UnknownRequest if there is none."""
    row = load_row(session, request_pk)
    if row is None:
        raise UnknownRequest(f"no booking request has primary key {request_pk}")
    return row


@transactional
def get_by_request_id(session: Session, /, request_id: str) -> Row | None:
    """The request with this source `request_id`, or None."""
    statement = (
        select(Row).where(Row.request_id == request_id).execution_options(populate_existing=True)
    )
    return session.execute(statement).scalar_one_or_none()


@transactional
def list_requests(
    session: Session,
    /,
    *,
    limit: int | None = None,
    statuses: Collection[RequestStatus] | None = None,
) -> list[Row]:
    """The newest `limit` requests (all when None), in the order they arrived."""
    statement = select(Row).order_by(Row.id.desc()).execution_options(populate_existing=True)
    if statuses is not None:
        statement = statement.where(Row.status.in_(sorted(RequestStatus(s) for s in statuses)))
    if limit is not None:
        statement = statement.limit(limit)
    return list(reversed(session.execute(statement).scalars().all()))


@transactional
def counts_by_status(session: Session, /) -> dict[RequestStatus, int]:
    """How many requests are in each status (statuses with none are left out)."""
    rows = session.execute(select(Row.status, func.count()).group_by(Row.status)).all()
    return {status: count for status, count in rows}


@transactional
def logs_for(session: Session, /, request_pk: int) -> list[RequestLogRow]:
    """The request's history, oldest first."""
    statement = (
        select(RequestLogRow)
        .where(RequestLogRow.request_pk == request_pk)
        .order_by(RequestLogRow.id)
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


@transactional
def waiting_requests(session: Session, /) -> list[Row]:
    """The requests waiting for a slot to open (status `waiting`, next action search)."""
    statement = (
        select(Row)
        .where(Row.status == RequestStatus.WAITING, Row.next_action == NextAction.SEARCH)
        .order_by(Row.id)
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())
