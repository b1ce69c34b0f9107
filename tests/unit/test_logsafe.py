"""`logsafe`: log lines never show the token, an email address or a phone number."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from autobook import logsafe
from autobook.logsafe import MaskingFilter, mask

SECRET = "pat-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("booking ada@example.com", "ada@example.com"),
        ("mail ADA.Lovelace+crm@Example.CO.UK now", "ADA.Lovelace+crm"),
        ("GET /scheduled_events?invitee_email=ada%40example.com", "ada%40example.com"),
        ("guests ['cc@example.com', 'bob@example.org']", "bob@example.org"),
        ("unicode ué@example.com", "ué@example.com"),
        ("unicode domain ada@exämple.com", "ada@exämple.com"),
        ("symbols o'neil.co+x@example.com", "o'neil"),
    ],
)
def test_email_addresses_are_masked(text: str, hidden: str) -> None:
    masked = mask(text)
    assert hidden not in masked
    assert "***@" in masked


def test_masked_email_keeps_its_first_letter_and_domain() -> None:
    assert mask("to ada@example.com.") == "to a***@example.com."


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("reminder +14155550100", "4155550100"),
        ("reminder +1 415 555 0100", "415 555 0100"),
        ("reminder +1 (415) 555-0100", "555-0100"),
        ("call +44 20 7946 0958", "7946 0958"),
        ("bare 14155550100", "4155550100"),
        ("bare 4155550100", "4155550100"),
        ("national 415-555-0100", "555-0100"),
        ("national (415) 555-0100", "555-0100"),
        ("national 415.555.0100", "555.0100"),
        ("uk 020 7946 0958", "7946 0958"),
        ("phone:+61293744000,", "293744000"),
        ("phone:415-555-0100", "555-0100"),
        ("on 2026-12-01 4155550100", "4155550100"),
    ],
)
def test_phone_numbers_are_masked_keeping_two_digits_at_each_end(text: str, hidden: str) -> None:
    masked = mask(text)
    assert hidden not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    "text",
    [
        "window 2026-12-01T15:00:00Z to 2026-12-08T15:00:00Z",
        "on 2026-12-01 15:00 local",
        "event 9ac0b557-1840-4846-b35b-cc457712510b",
        "event 9ac0b557-1840-4846-b35b-123456789012",
        "Task autobook.book[70988037-9790-4eb2-b5a1-12cd2be814e6] received",
        "took 0.1796360130 seconds",
        "request sf-lead-00Q5e00000AbCdE-demo attempt 3",
        "token ab-7d83c4bd481a9706",
        "Task autobook.book[1ba61eac-7d19-46cf-9ea8-90c2fed811d3] succeeded in 0.1796360130001s",
        "succeeded in 1.4980615859999489s: None",
        "HTTP Request: GET http://127.0.0.1:37575/users/me 200",
        "redis://192.168.100.200:6379/3",
        "pid:20957 exited with signal 15",
        "rate limited; waiting 60s",
    ],
)
def test_ordinary_log_text_is_left_alone(text: str) -> None:
    assert mask(text) == text


def test_configured_secrets_and_bearer_tokens_are_replaced() -> None:
    masked = mask(f"token={SECRET} and Authorization: Bearer other-token", [SECRET, ""])
    assert SECRET not in masked
    assert "other-token" not in masked
    assert masked.count("[secret]") == 2


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logsafe.protect([handler], [SECRET])
    logger = logging.getLogger(f"test-logsafe-{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_values_passed_as_arguments_are_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("booked %s with %s using %s", "ada@example.com", "+14155550100", SECRET)
    line = stream.getvalue()
    assert line.startswith("INFO booked a***@example.com with +1***00 using [secret]")
    for leaked in ("ada@example.com", "4155550100", SECRET):
        assert leaked not in line


def test_exception_text_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError(f"bad invitee ada@example.com, phone +14155550100, token {SECRET}")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    assert "Traceback" in output
    for leaked in ("ada@example.com", "4155550100", SECRET):
        assert leaked not in output


def test_no_record_is_dropped(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    for number in range(5):
        logger.warning("line %d", number)
    assert stream.getvalue().count("WARNING line") == 5


def test_protect_adds_one_filter_per_handler_however_often_it_is_called() -> None:
    handler = logging.StreamHandler(io.StringIO())
    logsafe.protect([handler])
    logsafe.protect([handler], [SECRET])
    assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1


def test_install_protects_every_root_handler() -> None:
    root = logging.getLogger()
    extra = logging.StreamHandler(io.StringIO())
    root.addHandler(extra)
    level = root.level
    try:
        logsafe.install([SECRET], level=logging.WARNING)
        assert root.handlers
        for handler in root.handlers:
            assert any(isinstance(f, MaskingFilter) for f in handler.filters)
        assert root.level == logging.WARNING
    finally:
        root.removeHandler(extra)
        root.setLevel(level)
