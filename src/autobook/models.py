"""SQLAlchemy tables: booking requests, their booking attempts, their log, the service state.

The database is the truth of the whole worker; the broker only rings the doorbell. These classes
declare the schema; `autobook.store` is the only code that writes it, one conditional UPDATE per
state transition (read its docstring for the rules). Alembic migrations under
`autobook/migrations/` create the same schema, and a test checks that they never drift apart.

Invariants:
- Every datetime is UTC. Callers give and get timezone-aware UTC datetimes; `UTCDateTime` refuses
  naive ones. PostgreSQL stores `timestamptz`; SQLite stores naive UTC text, whose fixed-width
  format sorts in time order, so SQL comparisons such as `lease_expires_at <= :now` stay right.
- Statuses, actions and attempt states are `StrEnum`s stored as short strings (not native enums),
  so adding a value needs no type migration.
- `booking_request.request_id` is unique: it is the source's idempotency key.
- `request_log` is append-only; the migration adds a trigger that refuses any UPDATE of it.
- `service_state` holds exactly one row (id 1): the global sending pause of the 401 rule.
- No column ever holds the Calendly token, nor a source's secret in clear: an API key is kept as
  its SHA-256 digest, a signing secret sealed (see `autobook.sources.sealing`).
- A booked request whose cancellation at Calendly is due keeps its terminal status `booked` with
  next action `cancel`; it is the one terminal row with a next action (see `store.withdraw`).
- `callback` is the outbox: a row is written in the transaction of the outcome it reports, and
  its `webhook_id` never changes, whatever the number of attempts (`callback_attempt`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from autobook.source_auth import SourceAuth as SourceAuth  # re-exported: the models name it

URI_LENGTH = 1024
REQUEST_ID_LENGTH = 255
ENUM_LENGTH = 16
SOURCE_NAME_LENGTH = 64
DIGEST_LENGTH = 64  # a SHA-256 digest in hex
LOG_KIND_LENGTH = 32
TOKEN_LENGTH = 64
CALLBACK_URL_LENGTH = 2048
WEBHOOK_ID_LENGTH = 64
SERVICE_STATE_ID = 1


class RequestStatus(StrEnum):
    """Where a booking request stands (public names: see DESIGN.md §2)."""

    RECEIVED = "received"
    SEARCHING = "searching"
    WAITING = "waiting"
    BOOKING = "booking"
    UNKNOWN = "unknown"  # outcome not known yet; being reconciled
    BOOKED = "booked"
    NO_SLOT = "no_slot"
    REJECTED = "rejected"
    INVALID = "invalid"
    FAILED = "failed"
    CANCELED = "canceled"  # withdrawn before booking, or its meeting canceled at Calendly

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[RequestStatus] = frozenset(
    {
        RequestStatus.BOOKED,
        RequestStatus.NO_SLOT,
        RequestStatus.REJECTED,
        RequestStatus.INVALID,
        RequestStatus.FAILED,
        RequestStatus.CANCELED,
    }
)


class NextAction(StrEnum):
    """What a worker does next with a non-terminal request; `none` once it is terminal."""

    SEARCH = "search"
    BOOK = "book"
    RECONCILE = "reconcile"
    CANCEL = "cancel"  # cancel a booked request's meeting at Calendly (status stays `booked`)
    NONE = "none"


class AttemptState(StrEnum):
    """The state of one `POST /invitees` intent.

    intent -> sent -> booked | rejected | not_sent | unknown. `unknown` (and an `intent` or
    `sent` left by a crash) is resolved by reconciliation into `adopted` (the booking exists: it
    is ours) or `not_found` (provably not made). `not_sent` means the POST never left.
    """

    INTENT = "intent"
    SENT = "sent"
    BOOKED = "booked"
    REJECTED = "rejected"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"
    ADOPTED = "adopted"
    NOT_FOUND = "not_found"


UNRESOLVED_ATTEMPT_STATES: frozenset[AttemptState] = frozenset(
    {AttemptState.INTENT, AttemptState.SENT, AttemptState.UNKNOWN}
)


class LogKind(StrEnum):
    """Usual kinds of `request_log` entries; the column accepts any short string."""

    RECEIVED = "received"
    INVALID = "invalid"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    WINDOW_POLLED = "window_polled"
    CONTENDED = "contended"
    LOCATION_CHOSEN = "location_chosen"
    INTENT = "intent"
    API_OUTCOME = "api_outcome"
    RECONCILED = "reconciled"
    WAITING = "waiting"
    HELD = "held"
    RESUMED = "resumed"
    LEASE_LOST = "lease_lost"
    FINISHED = "finished"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELED = "canceled"


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that is always aware UTC in Python, whatever the database stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite's text format has no offset; naive UTC keeps text order equal to time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


EnumT = TypeVar("EnumT", bound=StrEnum)


class StrEnumType(TypeDecorator[EnumT]):
    """A `StrEnum` stored as its string value in a VARCHAR (no native enum to migrate)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[EnumT], length: int = ENUM_LENGTH) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: EnumT | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum_type(value).value  # refuses values the enum does not know

    def process_result_value(self, value: str | None, dialect: Dialect) -> EnumT | None:
        return None if value is None else self.enum_type(value)


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere; Python None is SQL NULL.
JsonDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base; the naming convention gives every constraint a stable name."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BookingRequestRow(Base):
    """One booking request, from intake to its terminal outcome, with its lease and fence."""

    __tablename__ = "booking_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH), unique=True)
    status: Mapped[RequestStatus] = mapped_column(StrEnumType(RequestStatus), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    # The request exactly as received (personal data is allowed here; the token never is).
    payload: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    event_type_uri: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # POST /invitees intents made
    # Failures that are safe to retry (not sent, 5xx on a GET...), counted toward giving up.
    transient_failures: Mapped[int] = mapped_column(Integer, default=0)

    # Scheduling: what to do next and when. The dispatcher scans next_action_at; terminal rows
    # have it NULL, so they never enter that index range.
    next_action: Mapped[NextAction] = mapped_column(StrEnumType(NextAction))
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The claim: a lease held by one worker, and a fence bumped by every claim.
    lease_owner: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fence: Mapped[int] = mapped_column(Integer, default=0)

    excluded_slots: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    correlation_token: Mapped[str | None] = mapped_column(String(TOKEN_LENGTH))

    # The outcome, as Calendly reports it.
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_uri: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    invitee_uri: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    cancel_url: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    reschedule_url: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    location: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    host_uri: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    host_name: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
    host_email: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
    # The HTTP source that sent it (None: the command line, the Python API or the raw queue).
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_source.id", ondelete="SET NULL"), index=True
    )
    # Set once the producer asked to withdraw or cancel it (`store.withdraw`).
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Small worker bookkeeping that needs no column of its own (e.g. unexpected error counts).
    extra: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempt_rows: Mapped[list[BookingAttemptRow]] = relationship(
        back_populates="request", order_by="BookingAttemptRow.id", viewonly=True
    )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def __repr__(self) -> str:
        return (
            f"BookingRequestRow(id={self.id!r}, request_id={self.request_id!r}, "
            f"status={self.status!s}, fence={self.fence!r})"
        )


class BookingAttemptRow(Base):
    """One `POST /invitees` intent, committed before the call, resolved after it."""

    __tablename__ = "booking_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_pk: Mapped[int] = mapped_column(
        ForeignKey("booking_request.id", ondelete="CASCADE"), index=True
    )
    fence: Mapped[int] = mapped_column(Integer)  # the claim that made this attempt
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Until when the slot is held (start + the event type's duration); None on older rows.
    slot_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The calendars the slot blocks: the event type, its host, and the hosts Calendly assigned.
    blocks: Mapped[list[str] | None] = mapped_column(JsonDocument)
    # Calendly answered `already_filled`: someone else holds this slot now.
    slot_taken: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    correlation_token: Mapped[str] = mapped_column(String(TOKEN_LENGTH))
    state: Mapped[AttemptState] = mapped_column(StrEnumType(AttemptState))
    http_status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    reconcile_looks: Mapped[int] = mapped_column(Integer, default=0)  # searches that missed it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped[BookingRequestRow] = relationship(back_populates="attempt_rows")

    @property
    def is_resolved(self) -> bool:
        return self.state not in UNRESOLVED_ATTEMPT_STATES


class RequestLogRow(Base):
    """One entry of a request's append-only history: what happened, and why."""

    __tablename__ = "request_log"
    __table_args__ = (Index("ix_request_log_request_pk_id", "request_pk", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_pk: Mapped[int] = mapped_column(ForeignKey("booking_request.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(LOG_KIND_LENGTH))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JsonDocument, nullable=True)


class ServiceStateRow(Base):
    """The single row of worker-wide state: the sending pause of the 401 rule."""

    __tablename__ = "service_state"
    __table_args__ = (CheckConstraint(f"id = {SERVICE_STATE_ID}", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sending_paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_token_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeSourceRow(Base):
    """One system that posts booking requests over HTTP, with its credentials and mapping.

    An `api_key` source keeps only the SHA-256 digest of its key (`key_digest`): the key is
    shown once. A signature source must recompute HMACs, so its secret is kept sealed
    (`secret_sealed`, encrypted with a key that is not in the database).
    """

    __tablename__ = "intake_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(SOURCE_NAME_LENGTH), unique=True)
    auth: Mapped[SourceAuth] = mapped_column(StrEnumType(SourceAuth, length=LOG_KIND_LENGTH))
    key_digest: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH), unique=True)
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    # The last characters of the secret, so an operator can tell which one is in use.
    secret_hint: Mapped[str] = mapped_column(String(LOG_KIND_LENGTH))
    mapping_yaml: Mapped[str | None] = mapped_column(Text)
    mapping_file: Mapped[str | None] = mapped_column(String(URI_LENGTH))
    rate_per_minute: Mapped[int] = mapped_column(Integer)
    # Where outcomes are called back when a request names no `callback_url`.
    callback_url: Mapped[str | None] = mapped_column(String(CALLBACK_URL_LENGTH))
    # The Standard Webhooks secret that signs its callbacks, sealed like `secret_sealed`.
    callback_secret_sealed: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IntakeDeliveryRow(Base):
    """A signed delivery already accepted (its `webhook-id`): a replay of it is refused."""

    __tablename__ = "intake_delivery"
    __table_args__ = (Index("ix_intake_delivery_seen", "source_id", "delivery_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("intake_source.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IntakeRateRow(Base):
    """How many calls a source made in one minute (the rate limit without Redis)."""

    __tablename__ = "intake_rate"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("intake_source.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    calls: Mapped[int] = mapped_column(Integer)


class ProposalRow(Base):
    """Times offered to a person (`POST /v1/proposals`), kept until `expires_at`.

    `request` is the normalized request the times were found for (event type URI, window,
    preference, display timezone), so booking a choice needs no new search; `slots` lists the
    offered starts in order (choice 1 first), as UTC strings with a trailing Z.
    """

    __tablename__ = "proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[str] = mapped_column(String(TOKEN_LENGTH), unique=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_source.id", ondelete="CASCADE")
    )
    event_type_uri: Mapped[str] = mapped_column(String(URI_LENGTH))
    request: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    slots: Mapped[list[str]] = mapped_column(JsonDocument)
    polled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CallbackState(StrEnum):
    """pending (due at `next_attempt_at`) -> delivered | failed (gave up, or no way to sign)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class CallbackRow(Base):
    """One outcome event to POST to a source: the outbox row, written with the outcome."""

    __tablename__ = "callback"
    __table_args__ = (Index("ix_callback_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Sent as `webhook-id` on every attempt: the receiver's deduplication key.
    webhook_id: Mapped[str] = mapped_column(String(WEBHOOK_ID_LENGTH), unique=True)
    request_pk: Mapped[int] = mapped_column(
        ForeignKey("booking_request.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_source.id", ondelete="SET NULL")
    )
    event: Mapped[str] = mapped_column(String(LOG_KIND_LENGTH))
    url: Mapped[str] = mapped_column(String(CALLBACK_URL_LENGTH))
    # The event exactly as it is signed and sent: fixed when the outcome is recorded.
    body: Mapped[Any] = mapped_column(JsonDocument)
    state: Mapped[CallbackState] = mapped_column(StrEnumType(CallbackState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retries stop here (24 hours after the outcome; a manual retry starts a new window).
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallbackAttemptRow(Base):
    """One POST of a callback: its answer (or error) and how long it took."""

    __tablename__ = "callback_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callback_id: Mapped[int] = mapped_column(
        ForeignKey("callback.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class CalendlyDeliveryRow(Base):
    """A Calendly webhook delivery already applied: Calendly retries, so a repeat is ignored.

    Calendly sends no delivery id: the key is a digest of the payload URI, the event and its
    `created_at` (API-NOTES §2.9).
    """

    __tablename__ = "calendly_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    event: Mapped[str] = mapped_column(String(LOG_KIND_LENGTH))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CalendlySubscriptionRow(Base):
    """The webhook subscription `autobook webhooks ensure` made, with its signing key sealed."""

    __tablename__ = "calendly_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URI_LENGTH), unique=True)
    callback_url: Mapped[str] = mapped_column(String(CALLBACK_URL_LENGTH))
    signing_key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What Calendly last said of it (active, disabled, missing), and when (a worker asks).
    state: Mapped[str | None] = mapped_column(String(16))
    state_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
