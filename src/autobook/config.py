"""Settings: the one place that reads the environment (and `.env`).

Every `AUTOBOOK_*` variable maps to one field of `Settings`; nothing else in autobook reads
`os.environ`. Settings are a typed value built once (`get_settings()`, cached; tests call
`get_settings.cache_clear()`) or explicitly (`load_settings(**overrides)`), then passed down.
Invariants:

- The Calendly token is a `SecretStr`: `repr`, `str` and `model_dump_json()` show `**********`.
  Read it with `settings.calendly_token.get_secret_value()` only where a request is sent.
- Every duration and count carries its unit in its name and is range-checked; a bad value raises
  `InvalidSettings`, which names the environment variable and says what range is allowed.
- Paths derive from `data_dir` unless set explicitly: the default database is
  `sqlite:///<data_dir>/autobook.db` (`sqlite:///.autobook/autobook.db`), and with no
  `broker_url` the Celery filesystem broker lives in `<data_dir>/queue`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import annotated_types
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autobook.errors import AutobookError

if TYPE_CHECKING:
    from autobook.calendly.limits import PlanLimits

ENV_PREFIX = "AUTOBOOK_"
DEFAULT_CALENDLY_URL = "https://api.calendly.com"
DEFAULT_DATA_DIR = Path(".autobook")
DATABASE_FILE_NAME = "autobook.db"
QUEUE_DIR_NAME = "queue"
PROCESSED_DIR_NAME = "processed"
CONTROL_DIR_NAME = "queue-control"

DEFAULT_MAX_WINDOW_DAYS = 7
CALENDLY_MAX_WINDOW_DAYS = 31  # Calendly raised the availability window limit from 7 to 31 days.
DEFAULT_SEARCH_HORIZON_DAYS = 60
# Calendly rejects an availability window that starts at "now"; clients start a little ahead.
DEFAULT_LEAD_MINUTES = 2
DEFAULT_LEASE_SECONDS = 120
DEFAULT_DISPATCH_INTERVAL_SECONDS = 5.0
DEFAULT_WAITING_REPOLL_SECONDS = 300
DEFAULT_MAX_SLOT_RETRIES = 5
DEFAULT_HTTP_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_HTTP_READ_TIMEOUT_SECONDS = 30.0
DEFAULT_RECONCILE_GRACE_SECONDS = 10
DEFAULT_AVAILABILITY_CACHE_SECONDS = 30.0
DEFAULT_EVENT_TYPE_CACHE_SECONDS = 300
# How long offered times can be chosen: long enough for a person to answer a chat or an email.
DEFAULT_PROPOSAL_LIFETIME_SECONDS = 30 * 60
MAX_PROPOSAL_LIFETIME_SECONDS = 7 * 24 * 3600
DEFAULT_BOOKED_SWEEP_SECONDS = 300
DEFAULT_CALLBACK_TIMEOUT_SECONDS = 10.0
DEFAULT_CALLBACK_RETRY_BASE_SECONDS = 10.0
DEFAULT_CALLBACK_RETRY_MAX_SECONDS = 3600.0


class Plan(StrEnum):
    """The Calendly plan whose `POST /invitees` limits the shared rate budget enforces."""

    TRIAL = "trial"
    STANDARD = "standard"
    ENTERPRISE = "enterprise"
    UNLIMITED = "unlimited"
    CUSTOM = "custom"  # the four AUTOBOOK_PLAN_* numbers below


CUSTOM_PLAN_FIELDS = (
    "plan_general_per_minute",
    "plan_invitees_per_minute",
    "plan_invitees_per_hour",
    "plan_invitees_per_day",
)


class LogFormat(StrEnum):
    """How log lines are written: one JSON object a line, or text for a person at a terminal."""

    JSON = "json"
    TEXT = "text"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_METRICS_PORT = 0  # 0: no metrics server on workers
# `autobook serve`: HTTP calls recorded in one transaction at most (1: one transaction per call).
DEFAULT_SERVE_GROUP_COMMIT = 64


class InvalidSettings(AutobookError):
    """The autobook settings are invalid."""


class SettingRule(ValueError):
    """A rule a setting breaks, in our words: the only text `_describe` repeats.

    Other errors (from `urlsplit`, `ipaddress`...) may quote the value, which may be the token or
    a password, so they are reported as "is not a valid value" instead.
    """


# A Calendly personal access token is printable ASCII (a JWT); anything else would be sent in
# an HTTP header, where httpx refuses it on every call, or be mangled in logs and errors.
TOKEN_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class FilesystemBrokerDirs:
    """Folders of Celery's filesystem transport: every process writes to and reads from `queue`."""

    queue: Path
    processed: Path

    def create(self) -> FilesystemBrokerDirs:
        """Make both folders (and parents) if missing; return self for chaining."""
        self.queue.mkdir(parents=True, exist_ok=True)
        self.processed.mkdir(parents=True, exist_ok=True)
        (self.queue.parent / CONTROL_DIR_NAME).mkdir(parents=True, exist_ok=True)
        return self

    def transport_options(self) -> dict[str, Any]:
        """`broker_transport_options` for kombu's filesystem transport (one folder in and out)."""
        return {
            "data_folder_in": str(self.queue),
            "data_folder_out": str(self.queue),
            "processed_folder": str(self.processed),
            "store_processed": False,
            # kombu keeps exchange bindings here; its default is ./control in the working folder.
            "control_folder": str(self.queue.parent / CONTROL_DIR_NAME),
        }


class Settings(BaseSettings):
    """autobook's settings: keyword arguments, then `AUTOBOOK_*` variables, then `.env`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # `.env` may hold other tools' variables
        frozen=True,
        validate_default=True,
    )

    calendly_url: str = DEFAULT_CALENDLY_URL
    calendly_token: SecretStr | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR.as_posix()}/{DATABASE_FILE_NAME}"
    broker_url: str | None = None
    redis_url: str | None = None
    # Seals HTTP sources' signing secrets in the database (see autobook.sources.sealing).
    source_secrets_key: SecretStr | None = None

    max_window_days: int = Field(DEFAULT_MAX_WINDOW_DAYS, ge=1, le=CALENDLY_MAX_WINDOW_DAYS)
    search_horizon_days: int = Field(DEFAULT_SEARCH_HORIZON_DAYS, ge=1, le=366)
    lead_minutes: int = Field(DEFAULT_LEAD_MINUTES, ge=0, le=24 * 60)
    lease_seconds: int = Field(DEFAULT_LEASE_SECONDS, ge=5, le=24 * 3600)
    dispatch_interval_seconds: float = Field(DEFAULT_DISPATCH_INTERVAL_SECONDS, gt=0, le=3600)
    waiting_repoll_seconds: int = Field(DEFAULT_WAITING_REPOLL_SECONDS, ge=1, le=7 * 24 * 3600)
    max_slot_retries: int = Field(DEFAULT_MAX_SLOT_RETRIES, ge=0, le=100)
    http_connect_timeout_seconds: float = Field(DEFAULT_HTTP_CONNECT_TIMEOUT_SECONDS, gt=0, le=300)
    http_read_timeout_seconds: float = Field(DEFAULT_HTTP_READ_TIMEOUT_SECONDS, gt=0, le=600)
    reconcile_grace_seconds: int = Field(DEFAULT_RECONCILE_GRACE_SECONDS, ge=0, le=3600)
    availability_cache_seconds: float = Field(DEFAULT_AVAILABILITY_CACHE_SECONDS, ge=0, le=300)
    event_type_cache_seconds: int = Field(DEFAULT_EVENT_TYPE_CACHE_SECONDS, ge=0, le=24 * 3600)
    proposal_lifetime_seconds: int = Field(
        DEFAULT_PROPOSAL_LIFETIME_SECONDS, ge=1, le=7 * 24 * 3600
    )
    plan: Plan = Plan.STANDARD
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    # Each worker serves /metrics on this port (0: none); see autobook.metrics.
    metrics_port: int = Field(DEFAULT_METRICS_PORT, ge=0, le=65535)
    # `autobook serve --group-commit N`; see autobook.serve.committer.
    serve_group_commit: int = Field(DEFAULT_SERVE_GROUP_COMMIT, ge=1, le=1000)
    # With AUTOBOOK_PLAN=custom: Calendly's limits for this user; unset means no limit.
    plan_general_per_minute: int | None = Field(None, ge=1, le=1_000_000)
    plan_invitees_per_minute: int | None = Field(None, ge=1, le=1_000_000)
    plan_invitees_per_hour: int | None = Field(None, ge=1, le=1_000_000)
    plan_invitees_per_day: int | None = Field(None, ge=1, le=1_000_000)
    testing: bool = False
    # UNSAFE outside tests and closed networks: lets callbacks go to loopback, private,
    # link-local and metadata addresses, and over plain http (see autobook.callbacks.ssrf).
    callback_allow_private: bool = False
    # Signs the callbacks of requests that came from no source (CLI, Python API, raw queue):
    # a Standard Webhooks secret, `whsec_` and base64.
    callback_secret: SecretStr | None = None
    # How often booked requests whose meeting is ahead are compared with Calendly (the sweep
    # that keeps outcomes true when webhooks are missed or disabled).
    booked_sweep_seconds: int = Field(DEFAULT_BOOKED_SWEEP_SECONDS, ge=1, le=24 * 3600)
    # Checks `Calendly-Webhook-Signature` on `POST /v1/calendly/webhook` (beside the keys of the
    # subscriptions `autobook webhooks ensure` made).
    calendly_webhook_signing_key: SecretStr | None = None
    callback_timeout_seconds: float = Field(DEFAULT_CALLBACK_TIMEOUT_SECONDS, gt=0, le=120)
    callback_retry_base_seconds: float = Field(DEFAULT_CALLBACK_RETRY_BASE_SECONDS, gt=0, le=3600)
    callback_retry_max_seconds: float = Field(DEFAULT_CALLBACK_RETRY_MAX_SECONDS, gt=0, le=86400)

    @field_validator(
        "plan_general_per_minute",
        "plan_invitees_per_minute",
        "plan_invitees_per_hour",
        "plan_invitees_per_day",
        mode="before",
    )
    @classmethod
    def _blank_number_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _custom_numbers_need_custom_plan(self) -> Settings:
        given = [name for name in CUSTOM_PLAN_FIELDS if getattr(self, name) is not None]
        if given and self.plan is not Plan.CUSTOM:
            raise SettingRule(
                f"{', '.join(ENV_PREFIX + name.upper() for name in given)} apply only with "
                f"{ENV_PREFIX}PLAN=custom"
            )
        return self

    def plan_limits(self) -> PlanLimits:
        """The limits the shared rate budget enforces for the token's user."""
        # Imported here: the Calendly package pulls in httpx and redis, which the commands
        # that only read settings don't need.
        from autobook.calendly.limits import PlanLimits, resolve_plan

        if self.plan is Plan.CUSTOM:
            return PlanLimits(
                general_per_minute=self.plan_general_per_minute,
                invitees_per_minute=self.plan_invitees_per_minute,
                invitees_per_hour=self.plan_invitees_per_hour,
                invitees_per_day=self.plan_invitees_per_day,
            )
        return resolve_plan(self.plan.value)

    @model_validator(mode="before")
    @classmethod
    def _derive_database_from_data_dir(cls, data: Any) -> Any:
        # The database follows data_dir unless given, so one variable moves all local state.
        # An empty AUTOBOOK_DATABASE_URL means "the default", like every other empty variable.
        if isinstance(data, dict) and not data.get("database_url"):
            data = dict(data)
            data_dir = Path(str(data.get("data_dir") or DEFAULT_DATA_DIR))
            data["database_url"] = f"sqlite:///{data_dir.as_posix()}/{DATABASE_FILE_NAME}"
        return data

    @field_validator("calendly_url")
    @classmethod
    def _check_calendly_url(cls, value: str) -> str:
        how = "must be an http(s) URL such as https://api.calendly.com"
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise SettingRule(how) from None
        if parts.scheme not in ("http", "https") or not host:
            raise SettingRule(how)
        if parts.username is not None or parts.password is not None:
            # httpx would send them as Basic auth instead of the token, and log the password.
            raise SettingRule("must not hold credentials (user:password@): the token is enough")
        if parts.query or parts.fragment:
            raise SettingRule("must be a base URL with no query or fragment")
        if not value.isascii() or not value.isprintable():
            raise SettingRule(how)
        return value.rstrip("/")

    @field_validator("calendly_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        # An empty variable means "no token", not a token made of nothing.
        if not token:
            return None
        if not TOKEN_CHARACTERS.match(token):
            raise SettingRule(
                "must be printable ASCII with no spaces or line breaks, as a Calendly personal "
                "access token is: copy it again from Calendly's Integrations page"
            )
        return SecretStr(token)

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise SettingRule("must be one of " + ", ".join(LOG_LEVELS))
        return level

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if "://" not in value:
            raise SettingRule("must be a SQLAlchemy URL such as sqlite:///.autobook/autobook.db")
        return value

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if "://" not in value:
            raise SettingRule("must be a URL such as redis://127.0.0.1:6379/0")
        return value.strip()

    @model_validator(mode="after")
    def _check_timeouts(self) -> Settings:
        if self.http_read_timeout_seconds < self.http_connect_timeout_seconds:
            raise SettingRule(
                "http_read_timeout_seconds must be at least http_connect_timeout_seconds"
            )
        return self

    @property
    def uses_filesystem_broker(self) -> bool:
        """True when no broker URL is set, or it names the filesystem transport."""
        return self.broker_url is None or self.broker_url.startswith("filesystem://")

    @property
    def celery_broker_url(self) -> str:
        """The URL to hand to Celery: the configured one, or `filesystem://`."""
        return self.broker_url or "filesystem://"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a `sqlite:///` URL (None for other databases or in-memory)."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url[len(prefix) :].split("?", 1)[0]
        return Path(path) if path and path != ":memory:" else None

    def filesystem_broker_dirs(self) -> FilesystemBrokerDirs:
        """Where the filesystem broker keeps its messages (not created; call `.create()`)."""
        queue = self.data_dir / QUEUE_DIR_NAME
        return FilesystemBrokerDirs(queue=queue, processed=queue / PROCESSED_DIR_NAME)


def _allowed_range(field_name: str) -> str | None:
    """'a whole number from 1 to 31' for a range-checked field, from its declared bounds."""
    info = Settings.model_fields.get(field_name)
    if info is None or info.annotation not in (int, float):
        return None
    low: object = None
    high: object = None
    low_inclusive = True
    for bound in info.metadata:
        if isinstance(bound, annotated_types.Ge):
            low = bound.ge
        elif isinstance(bound, annotated_types.Gt):
            low, low_inclusive = bound.gt, False
        elif isinstance(bound, annotated_types.Le):
            high = bound.le
    if low is None or high is None:
        return None
    noun = "a whole number" if info.annotation is int else "a number"
    if low_inclusive:
        return f"{noun} from {low} to {high}"
    return f"{noun} above {low} and at most {high}"


def _enum_values(field_name: str) -> list[str]:
    """The allowed values of an enum-typed field, in declaration order."""
    info = Settings.model_fields.get(field_name)
    annotation = info.annotation if info is not None else None
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return [member.value for member in annotation]
    return []


def _describe(error: ValidationError) -> str:
    """Human text naming each bad variable; never echoes a value (it could be the token)."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in item["loc"])
        where = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        allowed = _allowed_range(field)
        if allowed is not None:
            message = f"must be {allowed}"
        elif item["type"] == "enum":
            message = "must be one of " + ", ".join(_enum_values(field))
        elif isinstance((item.get("ctx") or {}).get("error"), SettingRule):
            message = str(item["ctx"]["error"])
        elif item["type"] == "value_error":
            message = "is not a valid value"  # the library's own text may quote the value
        else:
            message = str(item["msg"])
        lines.append(f"{where}: {message}")
    return "invalid settings: " + "; ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, `.env` and `overrides`; raise InvalidSettings if bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        # Not chained: pydantic's own text echoes inputs, and a URL may carry a password.
        raise InvalidSettings(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once. Tests call `get_settings.cache_clear()` after changes."""
    return load_settings()
