"""Decode submitted text into raw booking requests: one JSON object, a JSON array, or JSON Lines.

Decoding only splits text into items; it doesn't validate them (`autobook.requests.parse_request`
does, and records each bad item as `invalid`). Text that can't be decoded at all is refused whole,
with one problem per bad line: a half-read file is better fixed than half submitted. `NaN` and
`Infinity`, which Python's json accepts, are refused because they are not JSON; text nested
deeper than Python's recursion limit is a decode problem too, not a traceback.
"""

from __future__ import annotations

import json

from autobook.errors import FieldProblem, InvalidRequest

MAX_DECODE_PROBLEMS = 20  # a wholly broken file would otherwise yield one problem per line


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> object:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # json's decoder recurses once per level: 100,000 levels overflow
        raise ValueError("it is nested too deeply to read") from None


def _decode_problem(line_number: int, exc: ValueError) -> FieldProblem:
    reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    column = f", column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
    return FieldProblem(f"line {line_number}", f"is not valid JSON: {reason}{column}")


def decode_request_text(text: str) -> list[object]:
    """The raw requests in `text`: one JSON object, a JSON array of them, or JSON Lines.

    Items are returned as decoded, unvalidated (a malformed item is `parse_request`'s to refuse).
    Text that can't be decoded raises InvalidRequest with one problem per bad line (field
    `line N`), and nothing is returned: a half-read file is better fixed than half submitted.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        problem = "is empty: give a JSON object, a JSON array or JSON Lines"
        raise InvalidRequest([FieldProblem("input", problem)])
    try:
        whole = _loads(text)
    except ValueError as whole_error:
        lines = text.splitlines()
        first = next(i for i, line in enumerate(lines) if line.strip())
        try:
            _loads(lines[first])
        except ValueError:
            # Not even the first line is a value: one broken document, not JSON Lines.
            line = whole_error.lineno if isinstance(whole_error, json.JSONDecodeError) else 1
            raise InvalidRequest([_decode_problem(line, whole_error)]) from None
        return _decode_json_lines(lines)
    return list(whole) if isinstance(whole, list) else [whole]


def _decode_json_lines(lines: list[str]) -> list[object]:
    items: list[object] = []
    problems: list[FieldProblem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(_loads(line))
        except ValueError as exc:
            problems.append(_decode_problem(number, exc))
    if problems:
        if len(problems) > MAX_DECODE_PROBLEMS:
            more = len(problems) - MAX_DECODE_PROBLEMS
            problems = [
                *problems[:MAX_DECODE_PROBLEMS],
                FieldProblem("input", f"{more} more bad lines"),
            ]
        raise InvalidRequest(problems)
    return items


def decode_json_document(text: str) -> object:
    """One JSON document (an HTTP body): what it holds, or InvalidRequest naming where it breaks.

    No JSON Lines here: a body is one document, and its media type says so.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InvalidRequest([FieldProblem("body", "is empty: give a JSON object or array")])
    try:
        return _loads(text)
    except ValueError as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
        raise InvalidRequest([_decode_problem(line, exc)]) from None
