"""Turn a booking of a proposed time into a full booking request, at intake.

A request that carries `proposal_id` (with `choice`, or a `start_time` the proposal offered)
is completed from the stored proposal before validation: its event type (the proposal's URI),
its window and preference (kept for `if_taken: nearest` and for alternatives), and the exact
`start_time` to book. Every door calls this through `intake.record`, so none can book a time
that was not proposed: `start_time`, `choice` or `if_taken` without a `proposal_id`, an unknown
or expired proposal, a choice out of range or a time it did not offer are each a problem of
their field, and the request is recorded `invalid`, as any other bad field is.

A resubmission is recognised before the proposal is read (`resubmitted`): the same body under
a recorded request_id is answered with its record, as any idempotent resubmission is, even
once the proposal expired or was purged. The record keeps the completed body, so the body sent
again is completed as the record says it was, and compared.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from autobook import store
from autobook.errors import FieldProblem, InvalidRequest
from autobook.models import BookingRequestRow, ProposalRow
from autobook.proposals import records
from autobook.request_checks import parse_instant
from autobook.requests import request_id_of
from autobook.times import utc_z

CHOICE_KEYS = ("proposal_id", "choice", "start_time", "if_taken")
COMPLETED_KEYS = ("event_type", "choice", "start_time")  # always set from the proposal
KEPT_KEYS = ("window", "prefer")  # set from the proposal when the request has none


def _chosen_start(raw: dict[str, Any], row: ProposalRow) -> tuple[int, str] | FieldProblem:
    offered = list(row.slots)
    listed = ", ".join(f"{n}: {start}" for n, start in enumerate(offered, start=1)) or "none"
    choice, start_text = raw.get("choice"), raw.get("start_time")
    if choice is None and start_text is None:
        return FieldProblem("choice", f"is required with proposal_id: one of {listed}")
    if choice is not None:
        if isinstance(choice, bool) or not isinstance(choice, int):
            return FieldProblem("choice", f"must be a number: one of {listed}")
        if not 1 <= choice <= len(offered):
            return FieldProblem("choice", f"{choice} was not offered: choose one of {listed}")
        start = offered[choice - 1]
        if start_text is not None and _same_instant(start_text, start) is not True:
            return FieldProblem("start_time", f"is not choice {choice} ({start}): send one")
        return choice, start
    for number, start in enumerate(offered, start=1):
        same = _same_instant(start_text, start)
        if same is None:
            return FieldProblem("start_time", "must be an ISO 8601 instant with an offset or Z")
        if same:
            return number, start
    return FieldProblem("start_time", f"was not offered by this proposal: choose one of {listed}")


def _same_instant(text: object, offered: str) -> bool | None:
    try:
        moment = parse_instant(text)
    except (TypeError, ValueError):
        return None
    return isinstance(moment, datetime) and utc_z(moment) == offered


def expand(session: Session, raw: object, *, now: datetime, source_id: int | None) -> object:
    """`raw` completed from its proposal; InvalidRequest if the choice can't be booked."""
    if not isinstance(raw, dict) or not any(key in raw for key in CHOICE_KEYS):
        return raw
    request_id = request_id_of(raw)
    proposal_id = raw.get("proposal_id")
    if not isinstance(proposal_id, str) or not proposal_id.strip():
        problem = "is required to book a chosen time: propose first (POST /v1/proposals)"
        raise InvalidRequest([FieldProblem("proposal_id", problem)], request_id=request_id)
    row = records.find(session, proposal_id, source_id)
    if row is None:
        problem = "is not a proposal of this source (or it expired and was purged)"
        raise InvalidRequest([FieldProblem("proposal_id", problem)], request_id=request_id)
    if row.expires_at <= now:
        problem = f"expired at {utc_z(row.expires_at)}: propose again and choose a new time"
        raise InvalidRequest([FieldProblem("proposal_id", problem)], request_id=request_id)
    chosen = _chosen_start(raw, row)
    if isinstance(chosen, FieldProblem):
        raise InvalidRequest([chosen], request_id=request_id)
    choice, start = chosen
    given = raw.get("event_type")
    if isinstance(given, str) and given != row.event_type_uri:
        problem = f"is not the proposal's event type ({row.event_type_uri}): leave it out"
        raise InvalidRequest([FieldProblem("event_type", problem)], request_id=request_id)
    kept: dict[str, Any] = row.request or {}
    expanded = {**raw, "event_type": row.event_type_uri, "choice": choice, "start_time": start}
    for key in ("window", "prefer"):
        if key in kept and key not in raw:
            expanded[key] = kept[key]
    return expanded


def _completed_as_recorded(raw: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any] | None:
    """`raw` completed as `recorded` was from its proposal; None if it can't be the same body."""
    if not all(key in recorded for key in COMPLETED_KEYS):
        return None  # recorded as sent (invalid): compared as sent by intake
    if "event_type" in raw and raw["event_type"] != recorded["event_type"]:
        return None
    if "choice" in raw and raw["choice"] != recorded["choice"]:
        return None
    if "start_time" in raw and _same_instant(raw["start_time"], recorded["start_time"]) is not True:
        return None
    completed = {**raw, **{key: recorded[key] for key in COMPLETED_KEYS}}
    for key in KEPT_KEYS:
        if key in recorded and key not in raw:
            completed[key] = recorded[key]
    return completed


def _canonical(document: object) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def resubmitted(
    session: Session, raw: object, *, source_id: int | None
) -> BookingRequestRow | None:
    """The request recorded under `raw`'s request_id, if `raw` is its booking of a choice sent
    again with the same body; None otherwise (a new request, or another body: a conflict)."""
    if not isinstance(raw, dict) or "proposal_id" not in raw:
        return None
    request_id = request_id_of(raw)
    if request_id is None:
        return None
    row = store.get_by_request_id(session, request_id)
    if row is None or row.source_id != source_id or not isinstance(row.payload, dict):
        return None
    completed = _completed_as_recorded(raw, row.payload)
    if completed is None or _canonical(completed) != _canonical(row.payload):
        return None
    return row
