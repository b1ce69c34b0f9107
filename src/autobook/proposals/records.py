"""The proposal table: save an offer, read one back, purge the expired ones.

A proposal is read back only by the source that made it (the command line, the MCP server
and the Python API are source None), and only until `expires_at`; an expired row is refused
with that reason while it lingers, and purged by the next save.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from autobook.models import ProposalRow

PROPOSAL_ID_PREFIX = "prop_"


def new_proposal_id() -> str:
    return PROPOSAL_ID_PREFIX + secrets.token_urlsafe(12)


def save(session: Session, row: ProposalRow, *, now: datetime) -> None:
    session.execute(delete(ProposalRow).where(ProposalRow.expires_at < now))
    session.add(row)
    session.flush()


def find(session: Session, proposal_id: str, source_id: int | None) -> ProposalRow | None:
    statement = select(ProposalRow).where(ProposalRow.proposal_id == proposal_id)
    if source_id is None:
        statement = statement.where(ProposalRow.source_id.is_(None))
    else:
        statement = statement.where(ProposalRow.source_id == source_id)
    return session.scalars(statement).one_or_none()
