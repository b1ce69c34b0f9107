"""Hypothesis strategies for hostile input: any JSON value, and a valid request mutated by one.

`hostile_json()` draws every JSON type, nested, with text that includes control characters, NUL,
lone surrogates and bidi overrides, and now and then something huge (a string of up to 1.5 MB, a
number far beyond 64 bits, nesting a few hundred levels deep). `mutated_requests()` takes the
valid base request of `tests.unit.invalid_requests`, sets one field anywhere in it (or adds an
unknown key to any object in it) to such a value, and gives every draw a fresh `request_id` so
that examples never collide as conflicts, unless the mutation hits `request_id` itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from tests.unit.invalid_requests import valid_base_request

# Every code point, surrogates and controls included: what a careless or hostile client sends.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
NASTY_CHARACTERS = st.sampled_from(["\x00", "\x1b", "\n", "\ud83d", "\udc00", "\u202e", "A", "é"])
HUGE_TEXT = st.builds(lambda char, size: char * size, NASTY_CHARACTERS, st.integers(300, 1_500_000))
HUGE_NUMBERS = st.sampled_from([2**64, -(2**200), 10**400, 1e308, -1e308, 5e-324])
DEEP_NESTING = st.builds(
    lambda depth, leaf, as_list: _nest(depth, leaf, as_list),
    st.integers(20, 400),
    st.none() | st.text(max_size=3),
    st.booleans(),
)


def _nest(depth: int, leaf: object, as_list: bool) -> object:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


def hostile_json(*, strict: bool = False) -> st.SearchStrategy[object]:
    """Any JSON value; `strict` leaves out NaN and the infinities, which JSON itself has not."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=not strict, allow_infinity=not strict)
        | ANY_TEXT
        | HUGE_TEXT
        | HUGE_NUMBERS
    )
    return (
        st.recursive(
            scalars,
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4)
            ),
            max_leaves=10,
        )
        | DEEP_NESTING
    )


Path = tuple[str | int, ...]


def _paths(value: object, prefix: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _objects(value: object, prefix: Path = ()) -> Iterator[Path]:
    """Paths of every object in `value`, the root included: where an unknown key may be added."""
    if isinstance(value, dict):
        yield prefix
        for key, item in value.items():
            yield from _objects(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _objects(item, (*prefix, index))


_BASE = valid_base_request()
FIELD_PATHS = list(_paths(_BASE))
OBJECT_PATHS = list(_objects(_BASE))
_serial = itertools.count()


def _at(raw: dict[str, Any], path: Path) -> Any:
    target: Any = raw
    for part in path:
        target = target[part]
    return target


@st.composite
def mutated_requests(draw: st.DrawFn, *, strict: bool = False) -> dict[str, Any]:
    """The valid base request with one field set to, or one unknown key added with, any value.

    `strict` keeps to what a JSON file may hold (Python's `json` also reads and writes NaN).
    """
    raw = valid_base_request(f"fuzz-{next(_serial)}")
    value = draw(hostile_json(strict=strict))
    if draw(st.booleans()):
        path = draw(st.sampled_from(FIELD_PATHS))
        _at(raw, path[:-1])[path[-1]] = value
    else:
        key = draw(ANY_TEXT)
        _at(raw, draw(st.sampled_from(OBJECT_PATHS)))[key] = value
    return raw
