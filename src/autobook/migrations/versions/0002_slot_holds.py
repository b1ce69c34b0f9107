"""What each booking attempt holds: the end of its slot, the calendars it blocks, and refusals.

Revision ID: 0002_slot_holds
Revises: 0001_initial
Create Date: 2026-12-01

Concurrent requests choose their slot against the attempts of every other request (see
`autobook.booking.blocking`): an attempt now says until when it holds its slot (`slot_end`),
which calendars it blocks (`blocks`: the event type, its host, and once booked the hosts Calendly
assigned), and whether Calendly refused its slot as already filled (`slot_taken`), so that a slot
someone else took is skipped by every request, not only by the one that met the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_slot_holds"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("booking_attempt") as batch:
        batch.add_column(sa.Column("slot_end", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("blocks", _json(), nullable=True))
        batch.add_column(
            sa.Column("slot_taken", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(op.f("ix_booking_attempt_slot_start"), "booking_attempt", ["slot_start"])


def downgrade() -> None:
    op.drop_index(op.f("ix_booking_attempt_slot_start"), table_name="booking_attempt")
    with op.batch_alter_table("booking_attempt") as batch:
        batch.drop_column("slot_taken")
        batch.drop_column("blocks")
        batch.drop_column("slot_end")
