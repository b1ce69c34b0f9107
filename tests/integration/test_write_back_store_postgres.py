"""The write-back store on real PostgreSQL, in a fresh database per test.

The SQLite suites of the callback outbox (`tests/unit/test_callback_outbox.py`), of the
Calendly events and subscription state (`tests/unit/test_write_back_store.py`) and of the booked
sweep against the sandbox (`tests/integration/test_booked_sweep_calls.py`) run here again:
importing their tests collects them in this module, with `sessions` on a PostgreSQL database.
Skipped when PostgreSQL is down, except under CI=true, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.test_booked_sweep_calls import *  # noqa: F403 - the sweep, on PostgreSQL
from tests.support.databases import migrated_session_factory, postgres_test_database
from tests.unit.test_callback_outbox import *  # noqa: F403 - the shared suite, on PostgreSQL
from tests.unit.test_write_back_store import *  # noqa: F403 - the shared suite, on PostgreSQL

pytestmark = pytest.mark.postgres


# Overrides the SQLite suites' fixture of the same name.
@pytest.fixture  # type: ignore[no-redef]
def sessions() -> Iterator[sessionmaker[Session]]:
    with postgres_test_database() as url, migrated_session_factory(url) as made:
        yield made
