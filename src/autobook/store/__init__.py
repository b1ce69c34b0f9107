"""The store: every state transition of autobook, as conditional SQL statements.

The database is the truth; the broker is a doorbell. No code outside this package writes the
tables of `autobook.models`. Each transition is one conditional statement whose WHERE clause is
the rule, and it reports whether it applied:

    intake ──> claim ──> update_claimed* ──> record_intent ──> finish_attempt ──> release
    (unique     (lease +   (fenced)           (intent row,      (fenced)           (fenced; ends
  request_id)   fence+1)                      before the POST)                      the lease)

Invariants:
- `intake` of a known `request_id` returns the first row unchanged, even under concurrency.
- At most one live claim per request: exactly one of N concurrent claimers wins.
- Every write under a claim checks its fence (`WHERE fence = :fence`): once someone else claimed
  the request again, a stale worker writes nothing, and False/None tells it to stop.
- A request is due (for the dispatcher, and for a claim) when it is non-terminal, its
  `next_action_at` has come, it has no live lease and sending is not paused.
- An intent row is written before every `POST /invitees`, and it moves the request to
  next action `reconcile`: after a crash nothing is re-sent without reconciling first.
- The 401 pause holds every request (statuses unchanged) and refuses new intents.
- `request_log` is append-only. Datetimes go in and come out as aware UTC.
- A producer's cancel (`withdraw`) cancels at once what no POST can be under way for, and
  otherwise leaves a mark every later intent respects; `canceled` is terminal.

Transactions: inside `with sessions.begin() as session:` store calls join the caller's
transaction (commit it before anything that must see the write durable, such as the POST after
`record_intent`); with a plain session each call commits its own. Details in `_common`.
Errors: `StoreUnavailable` (retry later), `StoreError`; ValueError for a bad argument.
"""

from autobook.models import (
    AttemptState,
    BookingAttemptRow,
    BookingRequestRow,
    LogKind,
    NextAction,
    RequestLogRow,
    RequestStatus,
)
from autobook.store import calendly_events, outbox, subscription_state
from autobook.store._common import Claim, StoreError, StoreUnavailable, UnknownRequest
from autobook.store.attempts import (
    attempts_for,
    finish_attempt,
    has_unknown_attempt,
    latest_unresolved_attempt,
    note_reconcile_look,
    record_intent,
)
from autobook.store.booked import BookingRecorded, record_booking
from autobook.store.dispatch import due_requests, make_due, mark_dispatched, take_due
from autobook.store.holds import HeldSlot, held_slots, lock_slot_choice
from autobook.store.lifecycle import (
    CLAIMED_FIELDS,
    RELEASE_FIELDS,
    Claimed,
    IntakeEntry,
    LogEntry,
    Recorded,
    claim,
    claim_row,
    intake,
    intake_many,
    log,
    log_many,
    release,
    renew_lease,
    update_claimed,
)
from autobook.store.pause import (
    SendingPause,
    claim_token_check,
    note_token_check,
    pause_sending,
    resume_sending,
    sending_paused,
)
from autobook.store.reads import (
    counts_by_status,
    get,
    get_by_request_id,
    list_requests,
    logs_for,
    waiting_requests,
)
from autobook.store.sources import (
    SourceExists,
    add_source,
    count_call,
    forget_delivery,
    list_sources,
    remember_delivery,
    remove_source,
    request_of_source,
    rotate_source,
    source_by_key_digest,
    source_by_name,
    update_source,
)
from autobook.store.withdraw import (
    WITHDRAWN_REASON,
    Withdrawal,
    cancel_requested,
    schedule_requested_cancel,
    withdraw,
)

__all__ = [
    "CLAIMED_FIELDS",
    "RELEASE_FIELDS",
    "WITHDRAWN_REASON",
    "AttemptState",
    "BookingAttemptRow",
    "BookingRecorded",
    "BookingRequestRow",
    "Claim",
    "Claimed",
    "HeldSlot",
    "IntakeEntry",
    "LogEntry",
    "LogKind",
    "NextAction",
    "Recorded",
    "RequestLogRow",
    "RequestStatus",
    "SendingPause",
    "SourceExists",
    "StoreError",
    "StoreUnavailable",
    "UnknownRequest",
    "Withdrawal",
    "add_source",
    "attempts_for",
    "calendly_events",
    "cancel_requested",
    "claim",
    "claim_row",
    "claim_token_check",
    "count_call",
    "counts_by_status",
    "due_requests",
    "finish_attempt",
    "forget_delivery",
    "get",
    "get_by_request_id",
    "has_unknown_attempt",
    "held_slots",
    "intake",
    "intake_many",
    "latest_unresolved_attempt",
    "list_requests",
    "list_sources",
    "lock_slot_choice",
    "log",
    "log_many",
    "logs_for",
    "make_due",
    "mark_dispatched",
    "note_reconcile_look",
    "note_token_check",
    "outbox",
    "pause_sending",
    "record_booking",
    "record_intent",
    "release",
    "remember_delivery",
    "remove_source",
    "renew_lease",
    "request_of_source",
    "resume_sending",
    "rotate_source",
    "schedule_requested_cancel",
    "sending_paused",
    "source_by_key_digest",
    "source_by_name",
    "subscription_state",
    "take_due",
    "update_claimed",
    "update_source",
    "waiting_requests",
    "withdraw",
]
