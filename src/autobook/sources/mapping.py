"""Mappings: a source's own payload turned into a booking request, with no code.

A mapping is YAML:

    request_id: "hubspot-{objectId}-{eventId}"   # a template: the CRM's retries stay idempotent
    fields:                                        # booking request field <- payload
      invitee.email: properties.email              # a dotted path into the payload
      invitee.name: {template: "{properties.firstname} {properties.lastname}"}
      invitee.timezone: {path: properties.hs_timezone, default: America/New_York}
      tracking.salesforce_uuid: {path: Id}
    constants:                                     # fixed values
      tracking.utm_source: hubspot
    routes:                                        # the first route whose `when` all hold wins
      - name: enterprise
        when: [{path: properties.company_size, gte: 200}]
        event_type: {name: 30 Minute Demo, owner: taylor@acme.com}
        set: {prefer: earliest}
      - name: intro                                # no `when`: everything else
        event_type: {slug: intro}

- Paths are dot-separated keys; a number indexes a list, and `answers[field.ref=email]` picks
  the first item of a list whose `field.ref` is `email` (Typeform's answers).
- Conditions: `equals`, `in` (a list), `matches` (a regular expression, searched), and the
  numeric `gte` / `lt` (a number given as text counts, as CRMs send them). Several in one
  condition must all hold.
- A booking request field is named by its dotted path too (`questions_and_answers.0.answer`);
  numbers make lists. Constants are set first, then fields, then the route's `event_type`/`set`.
- A path with no value leaves its field out (or takes its `default`); the request is then refused
  by the usual validation, which names the field, and `problems` says which path was missing.

`load_mapping` validates the whole file at once and every problem names its line. `apply` never
raises for a payload: whatever it is, the result goes to the same intake as every other door.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from autobook.errors import AutobookError
from autobook.requests import BookingRequest

PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
SEGMENT = re.compile(r"^(?P<key>[^.\[\]=]+)(?:\[(?P<where>[^=\]]+)=(?P<value>[^\]]*)\])?$")
MAX_RENDERED_CHARS = 2048  # a template's output; intake applies the field's own limit after
REQUEST_FIELDS = frozenset(BookingRequest.model_fields)


class MappingError(AutobookError):
    """The mapping is invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid mapping: " + "; ".join(problems))


# -- paths ----------------------------------------------------------------------------------


def split_path(path: str) -> list[str]:
    """`a.b[c.d=e].0` -> ['a', 'b[c.d=e]', '0']: dots inside brackets don't split."""
    parts, depth, current = [], 0, ""
    for char in path:
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current += char
    parts.append(current)
    return parts


def check_path(path: str) -> str | None:
    """Why `path` is not a usable payload path, or None."""
    if not path or not path.strip():
        return "a path is not empty"
    for part in split_path(path):
        match = SEGMENT.match(part)
        if match is None:
            return f"{path!r} is not a dotted path (at {part!r})"
        where = match.group("where")
        if where is not None and check_path(where) is not None:
            return f"{path!r}: the selector in [{where}=...] is not a dotted path"
    return None


_MISSING = object()


def lookup(payload: object, path: str) -> object:
    """The value at `path` in `payload`, or `_MISSING`."""
    current = payload
    for part in split_path(path):
        match = SEGMENT.match(part)
        if match is None:
            return _MISSING
        key = match.group("key")
        if isinstance(current, dict):
            current = current.get(key, _MISSING)
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
        where = match.group("where")
        if where is not None:
            if not isinstance(current, list):
                return _MISSING
            wanted = match.group("value")
            current = next(
                (item for item in current if _text(lookup(item, where)) == wanted), _MISSING
            )
            if current is _MISSING:
                return _MISSING
    return None if current is None else current


def _text(value: object) -> str | None:
    if value is _MISSING or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(template: str, payload: object) -> tuple[str | None, list[str]]:
    """The template with each `{path}` replaced; None and the missing paths if any is missing."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        text = _text(lookup(payload, match.group(1).strip()))
        if text is None:
            missing.append(match.group(1).strip())
            return ""
        return text

    rendered = PLACEHOLDER.sub(replace, template)
    if missing:
        return None, missing
    return rendered[:MAX_RENDERED_CHARS], []


def _check_template(template: str) -> str:
    placeholders = PLACEHOLDER.findall(template)
    if not placeholders:
        raise ValueError("a template names at least one payload path in braces, e.g. {id}")
    for path in placeholders:
        problem = check_path(path.strip())
        if problem is not None:
            raise ValueError(problem)
    return template


def _check_target(target: str) -> str:
    parts = target.split(".")
    if parts[0] not in REQUEST_FIELDS:
        raise ValueError(f"{parts[0]!r} is not a booking request field")
    if any(not part for part in parts):
        raise ValueError(f"{target!r} is not a dotted path")
    return target


def _path_ok(path: str) -> str:
    problem = check_path(path)
    if problem is not None:
        raise ValueError(problem)
    return path


PayloadPath = Annotated[str, AfterValidator(_path_ok)]
Target = Annotated[str, AfterValidator(_check_target)]
Template = Annotated[str, AfterValidator(_check_template)]

# -- the mapping's schema -------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldSpec(_Spec):
    """One booking request field: from a payload `path`, a `template`, or a constant `value`."""

    path: PayloadPath | None = None
    template: Template | None = None
    value: Any = None
    default: Any = None  # `default: null` makes the field optional: left out, no problem

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [name for name in ("path", "template", "value") if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("give exactly one of path, template or value")
        return self


class Condition(_Spec):
    """A test of one payload field; every operator given must hold."""

    path: PayloadPath
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    matches: str | None = None
    gte: float | None = None
    lt: float | None = None

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _some_operator(self) -> Condition:
        operators = {"equals", "in_", "matches", "gte", "lt"} & self.model_fields_set
        if not operators:
            raise ValueError("a condition needs one of equals, in, matches, gte, lt")
        return self

    def holds(self, payload: object) -> bool:
        value = lookup(payload, self.path)
        if value is _MISSING:
            return False
        checks = self.model_fields_set
        if "equals" in checks and _text(value) != _text(self.equals):
            return False
        if "in_" in checks and _text(value) not in {_text(v) for v in self.in_ or []}:
            return False
        if "matches" in checks:
            text = _text(value)
            if text is None or self.matches is None or re.search(self.matches, text) is None:
                return False
        if "gte" in checks or "lt" in checks:
            number = _number(value)
            if number is None:
                return False
            if self.gte is not None and not number >= self.gte:
                return False
            if self.lt is not None and not number < self.lt:
                return False
        return True


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number == number else None  # NaN compares false to everything
    return None


class Route(_Spec):
    """When every condition holds, use this event type (and these extra fields)."""

    name: str | None = None
    when: list[Condition] = Field(default_factory=list)
    event_type: str | dict[str, str]
    set: dict[Target, Any] = Field(default_factory=dict)

    @field_validator("when", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    def matches(self, payload: object) -> bool:
        return all(condition.holds(payload) for condition in self.when)


class Mapping(_Spec):
    """A whole mapping file."""

    request_id: Template
    fields: dict[Target, PayloadPath | FieldSpec] = Field(default_factory=dict)
    constants: dict[Target, Any] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)


# -- loading, with line numbers -------------------------------------------------------------


LineIndex = dict[tuple[str | int, ...], int]


def _index_lines(node: yaml.Node, path: tuple[str | int, ...], index: LineIndex) -> None:
    """Record the line of every key and item under `node` (a key's own line, not its value's)."""
    index.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            index[child] = key.start_mark.line + 1
            _index_lines(value, child, index)
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            _index_lines(item, (*path, number), index)


def _place(loc: tuple[int | str, ...], index: LineIndex) -> tuple[int, str]:
    """The line and path of the deepest part of `loc` in the file (pydantic adds tags to loc)."""
    found: tuple[str | int, ...] = ()
    for part in loc:
        candidate = (*found, part)
        if candidate in index:
            found = candidate
    return index.get(found, 1), ".".join(str(part) for part in found) or "(top)"


def load_mapping(text: str, *, name: str = "mapping") -> Mapping:
    """Parse and validate a mapping; MappingError lists every problem with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise MappingError([f"{name} line {line}: not valid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise MappingError([f"{name}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict) or root is None:
        raise MappingError([f"{name} line 1: a mapping is a YAML object with request_id"])
    index: LineIndex = {}
    _index_lines(root, (), index)
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            line, where = _place(tuple(error["loc"]), index)
            message = error["msg"].removeprefix("Value error, ")
            problem = f"{name} line {line}: {where}: {message}"
            if problem not in problems:  # a union reports one mistake once per member
                problems.append(problem)
        raise MappingError(problems) from None


# -- applying -------------------------------------------------------------------------------


@dataclass
class Mapped:
    """What a payload became: the booking request, the route chosen, and missing paths."""

    request: dict[str, Any]
    route: str | None = None
    problems: list[str] = field(default_factory=list)


def _put(target: dict[str, Any], path: str, value: object) -> None:
    parts = path.split(".")
    current: Any = target
    for part, following in itertools.pairwise(parts):
        empty: Any = [] if following.isdigit() else {}
        if isinstance(current, list):
            index = int(part)
            while len(current) <= index:
                current.append(None)
            if not isinstance(current[index], dict | list):
                current[index] = empty
            current = current[index]
        else:
            if not isinstance(current.get(part), dict | list):
                current[part] = empty
            current = current[part]
    last = parts[-1]
    if isinstance(current, list):
        index = int(last)
        while len(current) <= index:
            current.append(None)
        current[index] = value
    else:
        current[last] = value


def _value(spec: str | FieldSpec, payload: object) -> tuple[object, list[str]]:
    if isinstance(spec, str):
        spec = FieldSpec(path=spec)
    if "value" in spec.model_fields_set:
        return spec.value, []
    if spec.template is not None:
        text, missing = render(spec.template, payload)
        if text is not None:
            return text, []
        if "default" in spec.model_fields_set:
            return (_MISSING if spec.default is None else spec.default), []
        return _MISSING, missing
    assert spec.path is not None
    found = lookup(payload, spec.path)
    if found is not _MISSING and found is not None:
        return found, []
    if "default" in spec.model_fields_set:
        return (_MISSING if spec.default is None else spec.default), []
    return _MISSING, [spec.path]


def _routes(mapping: Mapping, payload: object) -> Iterator[Route]:
    return (route for route in mapping.routes if route.matches(payload))


def apply(mapping: Mapping, payload: object) -> Mapped:
    """The booking request this payload becomes (never raises for a payload)."""
    request: dict[str, Any] = {}
    problems: list[str] = []
    request_id, missing = render(mapping.request_id, payload)
    if request_id is not None:
        request["request_id"] = request_id
    else:
        problems += [f"request_id: the payload has no {path}" for path in missing]
    for target, constant in mapping.constants.items():
        _put(request, target, constant)
    for target, spec in mapping.fields.items():
        value, missing = _value(spec, payload)
        if value is not _MISSING:
            _put(request, target, value)
        elif missing:
            problems += [f"{target}: the payload has no {path}" for path in missing]
    route = next(_routes(mapping, payload), None)
    if route is not None:
        _put(request, "event_type", route.event_type)
        for target, constant in route.set.items():
            _put(request, target, constant)
    elif mapping.routes:
        problems.append("event_type: no route matched the payload")
    name = None if route is None else route.name or f"route {mapping.routes.index(route) + 1}"
    return Mapped(request=request, route=name, problems=problems)
