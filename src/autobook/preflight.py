"""What a command checks before it starts, so that an operator's mistake costs one line.

Without these checks a worker with no token printed `ready`, then a traceback on every task and
every dispatch tick while requests sat `received`; a Redis that refused connections made Celery
retry for ever. Each check raises an `AutobookError` whose message names the variable to set or
the address that could not be reached, passwords masked and the token never shown; the CLI prints
it on one line and exits 2.

The checks run once, at start. A service that goes away later is the business of the reliability
rules (retries, leases, the dispatcher), which is why nothing here is called from a task.
The database is checked where it is first used, by `autobook.db.upgrade`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

from autobook.config import Settings
from autobook.errors import AutobookError
from autobook.runtime import MissingToken

REDIS_CHECK_TIMEOUT_SECONDS = 3.0
SANDBOX_HINT = (
    "for the local sandbox: AUTOBOOK_CALENDLY_URL=http://127.0.0.1:8765 "
    "AUTOBOOK_CALENDLY_TOKEN=sandbox-token"
)


class ServiceUnreachable(AutobookError):
    """A service autobook needs at start could not be reached."""


class DataDirUnusable(AutobookError):
    """The data folder (AUTOBOOK_DATA_DIR) cannot be written."""


def masked(url: str) -> str:
    """`url` with its password, if any, replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def require_token(settings: Settings) -> None:
    """The worker calls Calendly on every request: without a token it can do nothing."""
    if settings.calendly_token is None:
        raise MissingToken(
            "AUTOBOOK_CALENDLY_TOKEN is not set: the worker cannot call Calendly without a "
            f"personal access token ({SANDBOX_HINT})"
        )


def require_redis(url: str, variable: str) -> None:
    """One PING to the Redis at `url` (named by `variable` in the message) within a few seconds."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CHECK_TIMEOUT_SECONDS,
        socket_timeout=REDIS_CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServiceUnreachable(
            f"cannot reach Redis at {masked(url)} ({variable}): {reason}"
        ) from None
    finally:
        client.close()


def require_data_dir(settings: Settings) -> None:
    """The embedded broker keeps its messages under the data folder: it must be writable."""
    if not settings.uses_filesystem_broker:
        return
    try:
        settings.filesystem_broker_dirs().create()
    except OSError as exc:
        raise DataDirUnusable(
            f"cannot create the queue folder under {settings.data_dir} (AUTOBOOK_DATA_DIR): "
            f"{exc.strerror or exc}"
        ) from None


def check_worker(settings: Settings) -> None:
    """Everything a worker cannot run without, checked before Celery starts."""
    require_token(settings)
    require_data_dir(settings)
    if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://")):
        require_redis(settings.broker_url, "AUTOBOOK_BROKER_URL")
    if settings.redis_url:
        require_redis(settings.redis_url, "AUTOBOOK_REDIS_URL")
