"""Every request of the invalid corpus is refused, with a reason that names the faulty field."""

from __future__ import annotations

import json

import pytest

from autobook.errors import InvalidRequest
from autobook.requests import parse_request, request_id_of
from tests.unit.invalid_requests import INVALID_REQUESTS, valid_base_request

MIN_CORPUS_SIZE = 35


def _under(field: str, expected: str) -> bool:
    return field == expected or field.startswith((f"{expected}.", f"{expected}["))


@pytest.mark.parametrize(
    ("label", "raw", "field"), INVALID_REQUESTS, ids=[c[0] for c in INVALID_REQUESTS]
)
def test_invalid_request_is_refused_naming_only_its_faulty_field(
    label: str, raw: object, field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    error = caught.value
    assert field in str(error), f"{label}: reason {error} does not name {field}"
    assert error.problems, label
    # Each item is wrong in one way only: every problem is about that field.
    assert all(_under(problem.field, field) for problem in error.problems), error.problems
    assert all(problem.problem for problem in error.problems)


@pytest.mark.parametrize(
    ("label", "raw", "field"), INVALID_REQUESTS, ids=[c[0] for c in INVALID_REQUESTS]
)
def test_invalid_request_keeps_its_usable_request_id(label: str, raw: object, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert caught.value.request_id == request_id_of(raw)
    if field != "request_id" and isinstance(raw, dict):
        assert caught.value.request_id == f"invalid-{label}"


def test_corpus_is_large_and_each_item_is_distinct() -> None:
    labels = [label for label, _, _ in INVALID_REQUESTS]
    assert len(INVALID_REQUESTS) >= MIN_CORPUS_SIZE
    assert len(set(labels)) == len(labels)
    dumped = [json.dumps(raw, sort_keys=True) for _, raw, _ in INVALID_REQUESTS]
    assert len(set(dumped)) == len(dumped)


def test_corpus_request_ids_are_unique_where_present() -> None:
    ids = [
        raw["request_id"]
        for _, raw, _ in INVALID_REQUESTS
        if isinstance(raw, dict) and "request_id" in raw
    ]
    hashable = [json.dumps(value) for value in ids]
    assert len(set(hashable)) == len(hashable)


def test_corpus_items_survive_a_json_round_trip() -> None:
    for label, raw, _ in INVALID_REQUESTS:
        assert json.loads(json.dumps(raw)) == raw, label


def test_corpus_includes_malformed_non_objects_and_a_missing_request_id() -> None:
    raws = [raw for _, raw, _ in INVALID_REQUESTS]
    assert any(isinstance(raw, list) for raw in raws)
    assert any(isinstance(raw, str) for raw in raws)
    assert any(raw is None for raw in raws)
    assert any(isinstance(raw, dict) and "request_id" not in raw for raw in raws)


def test_corpus_base_request_is_valid() -> None:
    request = parse_request(valid_base_request())
    assert request.request_id == "valid-base"
