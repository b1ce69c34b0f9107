"""Calendly webhooks: what keeps a `booked` outcome true after it is recorded.

`signature` checks `Calendly-Webhook-Signature`; `events` reads Calendly's envelope; the store
applies a cancellation or a reschedule in one transaction with its callback
(`store.calendly_events`); `autobook.serve.calendly_webhook` is the HTTP door.
"""
