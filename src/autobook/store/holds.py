"""The slots our requests hold, and the lock under which one more is chosen.

Choosing a slot and committing the intent that holds it are one transaction, taken under one
lock (`lock_slot_choice`), so two workers can never both pick the last open seat of a slot: the
second one sees the first one's intent row in `held_slots` and takes another slot. The lock is
held for the few milliseconds of that transaction, never across a Calendly call.

- PostgreSQL: a transaction-scoped advisory lock, the same key in every process.
- SQLite: the first statement is a fenced write on the request row, which takes the database's
  single write lock at once; every later read in the transaction sees the latest commits.

Which attempts hold a slot (`held_slots`), for a snapshot of availability polled at `since`:
- every attempt whose outcome is not known yet (`intent`, `sent`, `unknown`): its booking may land
  after any poll;
- bookings of ours (`booked`, `adopted`) recorded after `since`: the poll may predate them (one
  recorded before the poll began is in it: Calendly committed it before answering us);
- slots Calendly refused as `already_filled` after `since`: someone else has them, and the
  snapshot, polled before, still lists them.

An attempt whose POST Calendly committed just before a poll but whose answer came after it is
counted twice, by the listing and here: a seat of a group event may look taken while free (the
request joins the next start); never the reverse. The workers' clocks are assumed in sync (NTP).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from autobook.models import (
    UNRESOLVED_ATTEMPT_STATES,
    AttemptState,
    BookingAttemptRow,
    BookingRequestRow,
    UTCDateTime,
)
from autobook.store._common import (
    Claim,
    aware_utc,
    dialect_name,
    now_or_utcnow,
    table_of,
    transactional,
)
from autobook.store.lifecycle import fenced_update

Attempt = BookingAttemptRow

# Any constant 64-bit number works; it only has to be the same in every autobook process.
POSTGRES_SLOT_CHOICE_LOCK_KEY = 0x6175746F736C6F74  # "autoslot"
# Calendly's longest event type lasts 12 hours: an attempt that starts earlier than this before
# a range cannot overlap it.
LONGEST_MEETING = timedelta(hours=24)

BOOKED_STATES = frozenset({AttemptState.BOOKED, AttemptState.ADOPTED})

# request_pk, event_type_uri, slot_start, slot_end, blocks, state, slot_taken
HeldQuery = Select[int, str | None, datetime, datetime | None, list[str] | None, AttemptState, bool]


@dataclass(frozen=True)
class HeldSlot:
    """A slot one of our attempts holds (or may hold), or one Calendly said someone else took."""

    request_pk: int
    event_type_uri: str | None
    start: datetime
    end: datetime
    blocks: frozenset[str]
    unresolved: bool  # the attempt's outcome is not known yet: it may still fail
    taken_by_others: bool  # Calendly answered `already_filled` here


@transactional
def lock_slot_choice(
    session: Session,
    /,
    claim: Claim,
    *,
    now: datetime | None = None,
    lease_until: datetime | None = None,
    event_type_uri: str | None = None,
) -> Claim | None:
    """Take the slot-choice lock for this transaction; None means the lease is lost.

    The same fenced write renews the lease to `lease_until` (the POST that follows needs it
    long) and records the request's event type, which `held_slots` of others reads.
    """
    values: dict[str, object] = {"updated_at": now_or_utcnow(now)}
    if lease_until is not None:
        values["lease_expires_at"] = aware_utc(lease_until, "lease_until")
    if event_type_uri is not None:
        values["event_type_uri"] = event_type_uri
    if dialect_name(session) == "postgresql":
        # One round trip for the write and the lock: RETURNING runs once the row is written, so
        # the lock is taken only while the claim is ours, and the statements after this one
        # read with a snapshot taken after it (every intent committed before it was granted).
        parameters = {f"p_{name}": value for name, value in values.items()}
        parameters.update(p_pk=claim.request_pk, p_fence=claim.fence)
        locked = session.execute(_lock_statement(tuple(values)), parameters).first()
        if locked is None:
            return None
    elif not fenced_update(session, claim, values):
        # On SQLite this write is what takes the lock, and checks that the claim is ours.
        return None
    if lease_until is None:
        return claim
    return Claim(claim.request_pk, claim.fence, aware_utc(lease_until, "lease_until"), claim.worker)


@functools.cache
def _lock_statement(fields: tuple[str, ...]) -> Update:
    """PostgreSQL's fenced write that takes the lock, setting `fields`, built once per set of
    fields (building a statement cost more CPU than running it). Parameters: `p_pk`, `p_fence`
    and `p_<field>`, named apart from the columns (an executed UPDATE takes a parameter named as
    a column for a value to set)."""
    columns = table_of(BookingRequestRow).c
    return (
        update(BookingRequestRow)
        .where(
            BookingRequestRow.id == bindparam("p_pk"),
            BookingRequestRow.fence == bindparam("p_fence"),
        )
        .values({name: bindparam(f"p_{name}", type_=columns[name].type) for name in fields})
        .returning(func.pg_advisory_xact_lock(POSTGRES_SLOT_CHOICE_LOCK_KEY))
        .execution_options(synchronize_session=False)
    )


@functools.cache
def _held_statement() -> HeldQuery:
    """The query of `held_slots`, built once; parameters `p_end`, `p_floor` (the earliest start
    that may overlap) and `p_since`."""
    since = bindparam("p_since", type_=UTCDateTime())
    # Columns, not ORM objects: a busy minute holds hundreds of attempts, and building an
    # object (and its identity-map entry) for each was a tenth of a booking's time.
    return (
        select(
            Attempt.request_pk,
            BookingRequestRow.event_type_uri,
            Attempt.slot_start,
            Attempt.slot_end,
            Attempt.blocks,
            Attempt.state,
            Attempt.slot_taken,
        )
        .join(BookingRequestRow, BookingRequestRow.id == Attempt.request_pk)
        .where(
            Attempt.slot_start < bindparam("p_end", type_=UTCDateTime()),
            Attempt.slot_start > bindparam("p_floor", type_=UTCDateTime()),
            or_(
                Attempt.state.in_(sorted(UNRESOLVED_ATTEMPT_STATES)),
                and_(Attempt.state.in_(sorted(BOOKED_STATES)), Attempt.finished_at >= since),
                and_(Attempt.slot_taken.is_(True), Attempt.finished_at >= since),
            ),
        )
    )


@transactional
def held_slots(
    session: Session, /, *, start: datetime, end: datetime, since: datetime
) -> list[HeldSlot]:
    """The slots held by our attempts (or refused as taken) that may overlap `[start, end)`."""
    start, end, since = aware_utc(start, "start"), aware_utc(end, "end"), aware_utc(since, "since")
    statement = _held_statement()
    parameters = {"p_end": end, "p_floor": start - LONGEST_MEETING, "p_since": since}
    held: list[HeldSlot] = []
    for request_pk, event_type_uri, starts, ends, blocks, state, taken in session.execute(
        statement, parameters
    ):
        slot_start = aware_utc(starts, "slot_start")
        # Rows written before slot ends were recorded hold their start only.
        slot_end = (
            slot_start + timedelta(minutes=1) if ends is None else aware_utc(ends, "slot_end")
        )
        if slot_end <= start:
            continue
        held.append(
            HeldSlot(
                request_pk=request_pk,
                event_type_uri=event_type_uri,
                start=slot_start,
                end=slot_end,
                blocks=frozenset(blocks or ()),
                unresolved=state in UNRESOLVED_ATTEMPT_STATES,
                taken_by_others=bool(taken),
            )
        )
    return held
