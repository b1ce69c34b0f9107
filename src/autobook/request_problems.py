"""Turn pydantic's validation errors into `FieldProblem`s that a person can act on.

A problem names the field by dotted path with list indices (`invitee.email`, `window.hours[1]`,
`event_guests[3]`) and says what to do in plain words. pydantic's own wording, error URLs and the
rejected input never reach the text, except where the input is a suggestion's subject (an unknown
key is named, so the sender can find it).

Validators that find several problems at once, or a problem in a sub-field of the value they
check, raise `subproblems([(relative_path, text), ...])`; the paths are joined to the location of
the value being validated.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from autobook.errors import FieldProblem
from autobook.quoting import printable, quote

SUBPROBLEMS_ERROR_TYPE = "autobook_subproblems"
ROOT_FIELD = "request"
_INDEX = re.compile(r"\[\d+\]")
_QUOTED = re.compile(r"'([^']*)'")
_KEY_TYPO_CUTOFF = 0.8  # "event_guest" and "timezon" pass; "utm_id" is not taken for "utm_medium"

_MESSAGES_BY_TYPE = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list (a JSON array)",
    "model_type": "must be an object (a JSON object with keys)",
    "model_attributes_type": "must be an object (a JSON object with keys)",
    "dict_type": "must be an object (a JSON object with keys)",
    "url_type": "must be an http(s) URL, e.g. https://crm.example.com/hooks/booking",
    "url_parsing": "must be an http(s) URL, e.g. https://crm.example.com/hooks/booking",
    "url_scheme": "must be an http(s) URL, e.g. https://crm.example.com/hooks/booking",
    "url_syntax_violation": "must be an http(s) URL, e.g. https://crm.example.com/hooks/booking",
    "url_too_long": "is too long for a URL",
}


def subproblems(problems: Sequence[tuple[str, str]]) -> PydanticCustomError:
    """An error for a validator to raise: each (path relative to the value, text) is one problem.

    A relative path is `""` (the value itself), `"name"`, `"[3]"` or `"[3].question"`.
    """
    summary = "; ".join(f"{path}: {text}" if path else text for path, text in problems)
    return PydanticCustomError(
        SUBPROBLEMS_ERROR_TYPE, "{summary}", {"summary": summary, "problems": tuple(problems)}
    )


def join_path(base: str, relative: str) -> str:
    """`("event_guests", "[3]")` gives `event_guests[3]`; `("invitee", "name")`, `invitee.name`."""
    if not relative:
        return base
    if not base or relative.startswith("["):
        return base + relative
    return f"{base}.{relative}"


def _path_of(loc: tuple[int | str, ...], tagged_unions: Mapping[str, Collection[str]]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in tagged_unions.get(_INDEX.sub("", path), ()):
            continue  # a union's tag (e.g. event_type's "selector") is not part of the data
        else:
            path = join_path(path, _shown_key(part))
    return path


def _shown_key(key: str) -> str:
    # Keys reach pydantic only once free of controls and surrogates (`request_limits`), but a
    # bidi override or an unassigned code point would still reach a terminal as it came.
    return key if printable(key) == key else f"'{quote(key, 40)}'"


def _unknown_key(path: str, fields_at: Callable[[str], Collection[str]]) -> str:
    parent, _, key = path.rpartition(".")
    known = sorted(fields_at(_INDEX.sub("", parent)))
    close = difflib.get_close_matches(key, known, n=1, cutoff=_KEY_TYPO_CUTOFF)
    hint = f"did you mean {close[0]}?" if close else f"known fields here: {', '.join(known)}"
    return f"is not a known field: remove it or fix the spelling ({hint})"


def _choice(error: ErrorDetails) -> str:
    choices = _QUOTED.findall(str(error.get("ctx", {}).get("expected", "")))
    given = error.get("input")
    text = f"must be one of {', '.join(choices)}"
    if isinstance(given, str) and choices:
        close = [choice for choice in choices if given and choice.startswith(given.lower())]
        close = close or difflib.get_close_matches(given, choices, n=1, cutoff=0.6)
        if close:
            text += f" (did you mean {close[0]}?)"
    return text


def _message(error: ErrorDetails, missing_hints: Mapping[str, str], path: str) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return missing_hints.get(_INDEX.sub("", path), "is required")
    if kind in ("literal_error", "enum"):
        return _choice(error)
    if kind == "too_long":
        return f"has too many items: at most {ctx.get('max_length')}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    return _MESSAGES_BY_TYPE.get(kind, str(error["msg"]))


def problems_from_validation_error(
    error: ValidationError,
    *,
    fields_at: Callable[[str], Collection[str]],
    tagged_unions: Mapping[str, Collection[str]] | None = None,
    missing_hints: Mapping[str, str] | None = None,
) -> list[FieldProblem]:
    """One FieldProblem per problem in `error`, in the order pydantic found them.

    `fields_at(path)` lists the known keys of the object at a path without indices (for "did you
    mean" on unknown keys); `tagged_unions` maps a path to its union's tags, which are dropped from
    paths; `missing_hints` replaces "is required" for the given paths.
    """
    tags = tagged_unions or {}
    hints = missing_hints or {}
    problems: list[FieldProblem] = []
    for item in error.errors(include_url=False):
        path = _path_of(tuple(item["loc"]), tags)
        if item["type"] == SUBPROBLEMS_ERROR_TYPE:
            for relative, text in item.get("ctx", {}).get("problems", ()):
                problems.append(FieldProblem(join_path(path, relative) or ROOT_FIELD, text))
        elif item["type"] == "extra_forbidden":
            problems.append(FieldProblem(path, _unknown_key(path, fields_at)))
        else:
            problems.append(FieldProblem(path or ROOT_FIELD, _message(item, hints, path)))
    return problems
