"""Ring the broker for many requests at once: one Redis round trip for a whole group.

A doorbell is a `book` task message for a request that is recorded and due; it only wakes a
worker, since the database row is the promise. Sent one by one, each message costs a Redis round
trip and kombu's per-publish client set-up: on a busy `autobook serve` that was a fifth of its
CPU. kombu (5.7) buffers the publishes made inside `Producer.batch()` in one Redis pipeline, but
only on a connection that never retries a command on a timeout, since a replayed pipeline may
push a message twice. A doorbell rung twice is harmless (the second `book` finds the request
claimed or done and does nothing), so the doorbell has a connection of its own without that
retry, one per thread (a kombu producer is not thread-safe). Transports that have no batch (the
filesystem broker) publish each message at once, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from celery import Celery

from autobook.broker import BOOK_TASK

# What a publish batch needs of the connection; the rest of the broker's options are kept.
BATCHABLE = {"retry_on_timeout": False}
# Redis commands buffered before a pipeline is sent (kombu flushes early when it is reached).
MAX_BUFFERED_COMMANDS = 1000


class Doorbell:
    def __init__(self, celery: Celery) -> None:
        self._celery = celery
        self._local = threading.local()

    def ring_many(self, request_ids: Sequence[str]) -> None:
        """Send a `book` message for each request; raises if the broker could not take them."""
        if not request_ids:
            return
        producer = self._producer()
        try:
            with producer.batch(max_size=MAX_BUFFERED_COMMANDS):
                for request_id in request_ids:
                    self._celery.send_task(BOOK_TASK, args=(request_id,), producer=producer)
        except Exception:
            self.close()  # a broken connection is not reused; the next ring opens another
            raise

    def _producer(self) -> Any:
        producer = getattr(self._local, "producer", None)
        if producer is None:
            connection = self._celery.connection_for_write(transport_options=BATCHABLE)
            producer = self._celery.amqp.Producer(connection, auto_declare=False)
            self._local.producer = producer
        return producer

    def close(self) -> None:
        """Release this thread's connection (the others close with their threads' objects)."""
        producer = getattr(self._local, "producer", None)
        if producer is not None:
            self._local.producer = None
            producer.connection.release()
