"""Fixtures of the fault suite: a whole autobook (sandbox + real workers) per test.

Fault runs use short HTTP timeouts and a short lease, so a crash is recovered in seconds, not
minutes; everything else is the integration harness (`tests/support/stack.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.support.stack import Backend, Stack, running_stack

FAULT_ENV = {
    "AUTOBOOK_HTTP_CONNECT_TIMEOUT_SECONDS": "1",
    "AUTOBOOK_HTTP_READ_TIMEOUT_SECONDS": "5",
    "AUTOBOOK_LEASE_SECONDS": "10",
}


@contextlib.contextmanager
def fault_stack(
    backend_name: str,
    tmp_path: Path,
    *,
    workers: int = 2,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    sandbox_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    with running_stack(
        backend_name,
        tmp_path,
        workers=workers,
        concurrency=concurrency,
        extra_env={**FAULT_ENV, **(extra_env or {})},
        sandbox_args=sandbox_args,
    ) as stack:
        yield stack


@contextlib.contextmanager
def stack_on(
    chosen: Backend,
    tmp_path: Path,
    *,
    workers: int = 2,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Like `fault_stack`, on a backend the test built itself (e.g. a private Redis)."""
    stack = Stack(chosen, tmp_path / "autobook", {**FAULT_ENV, **(extra_env or {})})
    try:
        stack.start()
        for index in range(workers):
            stack.start_worker(concurrency=concurrency, name=f"worker{index}")
        yield stack
    finally:
        stack.stop()
