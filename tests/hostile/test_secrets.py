"""The token and other secrets never reach an error, a log, the database or `status`.

Unit checks of the settings rules (a token that is not printable ASCII, credentials in the
Calendly URL, library errors that quote a value) and of the redaction of every form of a secret;
then a whole stack run with an odd token (quotes, a backslash, a percent sign) that Calendly
refuses, after which the worker's logs, every table and every `status` output are searched for
the token in its raw, escaped, quoted and URL-encoded forms.
"""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from autobook import logsafe, store
from autobook.calendly.redaction import Redactor
from autobook.config import InvalidSettings, load_settings
from tests.conftest import ProxiedStack, StartStack

ODD_TOKEN = "odd\"tok\\en%41'x-" + "Z" * 24


def _forms(secret: str) -> list[str]:
    return [*logsafe.secret_forms(secret), secret.replace("\\", "\\\\\\\\")]


@pytest.mark.parametrize(
    "token",
    [
        "NeWL1234\nsecret5678",
        "tökén-abcdefgh",
        "withspace 123456",
        "tab\tsecret-1234",
        "\x1b[0mx12345",
    ],
)
def test_a_token_that_is_not_printable_ascii_is_refused_naming_the_variable(token: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        load_settings(calendly_token=token)
    assert "AUTOBOOK_CALENDLY_TOKEN" in caught.value.message
    assert "printable ASCII" in caught.value.message
    for part in token.split():  # every long enough piece of the token
        assert len(part) < 6 or part not in caught.value.message


@pytest.mark.parametrize(
    "url",
    ["http://user:password@host/", "https://token-as-user@api.calendly.com", "http://:password@h/"],
)
def test_credentials_in_the_calendly_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        load_settings(calendly_url=url)
    assert "AUTOBOOK_CALENDLY_URL" in caught.value.message
    assert "credentials" in caught.value.message
    assert "password" not in caught.value.message.replace("user:password@", "")
    assert "token-as-user" not in caught.value.message


@pytest.mark.parametrize(
    "url", ["http://[secret-not-an-ip]/", "http://host:secretport/", "http://h\x00st/"]
)
def test_a_settings_error_names_the_rule_never_the_value(url: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        load_settings(calendly_url=url)
    assert "AUTOBOOK_CALENDLY_URL" in caught.value.message
    assert "secret" not in caught.value.message
    assert "\x00" not in caught.value.message


@pytest.mark.parametrize("secret", ["NeWL1234\nsecret5678", ODD_TOKEN, "tökén-abcdefgh"])
def test_masking_and_redaction_cover_every_form_of_the_secret(secret: str) -> None:
    texts = [
        f"Bearer {secret}",
        json.dumps({"authorization": f"Bearer {secret}"}),
        repr(("Bearer", secret)),
        f"header={secret!r}",
        "url?token=" + logsafe.url_quote(secret, safe=""),
    ]
    redactor = Redactor([secret])
    for text in texts:
        for cleaned in (logsafe.mask(text, [secret]), redactor.redact(text)):
            for form in logsafe.secret_forms(secret):
                assert form not in cleaned, (text, cleaned)


@pytest.fixture(scope="module")
def odd_token_stack(start_stack: StartStack) -> ProxiedStack:
    # The sandbox accepts only its own token: every call with the odd one is a 401.
    return start_stack("embedded", extra_env={"AUTOBOOK_CALENDLY_TOKEN": ODD_TOKEN})


def _database_text(stack: ProxiedStack) -> str:
    engine = sa.create_engine(stack.settings.database_url)
    parts: list[str] = []
    with engine.connect() as connection:
        for table in sa.inspect(engine).get_table_names():
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):  # noqa: S608
                parts.append(repr(tuple(row)))
    engine.dispose()
    return "\n".join(parts)


def _wait_paused(stack: ProxiedStack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with stack.sessions() as session:
            if store.sending_paused(session) is not None:
                return
        assert time.monotonic() < deadline, "sending never paused on the 401"
        time.sleep(0.3)


@pytest.mark.slow
def test_an_odd_token_leaks_nowhere_after_a_run(odd_token_stack: ProxiedStack) -> None:
    stack = odd_token_stack
    bad = {"request_id": "leak-invalid", "event_type": {"slug": "intro"}, "invitee": {}}
    good = {
        "request_id": "leak-valid",
        "event_type": {"slug": "intro"},
        "invitee": {"name": "A", "email": "leak@example.com", "timezone": "UTC"},
    }
    stack.submit([bad, good])
    _wait_paused(stack)
    time.sleep(1.0)  # a few more dispatch ticks: token checks while paused
    outputs = [
        stack.cli("status").stdout,
        stack.cli("status", "--json").stdout,
        stack.cli("status", "leak-valid").stdout,
        stack.cli("status", "leak-valid", "--json").stdout,
        stack.cli("status", "leak-invalid", "--json").stdout,
    ]
    haystacks = {
        "logs": stack.worker_logs(),
        "database": _database_text(stack),
        "status": "\n".join(outputs),
    }
    assert "leak-valid" in haystacks["status"]
    for where, text in haystacks.items():
        for form in _forms(ODD_TOKEN):
            assert form not in text, f"the token ({form!r}) leaked into {where}"
