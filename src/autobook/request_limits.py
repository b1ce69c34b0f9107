"""The first check of a raw request: is it JSON, bounded, and made of clean text?

It runs before the schema (`autobook.requests`), on the raw value as the producer sent it, so
what the schema, the database or Calendly would choke on never gets that far:

- Only JSON values: dicts with string keys, lists, strings, finite numbers, booleans, null. A
  Python caller of `submit_many` may pass a datetime, bytes, a set or a cycle; each is a
  problem at its path, not an exception in the middle of a batch.
- At most `MAX_DEPTH` levels (the schema needs 3) and `MAX_ITEMS` keys or items per level.
- Strings (keys too) hold no control characters (NUL breaks PostgreSQL, ESC reaches a terminal)
  and no lone surrogates (they cannot be encoded as UTF-8, so every POST would fail for ever);
  free text (an answer, a location) may hold tabs and line breaks.
- Strings are at most `max_chars_at(path)` characters: Calendly's documented limits where there
  are some, conservative ones elsewhere (the README lists them). A 1 MB name was accepted, then
  refused by Calendly with a bare 400.

`safe_copy(raw)` is what is stored of a request that fails here: the same shape, with strings
escaped and cut, foreign values described, and depth and size bounded, so that recording it
cannot fail and cannot bloat the database.
"""

from __future__ import annotations

import math
import re
from typing import Any

from autobook.errors import FieldProblem
from autobook.quoting import quote

MAX_DEPTH = 8
MAX_ITEMS = 100  # keys of an object or items of a list; the schema's largest list is 10 guests
MAX_PROBLEMS = 20  # 3,000 unknown keys must not make a 3,000-part reason
MAX_NODES = 5_000  # values in the whole request; a shared sub-list must not multiply the walk
DEFAULT_MAX_CHARS = 255
# Calendly's documented limits: an event type name is at most 55 characters and a location at
# most 255 (openapi.yaml). The others are conservative: RFC 5321 for emails, 255 for short
# text, 10,000 (Calendly's longest documented text, a cancellation reason) for an answer.
MAX_CHARS_BY_PATH = {
    "request_id": 255,
    "event_type": 2048,
    "event_type.name": 55,
    "event_type.slug": 255,
    "event_type.owner": 254,
    "invitee.name": 255,
    "invitee.first_name": 255,
    "invitee.last_name": 255,
    "invitee.email": 254,
    "invitee.timezone": 64,
    "invitee.text_reminder_number": 32,
    "window.timezone": 64,
    "window.earliest": 32,
    "window.latest": 32,
    "window.days": 16,
    "window.hours": 32,
    "keep_trying_until": 64,
    "start_after": 64,
    "location.kind": 64,
    "location.location": 255,
    "event_guests": 254,
    "questions_and_answers.question": 255,
    "questions_and_answers.answer": 10_000,
    "callback_url": 2048,
}
# Free text where a line break is part of the value, not an attack.
MULTILINE_PATHS = frozenset({"questions_and_answers.answer", "location.location"})
MULTILINE_CONTROLS = frozenset("\t\n\r")
_INDEX = re.compile(r"\[\d+\]")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def max_chars_at(path: str) -> int:
    """The longest string allowed at `path` (indices ignored: `event_guests[3]` is a guest)."""
    return MAX_CHARS_BY_PATH.get(_INDEX.sub("", path), DEFAULT_MAX_CHARS)


def _key_path(base: str, key: str) -> str:
    shown = key if _PLAIN_KEY.match(key) else f"'{quote(key, 40)}'"
    return f"{base}.{shown}" if base else shown


def _text_problem(text: str, path: str) -> str | None:
    plain = _INDEX.sub("", path)
    allowed = MULTILINE_CONTROLS if plain in MULTILINE_PATHS else frozenset()
    for char in text:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return (
                f"holds a lone surrogate ({quote(char)}), which is not text: "
                "send the whole character, or remove it"
            )
        if (code < 0x20 or 0x7F <= code < 0xA0) and char not in allowed:
            return f"holds a control character ({quote(char)}): remove it"
    limit = max_chars_at(path)
    if len(text) > limit:
        return f"is {len(text)} characters long; at most {limit}"
    return None


def _foreign(value: object) -> str:
    return f"is a Python {type(value).__name__}, not a JSON value: send JSON only"


class _Walk:
    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []
        self.more = 0
        self.nodes = 0
        self._open: set[int] = set()

    def add(self, path: str, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(FieldProblem(path or "request", text))
        else:
            self.more += 1

    def value(self, value: object, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes == MAX_NODES:
            self.add("request", f"is too large: at most {MAX_NODES} values in all")
        if self.nodes >= MAX_NODES:
            return
        if value is None or isinstance(value, bool | int):
            return
        if isinstance(value, float):
            if not math.isfinite(value):
                self.add(path, "is not a finite number: NaN and Infinity are not JSON")
            return
        if isinstance(value, str):
            problem = _text_problem(value, path)
            if problem:
                self.add(path, problem)
            return
        if not isinstance(value, dict | list):
            self.add(path, _foreign(value))
            return
        if depth >= MAX_DEPTH:
            self.add(path, f"is nested too deeply: at most {MAX_DEPTH} levels")
            return
        if id(value) in self._open:
            self.add(path, "contains itself: send a tree, not a cycle")
            return
        if len(value) > MAX_ITEMS:
            self.add(path, f"has {len(value)} entries; at most {MAX_ITEMS}")
            return
        self._open.add(id(value))
        try:
            if isinstance(value, list):
                for index, item in enumerate(value):
                    self.value(item, f"{path}[{index}]", depth + 1)
            else:
                self._object(value, path, depth)
        finally:
            self._open.discard(id(value))

    def _object(self, value: dict[Any, Any], path: str, depth: int) -> None:
        for key, item in value.items():
            if not isinstance(key, str):
                self.add(_key_path(path, repr(key)), "has a key that is not a string")
                continue
            key_path = _key_path(path, key)
            if len(key) > DEFAULT_MAX_CHARS:
                self.add(key_path, f"is a key {len(key)} characters long; at most 255")
                continue
            problem = _text_problem(key, "")
            if problem:
                self.add(key_path, f"is not a usable key: it {problem}")
                continue
            self.value(item, key_path, depth + 1)


def raw_problems(raw: object) -> list[FieldProblem]:
    """Every problem of the raw value itself (at most `MAX_PROBLEMS`, then a count)."""
    walk = _Walk()
    walk.value(raw, "", 0)
    problems = walk.problems
    if walk.more:
        problems.append(FieldProblem("request", f"and {walk.more} more problems"))
    return problems


SAFE_COPY_NODES = 2_000


def safe_copy(raw: object) -> object:
    """`raw` made storable: JSON only, strings printable and cut, depth and size bounded."""
    budget = [SAFE_COPY_NODES]
    return _safe(raw, 0, budget)


def _safe(raw: object, depth: int, budget: list[int]) -> object:
    budget[0] -= 1
    if raw is None or isinstance(raw, bool | int):
        return raw
    if isinstance(raw, float):
        return raw if math.isfinite(raw) else repr(raw)
    if isinstance(raw, str):
        if raw.isprintable() and len(raw) <= DEFAULT_MAX_CHARS:
            return raw
        return quote(raw, DEFAULT_MAX_CHARS)
    if not isinstance(raw, dict | list):
        return f"<a Python {type(raw).__name__}>"
    if depth >= MAX_DEPTH or budget[0] <= 0:
        return f"<{type(raw).__name__} cut: too deep or too large>"
    if isinstance(raw, list):
        return [_safe(item, depth + 1, budget) for item in raw[:MAX_ITEMS]]
    copy: dict[str, object] = {}
    for key, item in list(raw.items())[:MAX_ITEMS]:
        name = quote(key if isinstance(key, str) else repr(key), 80)
        copy[name] = _safe(item, depth + 1, budget)
    return copy
