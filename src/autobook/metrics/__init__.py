"""Prometheus metrics: `autobook_*`, counted where things happen, gauges read at scrape time.

- `definitions`: the counters and the histogram that the worker's code bumps (Calendly calls
  and 429s, final statuses, time to book); in multiprocess mode under prefork.
- `collect`: gauges computed when scraped, from the database (requests in each open state, the
  oldest waiting request) and from Redis (the rate budget left per Calendly user and window).
- `serve`: the worker's metrics server (`AUTOBOOK_METRICS_PORT`) and `asgi_app()`, the
  `/metrics` app that `autobook serve` mounts.

This package's `__init__` imports no prometheus-client on purpose: prometheus-client decides at
import whether it runs in multiprocess mode, from `PROMETHEUS_MULTIPROC_DIR`, so `autobook
worker` calls `prepare_multiprocess` before anything imports `definitions`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobook.config import Settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    ASGIApp = Callable[
        [
            MutableMapping[str, Any],
            Callable[[], Awaitable[MutableMapping[str, Any]]],
            Callable[[MutableMapping[str, Any]], Awaitable[None]],
        ],
        Awaitable[None],
    ]

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir(settings: Settings) -> Path:
    """A folder of this worker's own: several workers may share a data folder."""
    return settings.data_dir / "metrics" / f"worker-{os.getpid()}"


def prepare_multiprocess(settings: Settings) -> Path | None:
    """For a worker that serves metrics: an empty folder for the pool's metric files.

    Sets `PROMETHEUS_MULTIPROC_DIR`, read by prometheus-client (not by autobook's settings) when
    it is imported; the pool processes inherit it. Files left by an earlier run would add their
    counts to this one's, so the folder is emptied first.
    """
    if not settings.metrics_port:
        return None
    folder = multiprocess_dir(settings)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    return folder


def serve_worker_metrics(settings: Settings) -> int | None:
    """Serve `/metrics` on `AUTOBOOK_METRICS_PORT` from a thread; the port, or None when off."""
    from autobook.metrics.serve import start_worker_server

    return start_worker_server(settings)


def asgi_app(settings: Settings | None = None) -> ASGIApp:
    """The `/metrics` ASGI app (for `autobook serve` to mount): counters and live gauges."""
    from autobook.metrics.serve import build_asgi_app

    return build_asgi_app(settings)
