"""Raw broker items as kombu envelopes, or as a quarantine envelope when they are not one.

kombu's virtual transports (Redis, the filesystem) store each message as a JSON envelope:
`{"body", "content-type", "content-encoding", "headers", "properties": {"delivery_tag",
"delivery_info", "body_encoding", ...}}`. kombu trusts that shape: `LPUSH autobook garbage`, a
body that is not valid base64, a JSON array, or a file read while it was being written raise
deep inside the consumer, which kills the worker (and on Redis loses the item: it was popped).

`envelope_from(raw, queue)` is the one door: it returns a sound envelope (the item itself, with a
missing delivery tag or delivery info filled in), or a *quarantine* envelope that kombu can
carry: its headers hold `UNUSABLE_HEADER` (what is wrong) and its body a bounded, printable
preview of the raw item. The consumer (`autobook.consumer`) records such a message as an
`invalid` request under a `malformed-…` id and acknowledges it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from autobook.quoting import quote

UNUSABLE_HEADER = "x-autobook-unusable"
RAW_PREVIEW_CHARS = 1000
_KNOWN_BODY_ENCODINGS = (None, "base64")
_OPTIONAL_TEXT_KEYS = ("content-type", "content-encoding")


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _body_problem(body: object, encoding: object) -> str | None:
    if body is None:
        return None
    if not isinstance(body, str):
        return f"its body is {_json_type(body)}, not a string"
    if encoding not in _KNOWN_BODY_ENCODINGS:
        return f"its body_encoding {quote(encoding, 40)} is unknown (kombu writes base64)"
    if encoding == "base64":
        try:
            base64.b64decode(body.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return "its body is not valid base64, as its body_encoding says"
    return None


def envelope_problem(payload: object) -> str | None:
    """What makes `payload` (parsed JSON) unusable as a kombu envelope, or None if it is one."""
    if not isinstance(payload, dict):
        return f"the item is {_json_type(payload)}, not a kombu message envelope (an object)"
    properties = payload.get("properties")
    if not isinstance(properties, dict):
        return "the envelope has no properties object"
    headers = payload.get("headers")
    if headers is not None and not isinstance(headers, dict):
        return f"its headers are {_json_type(headers)}, not an object"
    for key in _OPTIONAL_TEXT_KEYS:
        if payload.get(key) is not None and not isinstance(payload[key], str):
            return f"its {key} is {_json_type(payload[key])}, not a string"
    info = properties.get("delivery_info")
    if info is not None and not isinstance(info, dict):
        return f"its delivery_info is {_json_type(info)}, not an object"
    return _body_problem(payload.get("body"), properties.get("body_encoding"))


def _completed(payload: dict[str, Any], queue: str) -> dict[str, Any]:
    """Fill in what kombu sets when it publishes, for an envelope another producer wrote."""
    properties = payload["properties"]
    if not isinstance(properties.get("delivery_tag"), str | int) or isinstance(
        properties.get("delivery_tag"), bool
    ):
        properties["delivery_tag"] = str(uuid.uuid4())
    info = properties.get("delivery_info")
    if not isinstance(info, dict):
        info = properties["delivery_info"] = {}
    # Redis keeps unacked messages by exchange and routing key: both must be strings.
    if not isinstance(info.get("exchange"), str):
        info["exchange"] = ""
    if not isinstance(info.get("routing_key"), str):
        info["routing_key"] = queue
    return payload


def quarantine(raw: bytes | str, queue: str, problem: str) -> dict[str, Any]:
    """A well-formed envelope that carries what was wrong and a preview of the raw item."""
    text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, bytes) else raw
    body = json.dumps(quote(text, RAW_PREVIEW_CHARS))
    return {
        "body": base64.b64encode(body.encode("utf-8")).decode("ascii"),
        "content-type": "application/json",
        "content-encoding": "utf-8",
        "headers": {UNUSABLE_HEADER: problem},
        "properties": {
            "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
        },
    }


def envelope_from(raw: bytes | str, queue: str) -> dict[str, Any]:
    """The envelope stored in `raw`, or a quarantine envelope saying why it is not one."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        payload = json.loads(text)
    except UnicodeDecodeError:
        return quarantine(raw, queue, "the item is not UTF-8 text, so not a kombu envelope")
    except ValueError as exc:
        what = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        return quarantine(raw, queue, f"the item is not JSON ({what}), so not a kombu envelope")
    except RecursionError:
        return quarantine(raw, queue, "the item is JSON nested too deeply to read")
    problem = envelope_problem(payload)
    if problem is not None:
        return quarantine(raw, queue, problem)
    return _completed(payload, queue)
