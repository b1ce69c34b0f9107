"""The JSON line formatter: fixed keys, masked event, traceback and request_id, no extras."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from autobook import logging_setup
from autobook.config import LogFormat

TOKEN = "tok-abcdefgh-12345678"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging_setup.build_handler(LogFormat.JSON, [TOKEN])
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger = logging.getLogger("autobook.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_exactly_the_documented_keys_and_a_masked_event(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with logging_setup.request_context("sf-lead-ada@example.com"):
        # Celery passes a task's arguments in `extra`; they must not become keys.
        logger.info("booked %s +14155550100", "ada@example.com", extra={"data": {"a": "b@c.io"}})
    (record,) = _records(stream)
    assert set(record) == {"time", "level", "logger", "process", "request_id", "event"}
    assert record["level"] == "INFO"
    assert record["logger"] == "autobook.test.json"
    assert record["event"] == "booked a***@example.com +1***00"
    assert record["request_id"] == "s***@example.com"  # the whole local part is masked
    assert str(record["time"]).endswith("Z")


def test_a_traceback_is_one_masked_string(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"Bearer {TOKEN} for grace@example.org")
    except RuntimeError:
        logger.exception("failed")
    text = stream.getvalue()
    (record,) = _records(stream)
    assert "RuntimeError" in str(record["exc_info"])
    assert TOKEN not in text
    assert "grace@example.org" not in text
    assert record["request_id"] is None
