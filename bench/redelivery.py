"""How long a request takes to be finished by another worker after `kill -9` of its worker.

On Redis + PostgreSQL, with real `autobook worker` processes: one request is submitted, the
worker holding it is killed with SIGKILL while its `POST /invitees` is in flight (the sandbox
adds latency to that endpoint so the kill lands there), and the clock runs until the request is
`booked` by another worker. Three kinds of kill:

- `worker`: the whole worker (main process, beat and pool), like `kill -9` of a container;
- `pool_process`: only the pool process running the task (what the OOM killer does);
- `searching`: the whole worker, while the request is still searching (no POST in flight).

Run: `python bench/redelivery.py [--trials 3] [--config fast|tuned|defaults]`. `defaults` are the
shipped settings, `tuned` a shorter lease and timeouts, `fast` the fault suite's. It prints one
table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.conftest import FAULT_ENV
from tests.faults.invariants import booking_request, check_invariant
from tests.faults.killer import Killer
from tests.support.stack import running_stack

from autobook.models import RequestStatus

CONFIGS: dict[str, dict[str, str]] = {
    "defaults": {
        "AUTOBOOK_LEASE_SECONDS": "120",
        "AUTOBOOK_RECONCILE_GRACE_SECONDS": "10",
        "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "5",
        "AUTOBOOK_TESTING": "false",
    },
    # Shorter lease and timeouts than the defaults, still production-safe (see
    # docs/reliability.md): the lease is renewed while a request runs, so it can be short.
    "tuned": {
        "AUTOBOOK_LEASE_SECONDS": "30",
        "AUTOBOOK_RECONCILE_GRACE_SECONDS": "5",
        "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "2",
        "AUTOBOOK_HTTP_CONNECT_TIMEOUT_SECONDS": "3",
        "AUTOBOOK_HTTP_READ_TIMEOUT_SECONDS": "10",
        "AUTOBOOK_TESTING": "false",
    },
    "fast": dict(FAULT_ENV),
}
POST_LATENCY_MS = 3000
SEARCH_LATENCY_MS = 3000


def one_trial(kind: str, config: str, trial: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as folder,
        running_stack("redis_pg", Path(folder), workers=0, extra_env=CONFIGS[config]) as stack,
    ):
        killer = Killer(stack, concurrency=1)
        killer.start_workers(2)
        endpoint = "GET /event_type_available_times" if kind == "searching" else "POST /invitees"
        latency = SEARCH_LATENCY_MS if kind == "searching" else POST_LATENCY_MS
        stack.admin.set_faults({"seed": trial, "endpoints": {endpoint: {"latency_ms": latency}}})
        request = booking_request(f"redelivery-{kind}-{trial}")
        stack.submit([request])
        rid = request["request_id"]
        wanted = RequestStatus.SEARCHING if kind == "searching" else RequestStatus.BOOKING
        deadline = time.monotonic() + 60
        while stack.row(rid).status is not wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{rid} never reached {wanted}")
            time.sleep(0.02)
        time.sleep(0.3)  # well inside the slow call
        row = stack.row(rid)
        assert row.lease_owner is not None
        pid = int(row.lease_owner.rsplit(":", 1)[-1])
        name = killer.owner_of(pid)
        assert name is not None
        killed_at = time.monotonic()
        killer.kill("pool_process" if kind == "pool_process" else "worker", name, pid, rid)
        stack.admin.set_faults({})
        while not stack.row(rid).status.is_terminal:
            if time.monotonic() - killed_at > 600:
                raise TimeoutError(f"{rid} not finished 600 s after the kill")
            time.sleep(0.05)
        recovered = time.monotonic() - killed_at
        outcome = check_invariant(stack, [rid])
        return {
            "seconds": recovered,
            "status": str(stack.row(rid).status),
            "adopted": outcome.attempt_states["adopted"],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="fast")
    parser.add_argument("--kinds", default="worker,pool_process,searching")
    args = parser.parse_args()
    table = Table(title=f"kill -9 mid-task on Redis+PostgreSQL, settings: {args.config}")
    for column in ("kill", "trials", "median s", "min s", "max s", "outcomes"):
        table.add_column(column)
    for kind in args.kinds.split(","):
        results = [one_trial(kind, args.config, trial) for trial in range(args.trials)]
        seconds = [r["seconds"] for r in results]
        outcomes = ", ".join(
            f"{r['status']}{' (adopted)' if r['adopted'] else ''}" for r in results
        )
        table.add_row(
            kind,
            str(len(results)),
            f"{statistics.median(seconds):.1f}",
            f"{min(seconds):.1f}",
            f"{max(seconds):.1f}",
            outcomes,
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
