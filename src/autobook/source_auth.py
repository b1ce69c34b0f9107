"""How an HTTP source proves who it is: a module of its own, so the command line can list the
choices without importing the database models."""

from __future__ import annotations

from enum import StrEnum


class SourceAuth(StrEnum):
    """How an HTTP source proves who it is (public names: DESIGN.md §6)."""

    API_KEY = "api_key"
    STANDARD_WEBHOOKS = "standard_webhooks"
    HUBSPOT_V3 = "hubspot_v3"
    TYPEFORM = "typeform"
