"""The webhook subscription's last known state at Calendly, and when it was checked.

Revision ID: 0006_subscription_state
Revises: 0005_callbacks_webhooks
Create Date: 2026-12-01

Calendly disables a subscription after 24 hours of failed deliveries and tells nobody. A worker
now asks Calendly about the subscription `autobook webhooks ensure` made, every few minutes, and
keeps what it said here (`active`, `disabled`, or `missing` when it is gone), so the metrics and
`autobook check` can show it. Both columns are nullable: a row made before this revision is
simply not checked yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_subscription_state"
down_revision: str | Sequence[str] | None = "0005_callbacks_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE_LENGTH = 16


def upgrade() -> None:
    with op.batch_alter_table("calendly_subscription") as batch:
        batch.add_column(sa.Column("state", sa.String(STATE_LENGTH), nullable=True))
        batch.add_column(sa.Column("state_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calendly_subscription") as batch:
        batch.drop_column("state_checked_at")
        batch.drop_column("state")
