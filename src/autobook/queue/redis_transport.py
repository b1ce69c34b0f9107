"""kombu's Redis transport with the queue door (`envelope_from`) built in.

See `autobook.queue.transports`: the item popped by BRPOP (or RPOP) is read through the door
instead of a bare `json.loads`; kombu's code around it is kept as is (`_brpop_read` below
mirrors kombu 5.7's, with the parse replaced).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str

from autobook.queue.envelope import envelope_from


class RedisChannel(redis.Channel):
    """Every popped item read through the queue door instead of a bare `json.loads`."""

    def _brpop_read(self, **options: Any) -> bool:
        kombu: Any = self  # kombu's redis channel is untyped beyond the virtual base
        try:
            try:
                dest__item = kombu.client.parse_response(
                    kombu.client.connection, "BRPOP", **options
                )
            except kombu.connection_errors:
                # As kombu does: drop the connection so the next poll reconnects.
                kombu.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(kombu.sep, 1)[0]
            kombu._queue_cycle.rotate(dest)
            kombu.connection._deliver(envelope_from(item, dest), dest)
            return True
        finally:
            kombu._in_poll = None
            flush_reauth = getattr(self, "_flush_brpop_reauth", None)
            if flush_reauth is not None:
                flush_reauth()

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        kombu: Any = self
        with kombu.conn_or_acquire() as client:
            for priority in kombu.priority_steps:
                item = client.rpop(kombu._q_for_pri(queue, priority))
                if item:
                    kombu._maybe_update_queues_expire(client, queue)
                    return envelope_from(item, queue)
            kombu._maybe_update_queues_expire(client, queue)
            raise Empty()


class RedisTransport(redis.Transport):
    Channel = RedisChannel
