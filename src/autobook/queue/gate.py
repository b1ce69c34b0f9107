"""What is wrong with a Celery message, checked before Celery reads it.

Celery's worker trusts a message that names a known task: a body that is not
`[args, kwargs, embed]` (`[["x"]]`, `{"a": 1}`, `"just a string"`) or headers without an `id`
raise in the consumer itself, which logs `Unrecoverable error` and stops the worker, while the
message goes back to the queue to kill the next one. `problem_with(message)` names such a
problem (or returns None for a message Celery can run), so the consumer records the message as
`invalid` and acknowledges it instead. It checks protocol 2 messages, which every Celery client
sends; a message without a `task` header is left to Celery's own checks (protocol 1 and foreign
messages, which it refuses without crashing).

`expired(headers, now)` says when a message's `expires` header is already past: Celery would
acknowledge such a message and drop it with no record, and for `autobook.book` carrying a whole
request that request would be lost.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from autobook.queue.envelope import UNUSABLE_HEADER
from autobook.quoting import quote

FORMAT_HINT = "a Celery protocol 2 message: headers task and id, body [args, kwargs, embed]"


def _type_name(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return f"an array of {len(value)}"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else type(value).__name__


def _body_problem(body: object) -> str | None:
    if not isinstance(body, list | tuple) or len(body) != 3:
        return f"its body is {_type_name(body)}, not [args, kwargs, embed]"
    args, kwargs, embed = body
    if not isinstance(args, list | tuple):
        return f"its args are {_type_name(args)}, not an array"
    if not isinstance(kwargs, dict):
        return f"its kwargs are {_type_name(kwargs)}, not an object"
    if embed is not None and not isinstance(embed, dict):
        return f"its embed is {_type_name(embed)}, not an object"
    return None


def problem_with(message: Any, known_tasks: Collection[str]) -> str | None:
    """Why `message` cannot be run, in words for a `reason`; None if Celery can run it."""
    headers = message.headers
    if isinstance(headers, dict) and UNUSABLE_HEADER in headers:
        return f"the broker item is unusable: {quote(headers[UNUSABLE_HEADER], 200)}"
    if not isinstance(headers, dict):
        return f"its headers are {_type_name(headers)}, not an object"
    if "task" not in headers:
        return None  # protocol 1 or not Celery at all: Celery refuses those itself
    task = headers["task"]
    if not isinstance(task, str) or not task:
        return f"its headers.task is {_type_name(task)}, not a task name"
    message_id = headers.get("id")
    if not isinstance(message_id, str) or not message_id:
        return f"its headers have no id (a non-empty string); expected {FORMAT_HINT}"
    if task not in known_tasks:
        return f"unknown task name {quote(task, 80)}"
    try:
        body = message.decode()
    except Exception as exc:  # kombu raises its own errors and the codec's
        return f"the body does not decode ({type(exc).__name__}); expected {FORMAT_HINT}"
    problem = _body_problem(body)
    return None if problem is None else f"{problem}; expected {FORMAT_HINT}"


def expired(headers: object, now: datetime) -> str | None:
    """The `expires` header as given when it is before `now`; None when absent or still ahead.

    A naive time is read as local time, as Celery reads it. A header that is no ISO 8601 time is
    left to Celery, whose error on it the consumer records.
    """
    if not isinstance(headers, dict) or not isinstance(headers.get("expires"), str):
        return None
    try:
        expires = datetime.fromisoformat(headers["expires"])
    except ValueError:
        return None
    return quote(headers["expires"], 40) if expires.astimezone() < now else None
