"""HTTP sources, what a request's source and cancellation are, replay and rate bookkeeping.

Revision ID: 0003_intake_sources
Revises: 0002_slot_holds
Create Date: 2026-12-02

`autobook serve` takes requests from *sources* (`intake_source`): each has its credentials (an
API key's digest, or a sealed signing secret), an optional mapping and a rate limit. A request
remembers its source (`booking_request.source_id`, NULL for the command line and the queue) so
that a source sees only its own, and whether its producer asked to cancel it
(`cancel_requested_at`, `cancel_reason`). `intake_delivery` remembers accepted `webhook-id`s
(replays are refused) and `intake_rate` counts calls per source and minute, for deployments
without Redis. Plain SQLAlchemy types, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_intake_sources"
down_revision: str | Sequence[str] | None = "0002_slot_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_LENGTH = 64
KIND_LENGTH = 32
DIGEST_LENGTH = 64
URI_LENGTH = 1024
REQUEST_ID_LENGTH = 255


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_intake_source() -> None:
    op.create_table(
        "intake_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("auth", sa.String(KIND_LENGTH), nullable=False),
        sa.Column("key_digest", sa.String(DIGEST_LENGTH), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("secret_hint", sa.String(KIND_LENGTH), nullable=False),
        sa.Column("mapping_yaml", sa.Text(), nullable=True),
        sa.Column("mapping_file", sa.String(URI_LENGTH), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("rotated_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_source")),
        sa.UniqueConstraint("name", name=op.f("uq_intake_source_name")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_intake_source_key_digest")),
    )


def _create_intake_delivery() -> None:
    op.create_table(
        "intake_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(REQUEST_ID_LENGTH), nullable=False),
        sa.Column("seen_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["intake_source.id"],
            name=op.f("fk_intake_delivery_source_id_intake_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_delivery")),
    )
    op.create_index(
        "ix_intake_delivery_seen", "intake_delivery", ["source_id", "delivery_id"], unique=True
    )
    op.create_index(op.f("ix_intake_delivery_seen_at"), "intake_delivery", ["seen_at"])


def _create_intake_rate() -> None:
    op.create_table(
        "intake_rate",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["intake_source.id"],
            name=op.f("fk_intake_rate_source_id_intake_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "minute", name=op.f("pk_intake_rate")),
    )


def upgrade() -> None:
    _create_intake_source()
    _create_intake_delivery()
    _create_intake_rate()
    with op.batch_alter_table("booking_request") as batch:
        batch.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", _utc(), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_booking_request_source_id_intake_source"),
            "intake_source",
            ["source_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_booking_request_source_id"), "booking_request", ["source_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_booking_request_source_id"), table_name="booking_request")
    with op.batch_alter_table("booking_request") as batch:
        batch.drop_constraint(
            op.f("fk_booking_request_source_id_intake_source"), type_="foreignkey"
        )
        batch.drop_column("cancel_reason")
        batch.drop_column("cancel_requested_at")
        batch.drop_column("source_id")
    op.drop_table("intake_rate")
    op.drop_index(op.f("ix_intake_delivery_seen_at"), table_name="intake_delivery")
    op.drop_index("ix_intake_delivery_seen", table_name="intake_delivery")
    op.drop_table("intake_delivery")
    op.drop_table("intake_source")
