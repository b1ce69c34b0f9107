"""Serving the metrics: the worker's HTTP server and the ASGI app `autobook serve` mounts.

In multiprocess mode (`PROMETHEUS_MULTIPROC_DIR` set, see `prepare_multiprocess`) a scrape sums
the metric files of every pool process; otherwise it reads this process's default registry.
Both add the `QueueCollector` gauges.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from autobook.config import Settings, get_settings
from autobook.metrics import MULTIPROC_VARIABLE
from autobook.metrics.collect import QueueCollector

if TYPE_CHECKING:
    from autobook.metrics import ASGIApp

_default_registry_ready = False


def build_registry(settings: Settings) -> CollectorRegistry:
    global _default_registry_ready
    folder = os.environ.get(MULTIPROC_VARIABLE)
    if folder:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]  # untyped
        registry.register(QueueCollector(settings))
        return registry
    # One process: its own counters are in the default registry; add the gauges once.
    if not _default_registry_ready:
        REGISTRY.register(QueueCollector(settings))
        _default_registry_ready = True
    return REGISTRY


def start_worker_server(settings: Settings) -> int | None:
    if not settings.metrics_port:
        return None
    # Every address, as a container's port must be reachable from Prometheus.
    start_http_server(settings.metrics_port, addr="0.0.0.0", registry=build_registry(settings))
    return settings.metrics_port


def build_asgi_app(settings: Settings | None = None) -> ASGIApp:
    return cast("ASGIApp", make_asgi_app(registry=build_registry(settings or get_settings())))
