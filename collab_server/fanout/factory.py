"""The fan-out of a process: Redis streams when the process has a Redis client
(``REDIS_URL``), else none (a single instance, the embedded default; rooms do not fan
out). Tests that want several instances in one process use
:class:`~collab_server.fanout.memory.MemoryBus` directly.
"""

from __future__ import annotations

from redis.asyncio import Redis

from collab_server.fanout.base import FanOut
from collab_server.fanout.redis import RedisFanOut


def open_fanout(redis: Redis | None, instance_id: str) -> FanOut | None:
    """The fan-out for instance ``instance_id`` over the process's shared Redis client
    (:func:`collab_server.redis_client.open_redis`), or ``None`` without one."""
    if redis is None:
        return None
    return RedisFanOut(redis, instance_id)
