"""The doorbell (`autobook.doorbell`): a group of `book` messages in one Redis pipeline.

On real Redis: every request of a group gets exactly one `autobook.book` message, in the queue a
worker consumes, and kombu's publish batch is really engaged (the doorbell's connection does not
retry on timeouts, which a batch requires). On the filesystem broker, which has no batch, each
message is published at once. A broker that can't be reached raises (the intake then leaves the
request to the dispatcher), and a connection that died is replaced.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest
import redis
from kombu.exceptions import OperationalError

from autobook.broker import BOOK_TASK, QUEUE_NAME
from autobook.config import Settings
from autobook.doorbell import Doorbell
from autobook.worker import create_app
from tests.support.stack import free_redis_db


def _request_id_of(raw: bytes | str) -> str:
    """The request id a queued `book` message carries (kombu keeps its body base64-encoded)."""
    message = json.loads(raw)
    assert message["headers"]["task"] == BOOK_TASK
    assert message["properties"]["body_encoding"] == "base64"
    args, _, _ = json.loads(base64.b64decode(message["body"]))
    request_id: str = args[0]
    return request_id


def _queued_ids(client: redis.Redis) -> list[str]:
    return [_request_id_of(raw) for raw in client.lrange(QUEUE_NAME, 0, -1)]


def test_a_group_is_one_message_each_on_redis(tmp_path: Path) -> None:
    with free_redis_db() as url:
        settings = Settings(broker_url=url, database_url=f"sqlite:///{tmp_path}/a.db")
        doorbell = Doorbell(create_app(settings))
        try:
            ids = [f"door-{n}" for n in range(120)]
            doorbell.ring_many(ids[:1])
            doorbell.ring_many(ids[1:])
            assert doorbell._producer().channel.supports_batch_publish
        finally:
            doorbell.close()
        assert Counter(_queued_ids(redis.Redis.from_url(url))) == Counter(ids)


def test_the_filesystem_broker_publishes_each_message(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/a.db")
    assert settings.uses_filesystem_broker
    doorbell = Doorbell(create_app(settings))
    try:
        doorbell.ring_many(["fs-1", "fs-2", "fs-3"])
    finally:
        doorbell.close()
    queue = settings.filesystem_broker_dirs().queue
    sent = sorted(_request_id_of(path.read_text()) for path in queue.glob("*.msg"))
    assert sent == ["fs-1", "fs-2", "fs-3"]


def test_a_killed_connection_is_replaced_by_the_next_ring(tmp_path: Path) -> None:
    with free_redis_db() as url:
        settings = Settings(broker_url=url, database_url=f"sqlite:///{tmp_path}/a.db")
        doorbell = Doorbell(create_app(settings))
        client = redis.Redis.from_url(url)
        try:
            doorbell.ring_many(["before"])
            # Every other connection is killed, as a Redis restart would.
            for connection in client.client_list():
                if int(connection["id"]) != client.client_id():
                    client.client_kill_filter(_id=connection["id"])
            for attempt in range(2):  # the first may fail on the dead socket, never both
                try:
                    doorbell.ring_many(["after"])
                    break
                except Exception:
                    assert attempt == 0
        finally:
            doorbell.close()
        assert sorted(_queued_ids(client)) == ["after", "before"]


def test_an_unreachable_broker_raises(tmp_path: Path) -> None:
    settings = Settings(
        broker_url="redis://127.0.0.1:9/0", database_url=f"sqlite:///{tmp_path}/a.db"
    )
    app = create_app(settings)
    app.conf.task_publish_retry_policy = {"max_retries": 0}
    doorbell = Doorbell(app)
    with pytest.raises((OperationalError, redis.RedisError, OSError)):
        doorbell.ring_many(["lost"])
    assert getattr(doorbell._local, "producer", None) is None  # not reused


def test_an_empty_group_sends_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/a.db")
    doorbell = Doorbell(create_app(settings))
    doorbell.ring_many([])
    assert not list(settings.filesystem_broker_dirs().queue.glob("*.msg"))


@pytest.mark.parametrize("ids", [["x"], ["x", "x"]])
def test_a_repeated_id_is_rung_as_often_as_given(tmp_path: Path, ids: list[str]) -> None:
    # A doorbell rung twice is harmless; the doorbell neither dedups nor drops.
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/a.db")
    doorbell = Doorbell(create_app(settings))
    doorbell.ring_many(ids)
    assert len(list(settings.filesystem_broker_dirs().queue.glob("*.msg"))) == len(ids)
