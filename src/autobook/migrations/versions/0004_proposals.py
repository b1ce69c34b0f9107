"""Proposals: the times offered to a person, kept until they expire.

Revision ID: 0004_proposals
Revises: 0003_intake_sources
Create Date: 2026-12-01

`POST /v1/proposals` offers a few matching times under a `proposal_id`; booking one of them
(`proposal_id` + `choice`) reads the offered start back from here, so the choice is booked
exactly, with no new search. Rows past `expires_at` are refused and purged. Plain SQLAlchemy
types, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_proposals"
down_revision: str | Sequence[str] | None = "0003_intake_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN_LENGTH = 64
URI_LENGTH = 1024


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.String(TOKEN_LENGTH), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("event_type_uri", sa.String(URI_LENGTH), nullable=False),
        sa.Column("request", _json(), nullable=True),
        sa.Column("slots", _json(), nullable=False),
        sa.Column("polled_at", _utc(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["intake_source.id"],
            name=op.f("fk_proposal_source_id_intake_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_proposal_proposal_id")),
    )
    op.create_index(op.f("ix_proposal_expires_at"), "proposal", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_proposal_expires_at"), table_name="proposal")
    op.drop_table("proposal")
