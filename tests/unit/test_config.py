"""Settings: read from AUTOBOOK_* and .env, range-checked, and never showing the token."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from autobook.config import (
    DEFAULT_CALENDLY_URL,
    InvalidSettings,
    Plan,
    Settings,
    get_settings,
    load_settings,
)

TOKEN = "eyJraWQiOiJ0b3Atc2VjcmV0LXRva2VuIn0.secret-part"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No AUTOBOOK_* variable from the caller's shell, and no stray .env in the directory."""
    for name in list(os.environ):
        if name.upper().startswith("AUTOBOOK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.calendly_url == DEFAULT_CALENDLY_URL
    assert settings.calendly_token is None
    assert settings.database_url == "sqlite:///.autobook/autobook.db"
    assert settings.broker_url is None
    assert settings.redis_url is None
    assert settings.data_dir == Path(".autobook")
    assert settings.max_window_days == 7
    assert settings.plan is Plan.STANDARD
    assert settings.testing is False
    assert settings.uses_filesystem_broker
    assert settings.celery_broker_url == "filesystem://"
    assert settings.sqlite_path == Path(".autobook/autobook.db")


def test_environment_variables_with_the_prefix_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOBOOK_MAX_WINDOW_DAYS", "14")
    monkeypatch.setenv("AUTOBOOK_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("AUTOBOOK_PLAN", "enterprise")
    monkeypatch.setenv("AUTOBOOK_TESTING", "true")
    monkeypatch.setenv("MAX_WINDOW_DAYS", "3")  # without the prefix: not ours
    settings = load_settings()
    assert settings.max_window_days == 14
    assert settings.broker_url == "redis://127.0.0.1:6379/3"
    assert not settings.uses_filesystem_broker
    assert settings.celery_broker_url == "redis://127.0.0.1:6379/3"
    assert settings.plan is Plan.ENTERPRISE
    assert settings.testing is True


def test_dotenv_file_is_read_and_environment_wins_over_it(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / ".env").write_text(
        "AUTOBOOK_REDIS_URL=redis://127.0.0.1:6379/5\nAUTOBOOK_LEASE_SECONDS=90\nOTHER_TOOL=1\n"
    )
    monkeypatch.setenv("AUTOBOOK_LEASE_SECONDS", "60")
    settings = load_settings()
    assert settings.redis_url == "redis://127.0.0.1:6379/5"
    assert settings.lease_seconds == 60


def test_keyword_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOBOOK_LEAD_MINUTES", "10")
    assert load_settings(lead_minutes=0).lead_minutes == 0


def test_token_is_hidden_from_repr_str_and_json_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOBOOK_CALENDLY_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.calendly_token is not None
    assert settings.calendly_token.get_secret_value() == TOKEN
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
    ):
        assert TOKEN not in shown
        assert "secret-part" not in shown


def test_blank_token_and_urls_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOBOOK_CALENDLY_TOKEN", "   ")
    monkeypatch.setenv("AUTOBOOK_BROKER_URL", "")
    monkeypatch.setenv("AUTOBOOK_REDIS_URL", " ")
    monkeypatch.setenv("AUTOBOOK_DATABASE_URL", "")
    settings = load_settings()
    assert settings.database_url == "sqlite:///.autobook/autobook.db"
    assert settings.calendly_token is None
    assert settings.broker_url is None
    assert settings.redis_url is None


def test_data_dir_moves_the_default_database_and_queue() -> None:
    settings = load_settings(data_dir="/srv/autobook")
    assert settings.database_url == "sqlite:////srv/autobook/autobook.db"
    assert settings.sqlite_path == Path("/srv/autobook/autobook.db")
    dirs = settings.filesystem_broker_dirs()
    assert dirs.queue == Path("/srv/autobook/queue")
    assert dirs.processed == Path("/srv/autobook/queue/processed")


def test_an_explicit_database_url_is_kept_when_data_dir_moves() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/autobook"
    settings = load_settings(data_dir="/srv/autobook", database_url=url)
    assert settings.database_url == url
    assert settings.sqlite_path is None


def test_filesystem_broker_dirs_are_created_and_describe_the_transport(
    clean_environment: Path,
) -> None:
    dirs = load_settings(data_dir=clean_environment / "state").filesystem_broker_dirs().create()
    assert dirs.queue.is_dir()
    assert dirs.processed.is_dir()
    options = dirs.transport_options()
    assert options["data_folder_in"] == options["data_folder_out"] == str(dirs.queue)
    assert options["processed_folder"] == str(dirs.processed)


def test_calendly_url_loses_its_trailing_slash() -> None:
    assert load_settings(calendly_url="http://127.0.0.1:8765/").calendly_url == (
        "http://127.0.0.1:8765"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AUTOBOOK_MAX_WINDOW_DAYS", "32", "from 1 to 31"),
        ("AUTOBOOK_MAX_WINDOW_DAYS", "0", "from 1 to 31"),
        ("AUTOBOOK_LEASE_SECONDS", "soon", "a whole number"),
        ("AUTOBOOK_DISPATCH_INTERVAL_SECONDS", "0", "above 0"),
        ("AUTOBOOK_PLAN", "free", "trial, standard, enterprise, unlimited"),
        ("AUTOBOOK_CALENDLY_URL", "ftp://api.calendly.com", "http(s) URL"),
        ("AUTOBOOK_DATABASE_URL", "autobook.db", "SQLAlchemy URL"),
    ],
)
def test_bad_values_are_refused_naming_the_variable_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert expected in str(caught.value)
    assert "errors.pydantic.dev" not in str(caught.value)


def test_settings_errors_never_echo_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOBOOK_CALENDLY_TOKEN", TOKEN)
    monkeypatch.setenv("AUTOBOOK_REDIS_URL", "no-scheme-but-password-hunter2")
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert "AUTOBOOK_REDIS_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None


def test_read_timeout_shorter_than_connect_timeout_is_refused() -> None:
    with pytest.raises(InvalidSettings, match="http_read_timeout_seconds"):
        load_settings(http_connect_timeout_seconds=10, http_read_timeout_seconds=2)


def test_get_settings_is_built_once_until_the_cache_is_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = get_settings()
    monkeypatch.setenv("AUTOBOOK_MAX_SLOT_RETRIES", "9")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().max_slot_retries == 9


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.lease_seconds = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)


def test_a_custom_plan_takes_the_four_numbers_and_unset_means_no_limit() -> None:
    from autobook.calendly.limits import PlanLimits

    settings = load_settings(
        plan="custom", plan_invitees_per_minute="30", plan_general_per_minute="100"
    )
    assert settings.plan_limits() == PlanLimits(
        general_per_minute=100,
        invitees_per_minute=30,
        invitees_per_hour=None,
        invitees_per_day=None,
    )
    assert load_settings(plan="standard").plan_limits() == PlanLimits()


def test_custom_plan_numbers_without_the_custom_plan_are_refused_by_name() -> None:
    with pytest.raises(InvalidSettings, match="AUTOBOOK_PLAN_INVITEES_PER_MINUTE") as caught:
        load_settings(plan="standard", plan_invitees_per_minute="30")
    assert "AUTOBOOK_PLAN=custom" in str(caught.value)
    with pytest.raises(InvalidSettings, match="AUTOBOOK_PLAN_INVITEES_PER_DAY"):
        load_settings(plan="custom", plan_invitees_per_day="0")
