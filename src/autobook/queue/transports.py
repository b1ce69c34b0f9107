"""kombu's filesystem and Redis transports, with the queue door (`envelope_from`) built in.

kombu parses each raw item it takes off a queue with no guard, so one bad item kills the worker.
These subclasses read every item through `envelope.envelope_from`, which hands back either the
envelope or a quarantine envelope that the consumer records; nothing raises and nothing is lost.

Filesystem specifics, because several processes share one folder:
- A message is written to a temporary name and then renamed (`os.replace`, atomic on one file
  system), so a reader never sees half a file. kombu wrote in place, and a worker once died on
  a dispatch message it read while `autobook submit` was still writing it.
- A file written by another producer may still be partial: a reader that cannot parse a file
  younger than `PARTIAL_FILE_GRACE_SECONDS` leaves it for a later poll; an older one is taken
  and quarantined.
- A file is claimed by renaming it into the processed folder (same file system), so two workers
  never take the same message; kombu moved it across file systems to the temp folder, which
  is a copy, not a claim.

Redis (`autobook.queue.redis_transport`): the item popped by BRPOP (or RPOP) is read through the
same door.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from autobook.queue.envelope import envelope_from

PARTIAL_FILE_GRACE_SECONDS = 10.0
TEMPORARY_SUFFIX = ".writing"
MESSAGE_SUFFIX = ".msg"


def _readable_now(path: Path, now: float) -> bytes | None:
    """The file's bytes, or None when it is gone or may still be being written."""
    try:
        raw = path.read_bytes()
        modified = path.stat().st_mtime
    except OSError:
        return None
    try:
        loads(bytes_to_str(raw))
    except (ValueError, RecursionError):
        if now - modified < PARTIAL_FILE_GRACE_SECONDS:
            return None  # perhaps half-written by a producer that writes in place
    return raw


class FilesystemChannel(filesystem.Channel):
    """Atomic writes, claims by rename, and every file read through the queue door."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}{MESSAGE_SUFFIX}"
        final = Path(self.data_folder_out) / name
        temporary = final.with_name(name + TEMPORARY_SUFFIX)
        try:
            temporary.write_bytes(str_to_bytes(dumps(payload)))
            os.replace(temporary, final)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise ChannelError(f"Cannot add file {str(final)!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        wanted = f"{queue}{MESSAGE_SUFFIX}"
        folder_in = Path(self.data_folder_in)
        claimed_folder = Path(self.processed_folder)
        claimed_folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for name in sorted(os.listdir(folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            if _readable_now(folder_in / name, now) is None:
                continue
            claimed = claimed_folder / name
            try:
                os.rename(folder_in / name, claimed)  # the claim: one rename wins
            except OSError:
                continue  # another worker took it
            try:
                raw = claimed.read_bytes()
                if not self.store_processed:
                    claimed.unlink()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(claimed)!r}") from exc
            return envelope_from(raw, queue)
        raise Empty()


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


FILESYSTEM_TRANSPORT = f"{__name__}:FilesystemTransport"
# In a module of its own, imported by kombu only on a Redis broker: kombu's Redis transport
# and redis-py are a twentieth of a second of every command's start-up.
REDIS_TRANSPORT = "autobook.queue.redis_transport:RedisTransport"
