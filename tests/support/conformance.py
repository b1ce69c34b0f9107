"""Conformance checker: every sandbox response body is checked against Calendly's own schemas.

Two documents from ``docs/calendly/`` (copies kept in the repository, see its ``SOURCE.md``) are
loaded once per process and compiled into one
``referencing`` registry, validated with openapi-schema-validator's ``OAS31Validator``:

* ``openapi.yaml`` (OpenAPI 3.0, 2023) is converted to OpenAPI 3.1 / JSON Schema 2020-12 first:
  ``nullable: true`` becomes ``"null"`` in ``type`` (and in ``enum``), or an ``anyOf`` with
  ``{"type": "null"}`` around a composed schema, because OAS 3.0 ``nullable`` only widens ``type``.
* ``calendly-api-2026-excerpt.json`` (OpenAPI 3.1) is used as is.

Which schema judges what: an operation's responses come from the excerpt where it describes the
operation and status, else from openapi.yaml. Inside openapi.yaml envelopes, the ``EventType``,
``Event`` and ``Invitee`` resources are redirected to the excerpt's schemas (a third registry
resource, the "responses view"), so envelopes, pagination, users, available times and error bodies
are judged by openapi.yaml and the resources by the current spec.

Invariants:
* Every correction of Calendly's documents is a ``SchemaPatch`` in ``PATCHES``, listed in
  ``docs/conformance.md`` with its reason and source. A patch checks the upstream value it replaces,
  so a changed Calendly document fails loudly at load instead of being patched blindly.
* An endpoint or status that neither document describes is a failure, unless ``ALLOWED_UNDESCRIBED``
  lists it with a reason. Paths under ``/_sandbox/`` are not Calendly's and are never checked.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import httpx
import yaml
from jsonschema import FormatChecker
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

Source = Literal["2023", "2026"]

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[2]
SPEC_2023_URI: Final = "urn:calendly:openapi-2023"
SPEC_2026_URI: Final = "urn:calendly:openapi-2026-excerpt"
RESPONSES_VIEW_URI: Final = "urn:autobook:calendly-2023-with-2026-resources"
SOURCE_URIS: Final[Mapping[Source, str]] = {"2023": SPEC_2023_URI, "2026": SPEC_2026_URI}
RESOURCES_FROM_2026: Final = ("EventType", "Event", "Invitee")
SANDBOX_ADMIN_PREFIX: Final = "/_sandbox/"
HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})
MAX_MESSAGE_CHARS: Final = 240


@dataclass(frozen=True)
class Allowance:
    """A documented exception for a (method, template, status) the specs do not describe."""

    reason: str
    schema_ref: str | None = None  # None: the body is not checked at all


# Keys: (METHOD or "*", path template or "*", status). Keep each reason in docs/conformance.md.
ALLOWED_UNDESCRIBED: Final[Mapping[tuple[str, str, int], Allowance]] = {
    ("*", "*", 429): Allowance(
        "429 bodies are not documented by Calendly (API-NOTES §3, §4): headers only."
    ),
}

_MISSING: Final = object()  # marks a key that a patch adds (it must not exist upstream)


@dataclass(frozen=True)
class Edit:
    """Set the node at ``pointer`` (RFC 6901) to ``replacement``; it must now be ``expected``."""

    pointer: str
    expected: object
    replacement: object


@dataclass(frozen=True)
class SchemaPatch:
    """One deliberate correction of a Calendly document; ``patch_id`` is cited in the docs."""

    patch_id: str
    source: Source
    reason: str
    edits: tuple[Edit, ...]


def _error_schema_2023(response_name: str) -> str:
    return (
        f"/components/responses/{response_name}/content/application~1json/schema/allOf/1/properties"
    )


def _string_enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_UNAUTHENTICATED_MESSAGES: Final = ("The access token is invalid", "The access token is expired")
_NOT_FOUND_MESSAGE: Final = "The server could not find the requested resource."
_INVITEES_TITLE_REF: Final = {
    "$ref": "#/components/schemas/InviteesPostResponsesContentApplicationJsonSchemaTitle"
}
_INVITEES_MESSAGE_REF: Final = {
    "$ref": "#/components/schemas/InviteesPostResponsesContentApplicationJsonSchemaMessage"
}
_INLINE_403_2023: Final = (
    "/paths/~1event_types/get",
    "/paths/~1scheduled_events/get",
    "/paths/~1scheduled_events~1{uuid}/get",
    "/paths/~1scheduled_events~1{uuid}~1invitees/get",
    "/paths/~1scheduled_events~1{uuid}~1cancellation/post",
)

PATCHES: Final[tuple[SchemaPatch, ...]] = (
    SchemaPatch(
        "error-title-value",
        "2023",
        "`value:` is no JSON Schema keyword (validators ignore it); the intent is a fixed title.",
        tuple(
            Edit(
                f"{_error_schema_2023(name)}/title",
                {"type": "string", "value": title},
                _string_enum(title),
            )
            for name, title in (
                ("INVALID_ARGUMENT", "Invalid Argument"),
                ("UNAUTHENTICATED", "Unauthenticated"),
                ("PERMISSION_DENIED", "Permission Denied"),
                ("NOT_FOUND", "Resource Not Found"),
                ("UNKNOWN", "Internal Server Error"),
            )
        ),
    ),
    SchemaPatch(
        "error-message-value",
        "2023",
        "`value:` on messages: fixed for 404/500, dropped for 400/403 (their messages vary).",
        (
            Edit(
                f"{_error_schema_2023('NOT_FOUND')}/message",
                {"type": "string", "value": _NOT_FOUND_MESSAGE},
                _string_enum(_NOT_FOUND_MESSAGE),
            ),
            Edit(
                f"{_error_schema_2023('UNKNOWN')}/message",
                {
                    "type": "string",
                    "value": "The server encountered an unexpected condition that prevented it "
                    "from fulfilling the request.",
                },
                _string_enum(
                    "The server encountered an unexpected condition that prevented it "
                    "from fulfilling the request."
                ),
            ),
            Edit(
                f"{_error_schema_2023('INVALID_ARGUMENT')}/message",
                {"type": "string", "value": "The supplied parameters are invalid."},
                {"type": "string"},
            ),
            Edit(
                f"{_error_schema_2023('PERMISSION_DENIED')}/message",
                {"type": "string", "value": "You do not have permission to access this resource."},
                {"type": "string"},
            ),
        ),
    ),
    SchemaPatch(
        "unauthenticated-scalar-enum",
        "2023",
        "`enum` written as a scalar string: invalid, and validators read it char by char.",
        (
            Edit(
                f"{_error_schema_2023('UNAUTHENTICATED')}/message",
                {"type": "string", "enum": "The access token is invalid"},
                _string_enum(*_UNAUTHENTICATED_MESSAGES),
            ),
        ),
    ),
    SchemaPatch(
        "error-required-title-message",
        "2023",
        "Inline 403 schemas omit `required`; every Calendly error body has title and message.",
        tuple(
            Edit(
                f"{operation}/responses/403/content/application~1json/schema/required",
                _MISSING,
                ["title", "message"],
            )
            for operation in _INLINE_403_2023
        ),
    ),
    SchemaPatch(
        "zoom-location-type",
        "2023",
        "Real Event.location for Zoom has `type: zoom` (S5, and this spec's own examples).",
        (
            Edit(
                "/components/schemas/ZoomConference/properties/type/enum",
                ["zoom_conference"],
                ["zoom"],
            ),
        ),
    ),
    SchemaPatch(
        "zoom-data-id",
        "2023",
        "Zoom `data.id` is a number in real data (S5) and in this spec's own examples.",
        (
            Edit(
                "/components/schemas/ZoomConference/properties/data/properties/id/type",
                "string",
                ["string", "integer"],
            ),
        ),
    ),
    SchemaPatch(
        "error-required-title-message-2026",
        "2026",
        "DeleteScheduledEventError omits `required`; Calendly error bodies have title and message.",
        (
            Edit(
                "/components/schemas/DeleteScheduledEventError/required",
                _MISSING,
                ["title", "message"],
            ),
        ),
    ),
    SchemaPatch(
        "invitees-error-titles",
        "2026",
        "POST /invitees 400/401/404 schemas carry the auto-generated 500 title and message.",
        (
            Edit(
                "/components/schemas/Post-inviteeRequestBadRequestError/properties/title",
                _INVITEES_TITLE_REF,
                _string_enum("Invalid Argument"),
            ),
            Edit(
                "/components/schemas/Post-inviteeRequestBadRequestError/properties/message",
                _INVITEES_MESSAGE_REF,
                {"type": "string"},
            ),
            Edit(
                "/components/schemas/Post-inviteeRequestUnauthorizedError/properties/title",
                _INVITEES_TITLE_REF,
                _string_enum("Unauthenticated"),
            ),
            Edit(
                "/components/schemas/Post-inviteeRequestUnauthorizedError/properties/message",
                _INVITEES_MESSAGE_REF,
                _string_enum(*_UNAUTHENTICATED_MESSAGES),
            ),
            Edit(
                "/components/schemas/Post-inviteeRequestNotFoundError/properties/title",
                _INVITEES_TITLE_REF,
                _string_enum("Resource Not Found"),
            ),
            Edit(
                "/components/schemas/Post-inviteeRequestNotFoundError/properties/message",
                _INVITEES_MESSAGE_REF,
                _string_enum(_NOT_FOUND_MESSAGE),
            ),
        ),
    ),
    SchemaPatch(
        "event-location-stub",
        "2026",
        "Event.location is a stub in the excerpt (SOURCE.md): use the 2023 `Location`.",
        (
            Edit(
                "/components/schemas/Event/properties/location",
                {
                    "description": "Response-side location: {type, location?, join_url?, status?, "
                    "data?} - see Location in shared/calendly/openapi.yaml (2023 spec); "
                    "NOT transcribed from the 2026 snapshot"
                },
                {"$ref": f"{SPEC_2023_URI}#/components/schemas/Location"},
            ),
        ),
    ),
    SchemaPatch(
        "calendar-event-nullable",
        "2026",
        "Event.calendar_event is required but nullable in 2023 (no connected calendar); the"
        " hand-transcribed excerpt lost `nullable`.",
        (
            Edit(
                "/components/schemas/Event/properties/calendar_event",
                {"$ref": "#/components/schemas/LegacyCalendarEvent", "deprecated": True},
                {
                    "anyOf": [
                        {"$ref": "#/components/schemas/LegacyCalendarEvent"},
                        {"type": "null"},
                    ],
                    "deprecated": True,
                },
            ),
        ),
    ),
)


def calendly_documents_dir() -> Path:
    """The Calendly documents the sandbox and the client are checked against: ``docs/calendly/``.

    They live in the repository, so a fresh clone's tests need nothing beside it.
    """
    return REPOSITORY_ROOT / "docs" / "calendly"


# --- loading, patching, converting -------------------------------------------------------------


def _split_pointer(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _apply(document: dict[str, Any], patch: SchemaPatch) -> None:
    for edit in patch.edits:
        *parents, key = _split_pointer(edit.pointer)
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        current = node.get(key, _MISSING)
        if current != edit.expected:
            raise RuntimeError(
                f"patch {patch.patch_id!r}: {edit.pointer} is {current!r}, expected "
                f"{edit.expected!r}; the Calendly document changed, review the patch"
            )
        node[key] = copy.deepcopy(edit.replacement)


_COMPOSITIONS: Final = ("oneOf", "anyOf", "allOf", "not", "$ref")
_NOT_SCHEMAS: Final = frozenset({"example", "examples", "x-examples"})


def _convert_oas30(node: Any) -> Any:
    """OpenAPI 3.0 schema → OpenAPI 3.1 schema; only ``nullable`` differs in these documents."""
    if isinstance(node, list):
        return [_convert_oas30(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: value if key in _NOT_SCHEMAS else _convert_oas30(value) for key, value in node.items()
    }
    if converted.pop("nullable", False) is not True:
        return converted
    if any(key in converted for key in _COMPOSITIONS):
        return {"anyOf": [{"type": "null"}, converted]}
    if "type" in converted:
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    return converted  # OAS 3.0.3: `nullable` without `type` has no effect


def _load_2023(directory: Path) -> dict[str, Any]:
    with (directory / "openapi.yaml").open(encoding="utf-8") as stream:
        document: dict[str, Any] = yaml.safe_load(stream)
    return document


def _load_2026(directory: Path) -> dict[str, Any]:
    with (directory / "calendly-api-2026-excerpt.json").open(encoding="utf-8") as stream:
        document: dict[str, Any] = json.load(stream)
    return document


# --- format checking ---------------------------------------------------------------------------

_URI_SYNTAX: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_EMAIL_SYNTAX: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _is_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _URI_SYNTAX.match(instance):
        return False
    parts = urlsplit(instance)
    return bool(parts.netloc) if parts.scheme in ("http", "https") else True


def _is_email(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_EMAIL_SYNTAX.match(instance))


def _format_checker() -> FormatChecker:
    """The OAS 3.1 formats (date-time is RFC 3339), plus ``uri`` and a stricter ``email``."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(OAS31Validator.FORMAT_CHECKER.checkers)
    checker.checks("uri")(_is_uri)
    checker.checks("email")(_is_email)
    return checker


# --- the catalog: registry, operations, responses ----------------------------------------------


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: Mapping[int, str | None]  # status -> schema ref; None: no body


@dataclass
class _Catalog:
    registry: Registry[Any]
    operations: tuple[_Operation, ...]  # literal-most templates first
    format_checker: FormatChecker
    validators: dict[str, Any]

    def validator(self, schema_ref: str) -> Any:
        if schema_ref not in self.validators:
            self.validators[schema_ref] = OAS31Validator(
                {"$ref": schema_ref}, registry=self.registry, format_checker=self.format_checker
            )
        return self.validators[schema_ref]


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{regex}/?$")


def _responses_2023(
    document: Mapping[str, Any], template: str, method: str
) -> dict[int, str | None]:
    found: dict[int, str | None] = {}
    for status, response in document["paths"][template][method]["responses"].items():
        pointer = f"/paths/{_escape(template)}/{method}/responses/{status}"
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
            response = document["components"]["responses"][pointer.rsplit("/", 1)[1]]
        has_json = "application/json" in response.get("content", {})
        schema_pointer = f"{pointer}/content/application~1json/schema"
        found[int(status)] = f"{RESPONSES_VIEW_URI}#{schema_pointer}" if has_json else None
    return found


def _responses_2026(operation: Mapping[str, Any]) -> dict[int, str | None]:
    return {
        int(status): f"{SPEC_2026_URI}{schema['$ref']}"
        for status, schema in operation.get("responses", {}).items()
    }


def _operations(doc_2023: Mapping[str, Any], doc_2026: Mapping[str, Any]) -> tuple[_Operation, ...]:
    responses: dict[tuple[str, str], dict[int, str | None]] = {}
    for template, item in doc_2023["paths"].items():
        for method in HTTP_METHODS.intersection(item):
            responses[(method, template)] = _responses_2023(doc_2023, template, method)
    for template, item in doc_2026["paths"].items():
        for method in HTTP_METHODS.intersection(item):
            merged = responses.setdefault((method, template), {})
            merged.update(_responses_2026(item[method]))  # the current spec wins where it speaks
    operations = [
        _Operation(method.upper(), template, _template_pattern(template), statuses)
        for (method, template), statuses in responses.items()
    ]
    return tuple(sorted(operations, key=lambda op: (op.template.count("{"), op.template)))


@functools.cache
def _catalog() -> _Catalog:
    directory = calendly_documents_dir()
    raw_2023, doc_2026 = _load_2023(directory), _load_2026(directory)
    for patch in PATCHES:
        _apply(raw_2023 if patch.source == "2023" else doc_2026, patch)
    doc_2023 = _convert_oas30(raw_2023)
    view = copy.deepcopy(doc_2023)
    for name in RESOURCES_FROM_2026:
        view["components"]["schemas"][name] = {
            "$ref": f"{SPEC_2026_URI}#/components/schemas/{name}"
        }
    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT202012.create_resource(document))
        for uri, document in (
            (SPEC_2023_URI, doc_2023),
            (SPEC_2026_URI, doc_2026),
            (RESPONSES_VIEW_URI, view),
        )
    )
    return _Catalog(registry.crawl(), _operations(doc_2023, doc_2026), _format_checker(), {})


# --- validation and reporting ------------------------------------------------------------------


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else f"{text[: MAX_MESSAGE_CHARS - 1]}…"


def _branch_score(errors: list[ValidationError]) -> tuple[bool, int]:
    wrong_type = any(error.validator == "type" and not error.relative_path for error in errors)
    return (wrong_type, len(errors))


def _closest(error: ValidationError) -> str:
    """Explain a failed oneOf/anyOf by its nearest branch (the one with the fewest errors).

    Calendly's unions are tagged (``type``/``kind``), so when the nearest branches each fail only
    on the tag, the allowed tags are merged into one message.
    """
    while error.context:
        branches: dict[object, list[ValidationError]] = {}
        for branch_error in error.context:
            branches.setdefault(branch_error.relative_schema_path[0], []).append(branch_error)
        best_score = min(_branch_score(errors) for errors in branches.values())
        tied = [errors for errors in branches.values() if _branch_score(errors) == best_score]
        nested = [branch_error for branch_error in tied[0] if branch_error.context]
        if nested:
            error = nested[0]
            continue
        tags = [errors[0] for errors in tied if len(errors) == 1 and errors[0].validator == "enum"]
        if len(tied) > 1 and len(tags) == len(tied):
            allowed = sorted({str(value) for tag in tags for value in tag.validator_value})
            return f"{tags[0].json_path}: {tags[0].instance!r} is not one of {allowed}"
        error = max(tied[0], key=lambda branch_error: len(branch_error.absolute_path))
        break
    return f"{error.json_path}: {_shorten(error.message)}"


def _describe(error: ValidationError) -> str:
    line = f"{error.json_path}: {_shorten(error.message)}"
    if error.context:
        line += f" (closest branch: {_closest(error)})"
    return line


def _check(schema_ref: str, instance: object, subject: str) -> None:
    errors: Iterable[ValidationError] = _catalog().validator(schema_ref).iter_errors(instance)
    lines = sorted(_describe(error) for error in errors)
    if lines:
        listing = "\n  ".join(lines)
        raise AssertionError(
            f"{subject} violates {schema_ref} ({len(lines)} violation(s)):\n  {listing}"
        )


def _path_only(path: str) -> str:
    return urlsplit(path).path or "/"


def _match(method: str, path: str) -> _Operation | None:
    for operation in _catalog().operations:
        if operation.method == method and operation.pattern.match(path):
            return operation
    return None


def _allowance(method: str, template: str, status: int) -> Allowance | None:
    for key in ((method, template, status), ("*", template, status), ("*", "*", status)):
        if key in ALLOWED_UNDESCRIBED:
            return ALLOWED_UNDESCRIBED[key]
    return None


@dataclass(frozen=True)
class NotJson:
    """A response body that could not be parsed as JSON."""

    raw: bytes


def validate_response(method: str, path: str, status: int, body: object) -> None:
    """Check one response body against the schema Calendly documents for it.

    ``path`` is the concrete path (a full URL or a query string is tolerated). Raises
    ``AssertionError`` naming the JSON path of each violation, or when the specs do not describe
    the endpoint or status and ``ALLOWED_UNDESCRIBED`` has no entry for it.
    """
    method, path = method.upper(), _path_only(path)
    if path.startswith(SANDBOX_ADMIN_PREFIX) or path == SANDBOX_ADMIN_PREFIX.rstrip("/"):
        return
    operation = _match(method, path)
    if operation is None:
        raise AssertionError(f"{method} {path}: no operation in the Calendly specs matches it")
    subject = f"{method} {path} → {status} ({operation.template})"
    if status in operation.responses:
        schema_ref = operation.responses[status]
    else:
        allowance = _allowance(method, operation.template, status)
        if allowance is None:
            described = sorted(operation.responses)
            raise AssertionError(f"{subject}: status not described by the specs {described}")
        schema_ref = allowance.schema_ref
        if schema_ref is None:
            return
    if schema_ref is None:
        if body not in (None, b"", ""):
            raise AssertionError(f"{subject}: the specs describe no body, got {body!r:.200}")
        return
    if isinstance(body, NotJson):
        raise AssertionError(f"{subject}: body is not JSON: {body.raw[:200]!r}")
    _check(schema_ref, body, subject)


def validate_schema(schema_name: str, instance: object, *, source: Source) -> None:
    """Check ``instance`` against ``components.schemas[schema_name]`` of one (patched) document."""
    document = _catalog().registry.contents(SOURCE_URIS[source])
    if schema_name not in document["components"]["schemas"]:
        raise ValueError(f"no schema {schema_name!r} in the {source} Calendly document")
    schema_ref = f"{SOURCE_URIS[source]}#/components/schemas/{_escape(schema_name)}"
    _check(schema_ref, instance, f"{schema_name} ({source})")


def covered_operations() -> set[tuple[str, str]]:
    """Every (METHOD, path template) that the checker can judge."""
    return {(operation.method, operation.template) for operation in _catalog().operations}


def _body_of(response: httpx.Response) -> object:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return NotJson(response.content)


def conformance_hook(response: httpx.Response) -> None:
    """httpx response event hook (sync clients): read the body and validate it."""
    response.read()
    request = response.request
    validate_response(request.method, request.url.path, response.status_code, _body_of(response))


async def async_conformance_hook(response: httpx.Response) -> None:
    """httpx response event hook for ``httpx.AsyncClient``."""
    await response.aread()
    request = response.request
    validate_response(request.method, request.url.path, response.status_code, _body_of(response))
