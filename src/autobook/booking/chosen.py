"""Book the time a person chose from a proposal: exactly that slot, with no search.

The chosen start becomes a one-candidate list for `SlotHolder.hold_first_free`, so the slot is
held and the intent committed in one transaction under the slot-choice lock, and the POST,
its classification and reconciliation are those of every booking. No availability is polled:
our own holds since the proposal's lifetime began stand in for a poll (a booking of ours at
that slot made since then holds it).

When the slot is taken (our other requests hold it, or Calendly said `already_filled`, which
put it in the request's excluded slots), `if_taken` decides:
- `propose` (the default): `no_slot`, the reason saying the chosen time was taken, and a fresh
  proposal for the same request in `alternatives` (one availability call);
- `nearest`: the matching slot nearest the chosen one is booked, through the normal hold;
- `fail`: `no_slot`, with the reason.
"""

from __future__ import annotations

from datetime import timedelta

from autobook.booking.blocking import slot_owner
from autobook.booking.candidates import Candidates, Chosen
from autobook.booking.hold import SlotHolder
from autobook.booking.polling import request_windows
from autobook.calendly.models import AvailableTime, EventType
from autobook.errors import CalendlyError
from autobook.models import NextAction, RequestStatus
from autobook.times import utc_z

ALTERNATIVES = "alternatives"


def search_chosen(
    holder: SlotHolder, event_type: EventType
) -> tuple[NextAction | None, Chosen | None]:
    request = holder.request
    assert request is not None
    assert request.start_time is not None
    start = request.start_time
    # A booking of ours since the proposal that may have taken the host (`recheck`) counts as
    # taking the slot here: nothing is polled for a chosen time.
    owner = slot_owner(event_type, holder.team_hosts(event_type))
    if start not in holder.record.job.excluded:
        since = holder.record.now() - timedelta(
            seconds=holder.ctx.settings.proposal_lifetime_seconds
        )
        slot = AvailableTime(start_time=start, start_time_raw=utc_z(start), invitees_remaining=1)
        held = holder.hold_first_free(owner, Candidates(since, event_type, [slot]))
        if isinstance(held, Chosen) or held is None:
            return (NextAction.BOOK, held) if held is not None else (None, None)
    taken = f"the chosen time {utc_z(start)} was taken before it could be booked"
    how = request.if_taken or "propose"
    holder.record.log("chosen_taken", f"{taken}; if_taken: {how}")
    if how == "nearest":
        return _nearest(holder, event_type, taken)
    if how == "propose":
        _release_with_alternatives(holder, event_type, taken)
    else:
        holder.record.release(RequestStatus.NO_SLOT, reason=taken, log_kind="no_slot")
    return None, None


def _nearest(
    holder: SlotHolder, event_type: EventType, taken: str
) -> tuple[NextAction | None, Chosen | None]:
    """Hold the matching slot nearest the chosen one, among the windows the proposal searched."""
    request = holder.request
    assert request is not None
    assert request.start_time is not None
    chosen_start = request.start_time
    holder.record.job.excluded.add(chosen_start)
    windows = request_windows(request, holder.ctx.settings, holder.record.now())
    slots: list[AvailableTime] = []
    polled_at = holder.record.now()
    try:
        owner = slot_owner(event_type, holder.team_hosts(event_type))
        for window in windows:
            candidates = holder.candidates(event_type, window)
            if candidates is not None:
                slots.extend(candidates.slots)
                polled_at = min(polled_at, candidates.polled_at)
    except CalendlyError as exc:
        holder.failures.calendly_failure(exc, during="polling availability")
        return None, None
    if slots:
        slots.sort(key=lambda t: abs(t.start_time - chosen_start))
        held = holder.hold_first_free(owner, Candidates(polled_at, event_type, slots))
        if isinstance(held, Chosen) or held is None:
            return (NextAction.BOOK, held) if held is not None else (None, None)
    holder.record.release(
        RequestStatus.NO_SLOT,
        reason=f"{taken}, and no other matching slot is free",
        log_kind="no_slot",
        event_type_uri=event_type.uri,
    )
    return None, None


def _release_with_alternatives(holder: SlotHolder, event_type: EventType, taken: str) -> None:
    request = holder.request
    row = holder.record.job.row
    assert request is not None
    assert request.start_time is not None
    wanted = {
        "event_type": event_type.uri,
        "timezone": request.invitee.timezone,
        "prefer": request.prefer,
        **(
            {"window": request.window.model_dump(mode="json", exclude_none=True)}
            if request.window
            else {}
        ),
    }
    extra = dict(row.extra or {})
    reason = f"{taken}; other times are proposed in alternatives"
    propose = holder.ctx.propose_alternatives
    if propose is None:
        reason = f"{taken}; no alternatives can be proposed by this worker"
    else:
        try:
            extra[ALTERNATIVES] = propose(
                wanted,
                source_id=row.source_id,
                exclude=frozenset(holder.record.job.excluded | {request.start_time}),
            )
        except CalendlyError as exc:
            reason = f"{taken}; no alternatives could be proposed ({exc.message})"
    holder.record.release(
        RequestStatus.NO_SLOT,
        reason=reason,
        log_kind="no_slot",
        event_type_uri=event_type.uri,
        extra=extra,
    )
