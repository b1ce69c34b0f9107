"""`autobook serve`: the HTTP door, for systems that can't put a Celery message on a queue.

    POST /v1/bookings                     one request or an array: 202 / 422 / 200 / 409, or 207
    GET  /v1/bookings/{request_id}        the `status --json` object, plus its log
    POST /v1/bookings/{request_id}/cancel withdraw it, or cancel its meeting at Calendly once
    GET  /healthz, GET /readyz            liveness; database and broker reachable

Every `/v1` call is made by a *source* (`autobook.sources`) and sees only that source's
requests. What arrives goes through the same validation and recording as `autobook submit`
(`autobook.intake`), the calls that arrive together in one transaction (`committer`), then
the broker's doorbell is rung; nothing here talks to Calendly. The checks run in the order
that spends least on a stranger: credentials, then media type and size, then the signature over
the raw body, then the rate limit. Every refusal is JSON `{"title", "detail", "problems"?}` and
is logged without the secret or the body (`serve.problems`).

Modules: `app` (composition and routes), `context` (what every handler shares), `callers`
(who is calling: key, signature, rate), `admission` (the lookups and rate counts of concurrent
calls, in one hop), `committer` (the group commit), `batching` (the batcher behind both),
`body` (media type, size, JSON), `bookings` (the three booking calls), `answers` (the JSON of a
recorded request), `problems` (refusals), `command` (the `autobook serve` command).
"""
