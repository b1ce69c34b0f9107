"""Mappings: paths, templates, defaults, constants, routing rules, and line-numbered errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autobook.requests import parse_request
from autobook.sources.mapping import MappingError, apply, load_mapping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sources"

TRIAGE = """\
request_id: "lead-{id}"
fields:
  invitee.email: contact.email
  invitee.name: {template: "{contact.first} {contact.last}"}
  invitee.timezone: {path: contact.tz, default: America/New_York}
  questions_and_answers.0.answer: contact.company
constants:
  tracking.utm_source: crm
  questions_and_answers.0.question: Company
  questions_and_answers.0.position: 0
routes:
  - name: enterprise
    when: {path: company_size, gte: 200}
    event_type: {name: 30 Minute Demo, owner: taylor@acme.com}
  - name: emea
    when: {path: country, in: [DE, FR, ES]}
    event_type: {slug: sales-round-robin}
  - name: gmail
    when: {path: contact.email, matches: "@gmail\\\\.com$"}
    event_type: {slug: phone-call}
  - name: small
    when: [{path: company_size, lt: 10}, {path: plan, equals: free}]
    event_type: {slug: intro}
  - name: intro
    event_type: {slug: intro}
"""


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": 42,
        "company_size": "50",
        "country": "US",
        "plan": "pro",
        "contact": {"email": "ada@acme.io", "first": "Ada", "last": "Lovelace", "company": "A"},
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    ("overrides", "route", "event_type"),
    [
        (
            {"company_size": "250"},
            "enterprise",
            {"name": "30 Minute Demo", "owner": "taylor@acme.com"},
        ),
        (
            {"company_size": 200},
            "enterprise",
            {"name": "30 Minute Demo", "owner": "taylor@acme.com"},
        ),
        ({"country": "FR"}, "emea", {"slug": "sales-round-robin"}),
        (
            {"company_size": "250", "country": "FR"},
            "enterprise",
            {"name": "30 Minute Demo", "owner": "taylor@acme.com"},
        ),
        ({"contact": {"email": "bob@gmail.com"}}, "gmail", {"slug": "phone-call"}),
        ({"company_size": "5", "plan": "free"}, "small", {"slug": "intro"}),
        ({"company_size": "5"}, "intro", {"slug": "intro"}),
        ({"company_size": "many"}, "intro", {"slug": "intro"}),
    ],
)
def test_the_first_route_whose_conditions_all_hold_picks_the_event_type(
    overrides: dict[str, Any], route: str, event_type: dict[str, str]
) -> None:
    mapped = apply(load_mapping(TRIAGE), _payload(**overrides))
    assert mapped.route == route
    assert mapped.request["event_type"] == event_type


def test_paths_templates_defaults_and_constants_build_a_valid_request() -> None:
    mapped = apply(load_mapping(TRIAGE), _payload())
    assert mapped.problems == []
    request = parse_request(mapped.request)
    assert request.request_id == "lead-42"
    assert request.invitee.name == "Ada Lovelace"
    assert request.invitee.timezone == "America/New_York"  # the default
    assert request.tracking is not None
    assert request.tracking.utm_source == "crm"
    assert [(q.question, q.answer, q.position) for q in request.questions_and_answers] == [
        ("Company", "A", 0)
    ]


def test_a_missing_path_is_named_and_leaves_the_field_out() -> None:
    mapped = apply(load_mapping(TRIAGE), {"company_size": 1, "contact": {}})
    assert "request_id: the payload has no id" in mapped.problems
    assert "invitee.email: the payload has no contact.email" in mapped.problems
    assert "request_id" not in mapped.request
    assert "email" not in mapped.request["invitee"]


def test_hostile_payloads_never_raise() -> None:
    mapping = load_mapping(TRIAGE)
    for payload in (None, [], "text", 3, {"contact": "x"}, {"id": {"a": 1}}, {"company_size": []}):
        apply(mapping, payload)


def test_every_mistake_in_a_mapping_is_named_with_its_line() -> None:
    text = (
        "request_id: no-placeholder\n"
        "fields:\n"
        "  invitee.email: a..b\n"
        "  nope.x: y\n"
        "routes:\n"
        "  - when: {path: a, gte: many}\n"
        "    event_type: {slug: x}\n"
        "  - when: {path: a, matches: '('}\n"
        "    event_type: {slug: x}\n"
        "  - when: {path: a}\n"
        "    event_type: {slug: x}\n"
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(text, name="crm.yaml")
    problems = caught.value.problems
    assert any(p.startswith("crm.yaml line 1: request_id") for p in problems)
    assert any(p.startswith("crm.yaml line 3:") and "a..b" in p for p in problems)
    assert any(p.startswith("crm.yaml line 4:") and "'nope'" in p for p in problems)
    assert any(p.startswith("crm.yaml line 6:") and "number" in p for p in problems)
    assert any(p.startswith("crm.yaml line 8:") and "regular expression" in p for p in problems)
    assert any(p.startswith("crm.yaml line 10:") and "equals" in p for p in problems)


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping("request_id: 'x-{id}'\nfields: [\n", name="m.yaml")
    assert caught.value.problems[0].startswith("m.yaml line 3: not valid YAML")


@pytest.mark.parametrize(
    ("example", "route"),
    [
        ("hubspot-workflow", "enterprise"),
        ("salesforce-flow", "demo"),
        ("typeform", "emea"),
        ("website-form", "demo"),
    ],
)
def test_each_shipped_example_maps_its_payload_to_a_valid_request(example: str, route: str) -> None:
    mapping = load_mapping((EXAMPLES / f"{example}.yaml").read_text(), name=example)
    mapped = apply(mapping, json.loads((EXAMPLES / f"{example}.json").read_text()))
    assert mapped.problems == []
    assert mapped.route == route
    parse_request(mapped.request)
