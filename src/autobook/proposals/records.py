"""The proposal table: save an offer, read one back, purge the expired ones.

A proposal is read back only by the source that made it (the command line, the MCP server
over stdio and the Python API are source None), and only until `expires_at`; an expired row
is refused with that reason while it lingers, and purged by a later save (the proposer purges
at most every `PURGE_INTERVAL`, not on every save: a DELETE in each proposal's transaction
made concurrent proposals queue on the table's write lock).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from autobook.models import ProposalRow

PROPOSAL_ID_PREFIX = "prop_"
PURGE_INTERVAL = timedelta(minutes=1)


def new_proposal_id() -> str:
    return PROPOSAL_ID_PREFIX + secrets.token_urlsafe(12)


def save(session: Session, row: ProposalRow, *, purge_before: datetime | None = None) -> None:
    """Add `row`; first delete the proposals expired before `purge_before`, if given."""
    if purge_before is not None:
        session.execute(delete(ProposalRow).where(ProposalRow.expires_at < purge_before))
    session.add(row)
    session.flush()


def find(session: Session, proposal_id: str, source_id: int | None) -> ProposalRow | None:
    statement = select(ProposalRow).where(ProposalRow.proposal_id == proposal_id)
    if source_id is None:
        statement = statement.where(ProposalRow.source_id.is_(None))
    else:
        statement = statement.where(ProposalRow.source_id == source_id)
    return session.scalars(statement).one_or_none()
