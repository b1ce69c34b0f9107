"""The callback outbox and its attempts, and a source's default callback URL and signing secret.

Revision ID: 0005_callbacks_webhooks
Revises: 0004_proposals
Create Date: 2026-12-01

`callback` is the transactional outbox of outcome events (DESIGN §7): a row is written in the
transaction that records the outcome, and delivered, with retries, under one `webhook_id`.
`callback_attempt` records each POST. `calendly_delivery` remembers the Calendly webhook
deliveries applied (Calendly retries), and `calendly_subscription` the subscription made by
`autobook webhooks ensure`, its signing key sealed. A source may name a default
`callback_url`, and keeps the Standard Webhooks secret that signs its callbacks sealed
(`callback_secret_sealed`). Plain SQLAlchemy types, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_callbacks_webhooks"
down_revision: str | Sequence[str] | None = "0004_proposals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND_LENGTH = 32
ENUM_LENGTH = 16
URL_LENGTH = 2048
WEBHOOK_ID_LENGTH = 64
DIGEST_LENGTH = 64
URI_LENGTH = 1024


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def _create_callback() -> None:
    op.create_table(
        "callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(WEBHOOK_ID_LENGTH), nullable=False),
        sa.Column("request_pk", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(KIND_LENGTH), nullable=False),
        sa.Column("url", sa.String(URL_LENGTH), nullable=False),
        sa.Column("body", _json(), nullable=False),
        sa.Column("state", sa.String(ENUM_LENGTH), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("dispatched_at", _utc(), nullable=True),
        sa.Column("give_up_at", _utc(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("delivered_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_pk"],
            ["booking_request.id"],
            name=op.f("fk_callback_request_pk_booking_request"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["intake_source.id"],
            name=op.f("fk_callback_source_id_intake_source"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback")),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_callback_webhook_id")),
    )
    op.create_index(op.f("ix_callback_request_pk"), "callback", ["request_pk"])
    op.create_index("ix_callback_due", "callback", ["state", "next_attempt_at"])


def _create_callback_attempt() -> None:
    op.create_table(
        "callback_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callback.id"],
            name=op.f("fk_callback_attempt_callback_id_callback"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempt")),
    )
    op.create_index(op.f("ix_callback_attempt_callback_id"), "callback_attempt", ["callback_id"])


def _create_calendly_tables() -> None:
    op.create_table(
        "calendly_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_digest", sa.String(DIGEST_LENGTH), nullable=False),
        sa.Column("event", sa.String(KIND_LENGTH), nullable=False),
        sa.Column("seen_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendly_delivery")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_calendly_delivery_key_digest")),
    )
    op.create_index(op.f("ix_calendly_delivery_seen_at"), "calendly_delivery", ["seen_at"])
    op.create_table(
        "calendly_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(URI_LENGTH), nullable=False),
        sa.Column("callback_url", sa.String(URL_LENGTH), nullable=False),
        sa.Column("signing_key_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendly_subscription")),
        sa.UniqueConstraint("uri", name=op.f("uq_calendly_subscription_uri")),
    )


def upgrade() -> None:
    _create_callback()
    _create_callback_attempt()
    _create_calendly_tables()
    with op.batch_alter_table("intake_source") as batch:
        batch.add_column(sa.Column("callback_url", sa.String(URL_LENGTH), nullable=True))
        batch.add_column(sa.Column("callback_secret_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_table("calendly_subscription")
    op.drop_index(op.f("ix_calendly_delivery_seen_at"), table_name="calendly_delivery")
    op.drop_table("calendly_delivery")
    with op.batch_alter_table("intake_source") as batch:
        batch.drop_column("callback_secret_sealed")
        batch.drop_column("callback_url")
    op.drop_index(op.f("ix_callback_attempt_callback_id"), table_name="callback_attempt")
    op.drop_table("callback_attempt")
    op.drop_index("ix_callback_due", table_name="callback")
    op.drop_index(op.f("ix_callback_request_pk"), table_name="callback")
    op.drop_table("callback")
