"""Booking attempts: the intent committed before each `POST /invitees`, and how it ended.

`POST /invitees` has no idempotency key, so the intent row is the only memory that a booking may
exist. The rules:
- `record_intent` is fenced and refused while sending is paused (the 401 rule: no POST after the
  first 401). In the same transaction it counts the attempt and sets the request to `booking`
  with next action `reconcile`: if the worker dies after the POST, whoever claims the request
  next reconciles before it could ever send again.
- `finish_attempt` moves an attempt along `intent -> sent -> booked | rejected | not_sent |
  unknown`, and an unresolved one (`intent`, `sent`, `unknown`) to `adopted | not_found`. A
  transition from any other state is a bug and raises ValueError. Every write is fenced by
  locking the request row at the claim's fence first.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Integer, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from autobook.models import (
    UNRESOLVED_ATTEMPT_STATES,
    AttemptState,
    BookingAttemptRow,
    BookingRequestRow,
    NextAction,
    RequestStatus,
    UTCDateTime,
)
from autobook.store._common import (
    Claim,
    aware_utc,
    dialect_name,
    now_or_utcnow,
    sending_is_paused,
    table_of,
    transactional,
)
from autobook.store.lifecycle import fenced_update

Attempt = BookingAttemptRow

# Which states each outcome may follow.
ALLOWED_PREDECESSORS: dict[AttemptState, frozenset[AttemptState]] = {
    AttemptState.SENT: frozenset({AttemptState.INTENT}),
    AttemptState.BOOKED: frozenset({AttemptState.INTENT, AttemptState.SENT}),
    AttemptState.REJECTED: frozenset({AttemptState.INTENT, AttemptState.SENT}),
    AttemptState.NOT_SENT: frozenset({AttemptState.INTENT, AttemptState.SENT}),
    AttemptState.UNKNOWN: frozenset({AttemptState.INTENT, AttemptState.SENT}),
    AttemptState.ADOPTED: UNRESOLVED_ATTEMPT_STATES,
    AttemptState.NOT_FOUND: UNRESOLVED_ATTEMPT_STATES,
}


@transactional
def record_intent(
    session: Session,
    /,
    claim: Claim,
    *,
    slot_start: datetime,
    correlation_token: str,
    slot_end: datetime | None = None,
    blocks: Collection[str] = (),
    now: datetime | None = None,
) -> int | None:
    """Write the intent row; its id, or None: the lease is lost, sending is paused or the
    request was withdrawn. Don't POST.

    Commit before the POST (see the transaction rule in `autobook.store`).
    """
    now = now_or_utcnow(now)
    intent: dict[str, Any] = {
        "request_pk": claim.request_pk,
        "fence": claim.fence,
        "slot_start": aware_utc(slot_start, "slot_start"),
        "slot_end": None if slot_end is None else aware_utc(slot_end, "slot_end"),
        "blocks": sorted(blocks),
        "slot_taken": False,
        "correlation_token": correlation_token,
        "state": AttemptState.INTENT,
        "reconcile_looks": 0,
        "created_at": now,
    }
    if dialect_name(session) == "postgresql":
        # One round trip: the INSERT takes its one row from the UPDATE's, so no request row
        # counted (fence lost, paused, withdrawn) means no intent. It runs under the
        # slot-choice lock, where every round trip is every worker's wait.
        parameters = {f"intent_{name}": value for name, value in intent.items()}
        attempt_id: int | None = session.execute(
            _intent_statement(), parameters
        ).scalar_one_or_none()
        return attempt_id
    counted = _count_attempt(
        {
            "request_pk": claim.request_pk,
            "fence": claim.fence,
            "correlation_token": correlation_token,
            "created_at": now,
        }
    )
    request_pk = session.execute(counted).scalar_one_or_none()
    if request_pk is None:
        return None
    return session.execute(insert(Attempt).values(intent).returning(Attempt.id)).scalar_one()


INTENT_FIELDS = (
    "request_pk",
    "fence",
    "slot_start",
    "slot_end",
    "blocks",
    "slot_taken",
    "correlation_token",
    "state",
    "reconcile_looks",
    "created_at",
)


def _count_attempt(bound: Mapping[str, Any]) -> Update:
    """The fenced UPDATE that counts an attempt and makes reconcile the request's next action.

    `bound` gives `request_pk`, `fence`, `correlation_token` and `created_at` (values, or bound
    parameters of those names).
    """
    return (
        update(BookingRequestRow)
        .where(
            BookingRequestRow.id == bound["request_pk"],
            BookingRequestRow.fence == bound["fence"],
            # A request its producer asked to withdraw is never sent (see `store.withdraw`).
            BookingRequestRow.cancel_requested_at.is_(None),
            ~sending_is_paused(),
        )
        .values(
            attempts=BookingRequestRow.attempts + 1,
            status=RequestStatus.BOOKING,
            next_action=NextAction.RECONCILE,
            correlation_token=bound["correlation_token"],
            updated_at=bound["created_at"],
        )
        .returning(BookingRequestRow.id)
        .execution_options(synchronize_session=False)
    )


@functools.cache
def _intent_statement() -> Insert:
    """PostgreSQL's one statement for `record_intent`, built once (building it cost more CPU
    than running it): the counting UPDATE in a CTE, and the INSERT of the intent from its one
    row. Its parameters are INTENT_FIELDS, each prefixed `intent_`."""
    # The table, not the ORM entity: with its parameters given as a dict, an ORM insert is
    # taken for a bulk insert of that one row.
    table = table_of(Attempt)
    # Named apart from every column: an executed UPDATE or INSERT takes a parameter named as
    # one of its columns for a value to set.
    bound = {name: bindparam(f"intent_{name}", type_=table.c[name].type) for name in INTENT_FIELDS}
    counted = _count_attempt(bound).cte("counted")
    source = select(*bound.values()).select_from(counted)
    return (
        insert(table)
        .from_select(list(INTENT_FIELDS), source)
        .returning(table.c.id)
        .add_cte(counted, nest_here=True)
    )


def move_attempt(
    session: Session,
    claim: Claim,
    attempt_id: int,
    *,
    state: AttemptState | str,
    http_status: int | None = None,
    reason: str | None = None,
    slot_taken: bool = False,
    add_blocks: Collection[str] = (),
    now: datetime | None = None,
) -> bool:
    """Record how the attempt ended (or that it was sent); False means the lease is lost.

    `slot_taken` records an `already_filled` refusal; `add_blocks` adds calendars the slot
    blocks (once booked, the hosts Calendly assigned are known). This runs in the caller's
    transaction (`store.record_booking` moves the attempt with the release in one);
    `finish_attempt` is the same in a transaction of its own.

    PostgreSQL: one statement, the fenced write of the request row in a CTE the attempt's
    UPDATE joins, so no attempt moves unless the claim is ours, and the request row is locked
    first. SQLite: the fenced write, then the attempt's.
    """
    now = now_or_utcnow(now)
    state = AttemptState(state)
    if state not in ALLOWED_PREDECESSORS:
        raise ValueError(f"an attempt cannot move to {state}")
    postgresql = dialect_name(session) == "postgresql"
    if not postgresql and not fenced_update(session, claim, {"updated_at": now}):
        return False
    values: dict[str, Any] = {"state": state}
    if state is not AttemptState.SENT:
        values["finished_at"] = now
    if http_status is not None:
        values["http_status"] = http_status
    if reason is not None:
        values["reason"] = reason
    if slot_taken:
        values["slot_taken"] = True
    if add_blocks:
        current = session.execute(select(Attempt.blocks).where(Attempt.id == attempt_id))
        values["blocks"] = sorted(set(current.scalar_one_or_none() or ()) | set(add_blocks))
    if postgresql:
        parameters = {f"p_{name}": value for name, value in values.items()}
        parameters.update(p_id=attempt_id, p_pk=claim.request_pk, p_fence=claim.fence, p_now=now)
        statement = _fenced_move_statement(state, tuple(values))
        moved = session.execute(statement, parameters).scalar_one_or_none()
    else:
        moved = session.execute(
            update(Attempt)
            .where(
                Attempt.id == attempt_id,
                Attempt.request_pk == claim.request_pk,
                Attempt.state.in_(sorted(ALLOWED_PREDECESSORS[state])),
            )
            .values(values)
            .returning(Attempt.id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
    if moved is None:
        if postgresql and not _claim_holds(session, claim):
            return False
        raise ValueError(
            f"attempt {attempt_id} of request {claim.request_pk} cannot become {state}"
        )
    return True


# The same, committed on its own when the caller holds no transaction (see `transactional`).
finish_attempt = transactional(move_attempt)


@functools.cache
def _fenced_move_statement(state: AttemptState, fields: tuple[str, ...]) -> Update:
    """PostgreSQL's one statement for a move to `state` setting `fields`, built once for each
    (building it cost more CPU than running it): the fenced write of the request row in a CTE
    the attempt's UPDATE joins. Parameters: `p_id`, `p_pk`, `p_fence`, `p_now` and
    `p_<field>`, named apart from the columns (an executed UPDATE takes a parameter named as a
    column for a value to set)."""
    request_pk = bindparam("p_pk", type_=Integer())
    fenced = (
        update(BookingRequestRow)
        .where(BookingRequestRow.id == request_pk, BookingRequestRow.fence == bindparam("p_fence"))
        .values(updated_at=bindparam("p_now", type_=UTCDateTime()))
        .returning(BookingRequestRow.id)
        .cte("fenced")
    )
    columns = table_of(Attempt).c
    return (
        update(Attempt)
        .where(
            Attempt.id == bindparam("p_id"),
            Attempt.request_pk == request_pk,
            Attempt.state.in_(sorted(ALLOWED_PREDECESSORS[state])),
            Attempt.request_pk == fenced.c.id,
        )
        .values({name: bindparam(f"p_{name}", type_=columns[name].type) for name in fields})
        .returning(Attempt.id)
        .execution_options(synchronize_session=False)
        .add_cte(fenced)
    )


def _claim_holds(session: Session, claim: Claim) -> bool:
    """Whether the claim's fence is still the request's (after a move that did not apply)."""
    return (
        session.execute(
            select(BookingRequestRow.id).where(
                BookingRequestRow.id == claim.request_pk, BookingRequestRow.fence == claim.fence
            )
        ).scalar_one_or_none()
        is not None
    )


@transactional
def note_reconcile_look(
    session: Session, /, claim: Claim, attempt_id: int, *, looks: int, now: datetime | None = None
) -> bool:
    """Record that reconciliation looked `looks` times without finding the booking."""
    if not fenced_update(session, claim, {"updated_at": now_or_utcnow(now)}):
        return False
    moved = session.execute(
        update(Attempt)
        .where(
            Attempt.id == attempt_id,
            Attempt.request_pk == claim.request_pk,
            Attempt.state.in_(sorted(UNRESOLVED_ATTEMPT_STATES)),
            Attempt.reconcile_looks < looks,
        )
        .values(reconcile_looks=looks)
        .returning(Attempt.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return moved is not None


@transactional
def attempts_for(session: Session, /, request_pk: int) -> list[Attempt]:
    """Every attempt of the request, oldest first."""
    statement = (
        select(Attempt)
        .where(Attempt.request_pk == request_pk)
        .order_by(Attempt.id)
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


@transactional
def latest_unresolved_attempt(session: Session, /, request_pk: int) -> Attempt | None:
    """The newest attempt whose outcome is not known (intent, sent or unknown), if any."""
    statement = (
        select(Attempt)
        .where(
            Attempt.request_pk == request_pk,
            Attempt.state.in_(sorted(UNRESOLVED_ATTEMPT_STATES)),
        )
        .order_by(Attempt.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalar_one_or_none()


@transactional
def has_unknown_attempt(session: Session, /, request_pk: int) -> bool:
    """Whether some attempt's outcome is still unknown, so a booking of ours may exist."""
    statement = select(
        select(Attempt.id)
        .where(
            Attempt.request_pk == request_pk,
            Attempt.state.in_(sorted(UNRESOLVED_ATTEMPT_STATES)),
        )
        .exists()
    )
    return bool(session.execute(statement).scalar())
