"""Proposals: offer a person a few matching times, then book the one they chose (DESIGN §8).

The Python API, in `autobook.proposals.engine`: `Proposer.propose(request)` (build one with
`proposer_for(settings, sessions)`) answers a `Proposal`; booking a choice is an ordinary
booking request that carries `proposal_id` and `choice`, submitted through `autobook.intake`
like any other.

The package itself imports nothing: intake reads a choice through `proposals.choice` without
loading the engine (and the Calendly client) when a command starts.
"""
