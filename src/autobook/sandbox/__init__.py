"""A faithful local Calendly: the sandbox that tests, the demo and benchmarks run against.

It serves Calendly's API v2 as documented in ``docs/calendly/API-NOTES.md`` (users,
event types, available times, ``POST /invitees``, scheduled events, invitees and
cancellation) from an in-memory organization described by a seed, plus an admin API
under ``/_sandbox/`` (ledger, stats, faults, limits, reset). It imports nothing from
the rest of autobook: it is written from Calendly's documents, not from our client.

Modules, bottom-up: ``timefmt``, ``seed``, ``locations``, ``store``, ``seeding``, ``availability``,
``render``, ``params``, ``errors``, ``booking``, ``ratelimit``, ``faults``, ``state``,
``api_read``, ``api_write``, ``admin``, ``app``, ``server``. Entry points:
:func:`autobook.sandbox.server.serve` and :class:`autobook.sandbox.server.SandboxServer`.
"""
