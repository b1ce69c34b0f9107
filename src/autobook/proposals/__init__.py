"""Proposals: offer a person a few matching times, then book the one they chose (DESIGN §8).

The Python API: `Proposer.propose(request)` (build one with `proposer_for(settings, sessions)`)
answers a `Proposal`; booking a choice is an ordinary booking request that carries
`proposal_id` and `choice`, submitted through `autobook.intake` like any other.
"""

from autobook.proposals.engine import Proposal, Proposer, proposer_for
from autobook.proposals.shape import DEFAULT_COUNT, MAX_COUNT, parse_proposal_request
from autobook.proposals.spread import label, spread

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "Proposal",
    "Proposer",
    "label",
    "parse_proposal_request",
    "proposer_for",
    "spread",
]
