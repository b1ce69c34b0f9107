"""Initial schema: booking_request, booking_attempt, request_log, service_state.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22

Written with plain SQLAlchemy types, not autobook's, so that later changes to `autobook.models`
never change what this revision does. `UTCDateTime` is `DateTime(timezone=True)` underneath and
`StrEnumType` is a `String(16)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM_LENGTH = 16
URI_LENGTH = 1024
NAME_LENGTH = 255
TOKEN_LENGTH = 64


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_booking_request() -> None:
    op.create_table(
        "booking_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("status", sa.String(ENUM_LENGTH), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", _json(), nullable=True),
        sa.Column("event_type_uri", sa.String(URI_LENGTH), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("transient_failures", sa.Integer(), nullable=False),
        sa.Column("next_action", sa.String(ENUM_LENGTH), nullable=False),
        sa.Column("next_action_at", _utc(), nullable=True),
        sa.Column("dispatched_at", _utc(), nullable=True),
        sa.Column("lease_owner", sa.String(NAME_LENGTH), nullable=True),
        sa.Column("lease_expires_at", _utc(), nullable=True),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("excluded_slots", _json(), nullable=False),
        sa.Column("correlation_token", sa.String(TOKEN_LENGTH), nullable=True),
        sa.Column("start_time", _utc(), nullable=True),
        sa.Column("end_time", _utc(), nullable=True),
        sa.Column("event_uri", sa.String(URI_LENGTH), nullable=True),
        sa.Column("invitee_uri", sa.String(URI_LENGTH), nullable=True),
        sa.Column("cancel_url", sa.String(URI_LENGTH), nullable=True),
        sa.Column("reschedule_url", sa.String(URI_LENGTH), nullable=True),
        sa.Column("location", _json(), nullable=True),
        sa.Column("host_uri", sa.String(URI_LENGTH), nullable=True),
        sa.Column("host_name", sa.String(NAME_LENGTH), nullable=True),
        sa.Column("host_email", sa.String(NAME_LENGTH), nullable=True),
        sa.Column("extra", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_request")),
        sa.UniqueConstraint("request_id", name=op.f("uq_booking_request_request_id")),
    )
    op.create_index(op.f("ix_booking_request_status"), "booking_request", ["status"])
    op.create_index(
        op.f("ix_booking_request_next_action_at"), "booking_request", ["next_action_at"]
    )


def _create_booking_attempt() -> None:
    op.create_table(
        "booking_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("slot_start", _utc(), nullable=False),
        sa.Column("correlation_token", sa.String(TOKEN_LENGTH), nullable=False),
        sa.Column("state", sa.String(ENUM_LENGTH), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reconcile_looks", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_pk"],
            ["booking_request.id"],
            name=op.f("fk_booking_attempt_request_pk_booking_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_attempt")),
    )
    op.create_index(op.f("ix_booking_attempt_request_pk"), "booking_attempt", ["request_pk"])


def _create_request_log() -> None:
    op.create_table(
        "request_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_pk"],
            ["booking_request.id"],
            name=op.f("fk_request_log_request_pk_booking_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_log")),
    )
    op.create_index("ix_request_log_request_pk_id", "request_log", ["request_pk", "id"])
    # Append-only, enforced by the database: history is never rewritten. (Deleting a request
    # still cascades to its log, so a retention job stays possible.)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION request_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'request_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER request_log_append_only BEFORE UPDATE ON request_log "
            "FOR EACH ROW EXECUTE FUNCTION request_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER request_log_append_only BEFORE UPDATE ON request_log "
            "BEGIN SELECT RAISE(ABORT, 'request_log is append-only'); END"
        )


def _create_service_state() -> None:
    service_state = op.create_table(
        "service_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sending_paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", _utc(), nullable=True),
        sa.Column("last_token_check_at", _utc(), nullable=True),
        sa.Column("resumed_at", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_service_state_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_state")),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # SQLite holds naive UTC (see autobook.models)
    op.bulk_insert(service_state, [{"id": 1, "updated_at": now}])


def upgrade() -> None:
    _create_booking_request()
    _create_booking_attempt()
    _create_request_log()
    _create_service_state()


def downgrade() -> None:
    op.drop_table("service_state")
    op.drop_table("request_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS request_log_append_only()")
    op.drop_table("booking_attempt")
    op.drop_index(op.f("ix_booking_request_next_action_at"), table_name="booking_request")
    op.drop_index(op.f("ix_booking_request_status"), table_name="booking_request")
    op.drop_table("booking_request")
