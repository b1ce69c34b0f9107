"""`POST /v1/calendly/webhook`: Calendly's deliveries, checked by their signature, not a source.

In order: the body is read (1 MiB at most); `Calendly-Webhook-Signature` must be signed by one
of our signing keys (`AUTOBOOK_CALENDLY_WEBHOOK_SIGNING_KEY`, and the keys of the subscriptions
`autobook webhooks ensure` made) within 180 s, else 401 (the answer never says more than
which rule failed); the envelope is read (422 if it is not one). Then, in one transaction, the
delivery is remembered (a repeat answers 200 and changes nothing) and applied
(`store.calendly_events`): a cancellation cancels our booking, a reschedule moves it, each with
its callback. A delivery about an invitee that is not ours answers 200: Calendly must not retry
it. A slot that opened wakes the waiting requests of its event type at once
(`autobook.slot_opened`).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from autobook import store
from autobook.metrics import definitions as metrics
from autobook.serve.body import decode, read_body
from autobook.serve.context import IntakeContext
from autobook.serve.problems import AsciiJSONResponse, Refusal
from autobook.sources.sealing import SealingError
from autobook.webhooks import events, signature

log = logging.getLogger("autobook.serve")

# The outcome labels of `autobook_calendly_webhooks_total`.
ACCEPTED, REFUSED, DUPLICATE = "accepted", "refused", "duplicate"


def _keys(ctx: IntakeContext) -> list[str]:
    keys = []
    given = ctx.settings.calendly_webhook_signing_key
    if given is not None and given.get_secret_value():
        keys.append(given.get_secret_value())
    with ctx.sessions() as session:
        sealed = store.calendly_events.sealed_signing_keys(session)
    for item in sealed:
        try:
            keys.append(ctx.sealer.unseal(item))
        except SealingError:
            log.warning("a webhook subscription's signing key cannot be unsealed")
    return keys


def _new_fields(payload: events.InviteePayload) -> dict[str, object]:
    event = payload.scheduled_event
    fields: dict[str, object] = {
        "invitee_uri": payload.uri,
        "cancel_url": payload.cancel_url,
        "reschedule_url": payload.reschedule_url,
    }
    if event is not None:
        fields.update(event_uri=event.uri, start_time=event.start_time, end_time=event.end_time)
        if event.location is not None:
            fields["location"] = event.location
    return fields


def _apply(session: Session, envelope: events.Envelope, now: datetime) -> tuple[str, str | None]:
    payload = envelope.payload
    calendly = store.calendly_events
    if envelope.event == events.CANCELED and payload.rescheduled:
        found = calendly.find_booked(session, payload.uri)
        if found is None:
            return "not ours", None
        store.log(
            session,
            found.request_pk,
            "reschedule_seen",
            "its invitee rescheduled at Calendly: following it to the new booking",
            {"new_invitee": payload.new_invitee},
            now=now,
        )
        return "reschedule noted", found.event_type_uri
    if envelope.event == events.CANCELED:
        cancellation = payload.cancellation or events.Cancellation()
        applied = calendly.apply_canceled(
            session,
            payload.uri,
            who=cancellation.canceled_by,
            why=cancellation.reason,
            now=now,
        )
        return ("canceled", applied.event_type_uri) if applied else ("not ours", None)
    if envelope.event == events.CREATED and payload.old_invitee and payload.scheduled_event:
        moved = calendly.apply_rescheduled(
            session,
            payload.old_invitee,
            new=_new_fields(payload),
            now=now,
        )
        return ("rescheduled", moved.event_type_uri) if moved else ("not ours", None)
    return "ignored", None


def _record(ctx: IntakeContext, envelope: events.Envelope) -> str:
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        if not store.calendly_events.remember_delivery(
            session, envelope.dedupe_key, envelope.event, now=now
        ):
            return "repeat"
        outcome, opened = _apply(session, envelope, now)
    if opened is not None:
        from autobook.tasks import SLOT_OPENED_TASK

        # After the commit: the woken requests must see the cancellation.
        ctx.celery.send_task(SLOT_OPENED_TASK, args=(opened,))
    return outcome


async def receive(request: Request) -> Response:
    ctx: IntakeContext = request.app.state.intake
    body = await read_body(request)
    keys = await ctx.run(_keys, ctx)
    if not keys:
        metrics.calendly_webhook(REFUSED)
        raise Refusal(401, "Unauthorized", "no Calendly webhook signing key is configured")
    header = request.headers.get(signature.HEADER)
    why = signature.verify(header, body, keys, now=time.time())
    if why is not None:
        metrics.calendly_webhook(REFUSED)
        raise Refusal(401, "Unauthorized", why)
    try:
        envelope = events.parse(decode(body))
    except events.BadEnvelope as exc:
        metrics.calendly_webhook(REFUSED)
        raise Refusal(422, "Unprocessable Content", str(exc)) from None
    outcome = await ctx.run(_record, ctx, envelope)
    metrics.calendly_webhook(DUPLICATE if outcome == "repeat" else ACCEPTED)
    log.info("calendly webhook %s: %s", envelope.event, outcome)
    return AsciiJSONResponse({"event": envelope.event, "outcome": outcome})
