"""From Calendly resource URIs to request paths.

Calendly's URIs are opaque: the client never sends a request to a URI's host, only to its own base
URL. Path parameters take the bare UUID, which is the last path segment of the resource's URI
(`https://api.calendly.com/event_types/<uuid>`); an invitee has two (`.../scheduled_events/<event>/
invitees/<invitee>`). Segments are percent-encoded so that an odd id can never change the path.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def _path_segments(uri_or_path: str) -> list[str]:
    path = urlsplit(uri_or_path).path if "://" in uri_or_path else uri_or_path.split("?", 1)[0]
    return [segment for segment in path.split("/") if segment]


def _safe(segment: str, what: str) -> str:
    if segment in {"", ".", ".."}:
        raise ValueError(f"not a Calendly {what} id: {segment!r}")
    return quote(segment, safe="")


def resource_id(uri_or_uuid: str) -> str:
    """The path-safe UUID of a resource URI, or the UUID itself."""
    segments = _path_segments(uri_or_uuid.strip())
    if not segments:
        raise ValueError(f"not a Calendly URI or UUID: {uri_or_uuid!r}")
    return _safe(segments[-1], "resource")


def invitee_path(uri: str) -> str:
    """`/scheduled_events/<event>/invitees/<invitee>` for an invitee URI."""
    segments = _path_segments(uri.strip())
    if len(segments) < 4 or segments[-4] != "scheduled_events" or segments[-2] != "invitees":
        raise ValueError(f"not a Calendly invitee URI: {uri!r}")
    event, invitee = _safe(segments[-3], "event"), _safe(segments[-1], "invitee")
    return f"/scheduled_events/{event}/invitees/{invitee}"
