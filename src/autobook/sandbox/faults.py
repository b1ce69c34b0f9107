"""Injected faults, per endpoint, drawn from one seeded random generator.

``PUT /_sandbox/faults`` sets ``{"seed": 7, "endpoints": {"POST /invitees": {...}}}``.
Knobs, all optional:

- ``latency_ms``: added after the request body is read, before it is handled;
- ``error_429`` / ``error_500``: a probability of answering 429 / 500 *instead of*
  handling the request (nothing is committed);
- ``error_500_after_commit``: the request is handled (a booking is made), then the
  answer is a 500 anyway;
- ``drop_after_commit``: the request is handled, then the TCP connection is aborted
  with no HTTP response at all;
- ``steal_slot`` (``POST /invitees`` only): another invitee takes the requested slot
  just before the request is processed.

Rolls are taken in that order, one per configured knob, so a fixed seed and a fixed
request order give the same faults on every run. ``{}`` clears everything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .errors import Detail, detail, invalid

PROBABILITY_KNOBS = (
    "error_429",
    "error_500",
    "error_500_after_commit",
    "drop_after_commit",
    "steal_slot",
)
MAX_LATENCY_MS = 60_000
BOOKING_ENDPOINT = "POST /invitees"


@dataclass(frozen=True)
class EndpointFaults:
    latency_ms: int = 0
    error_429: float = 0.0
    error_500: float = 0.0
    error_500_after_commit: float = 0.0
    drop_after_commit: float = 0.0
    steal_slot: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms} | {k: getattr(self, k) for k in PROBABILITY_KNOBS}


@dataclass(frozen=True)
class Rolls:
    """The faults drawn for one request."""

    latency_ms: int = 0
    error_429: bool = False
    error_500: bool = False
    error_500_after_commit: bool = False
    drop_after_commit: bool = False
    steal_slot: bool = False


NO_FAULTS = Rolls()


@dataclass(frozen=True)
class WebhookFaults:
    """Faults of webhook deliveries: `drop` loses a delivery (never sent, never retried: a
    missed webhook); `latency_ms` delays each attempt."""

    drop: float = 0.0
    latency_ms: int = 0

    def describe(self) -> dict[str, Any]:
        return {"drop": self.drop, "latency_ms": self.latency_ms}


@dataclass
class Faults:
    seed: int | None = None
    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    _random: random.Random = field(default_factory=random.Random)
    webhooks: WebhookFaults = field(default_factory=WebhookFaults)

    def describe(self) -> dict[str, Any]:
        if not self.endpoints and self.seed is None and self.webhooks == WebhookFaults():
            return {}
        described: dict[str, Any] = {
            "seed": self.seed,
            "endpoints": {key: value.describe() for key, value in self.endpoints.items()},
        }
        if self.webhooks != WebhookFaults():  # shown only when set: a PUT reads back as sent
            described["webhooks"] = self.webhooks.describe()
        return described

    def drop_webhook(self) -> bool:
        return self.webhooks.drop > 0 and self._random.random() < self.webhooks.drop

    def roll(self, endpoint: str) -> Rolls:
        config = self.endpoints.get(endpoint)
        if config is None:
            return NO_FAULTS
        drawn = {
            knob: self._random.random() < getattr(config, knob)
            for knob in PROBABILITY_KNOBS
            if getattr(config, knob) > 0
        }
        return Rolls(latency_ms=config.latency_ms, **drawn)


def parse_faults(body: object, known_endpoints: set[str]) -> Faults:
    """Validate a ``PUT /_sandbox/faults`` body; 400 with one detail per problem."""
    if not isinstance(body, dict):
        raise invalid([detail("body", "must be a JSON object")])
    problems: list[Detail] = []
    for key in body:
        if key not in ("seed", "endpoints", "webhooks"):
            problems.append(detail(key, "is not allowed"))
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        problems.append(detail("seed", "must be an integer"))
    endpoints_body = body.get("endpoints", {})
    endpoints: dict[str, EndpointFaults] = {}
    if not isinstance(endpoints_body, dict):
        problems.append(detail("endpoints", "must be a JSON object"))
        endpoints_body = {}
    for endpoint, knobs in endpoints_body.items():
        where = f"endpoints.{endpoint}"
        if endpoint not in known_endpoints:
            known = ", ".join(sorted(known_endpoints))
            problems.append(detail(where, f"is not an endpoint; use one of: {known}"))
            continue
        if not isinstance(knobs, dict):
            problems.append(detail(where, "must be a JSON object"))
            continue
        values: dict[str, Any] = {}
        for knob, value in knobs.items():
            if knob == "latency_ms":
                if not _is_number(value) or not 0 <= value <= MAX_LATENCY_MS:
                    problems.append(detail(f"{where}.{knob}", f"must be 0 to {MAX_LATENCY_MS}"))
                else:
                    values[knob] = int(value)
            elif knob in PROBABILITY_KNOBS:
                if not _is_number(value) or not 0 <= value <= 1:
                    problems.append(detail(f"{where}.{knob}", "must be a probability, 0 to 1"))
                elif knob == "steal_slot" and endpoint != BOOKING_ENDPOINT:
                    problems.append(
                        detail(f"{where}.{knob}", f"applies to {BOOKING_ENDPOINT} only")
                    )
                else:
                    values[knob] = float(value)
            else:
                problems.append(detail(f"{where}.{knob}", "is not a fault knob"))
        endpoints[endpoint] = EndpointFaults(**values)
    webhooks = _webhook_faults(body.get("webhooks", {}), problems)
    if problems:
        raise invalid(problems)
    return Faults(seed=seed, endpoints=endpoints, _random=random.Random(seed), webhooks=webhooks)


def _webhook_faults(body: object, problems: list[Detail]) -> WebhookFaults:
    if not isinstance(body, dict):
        problems.append(detail("webhooks", "must be a JSON object"))
        return WebhookFaults()
    drop, latency = body.get("drop", 0.0), body.get("latency_ms", 0)
    for key in body:
        if key not in ("drop", "latency_ms"):
            problems.append(detail(f"webhooks.{key}", "is not a fault knob"))
    if not _is_number(drop) or not 0 <= drop <= 1:
        problems.append(detail("webhooks.drop", "must be a probability, 0 to 1"))
        drop = 0.0
    if not _is_number(latency) or not 0 <= latency <= MAX_LATENCY_MS:
        problems.append(detail("webhooks.latency_ms", f"must be 0 to {MAX_LATENCY_MS}"))
        latency = 0
    return WebhookFaults(drop=float(drop), latency_ms=int(latency))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
