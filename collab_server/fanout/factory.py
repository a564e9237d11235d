"""Pick the fan-out from a URL: the one table of fan-out implementations.

================  =================================================================
``""``            none: a single instance (the embedded default); rooms do not fan out
``redis://...``   :class:`~collab_server.fanout.redis.RedisFanOut` (``rediss://`` too)
``memory://``     an in-process bus of its own (instances in one process share one
                  only if built from the same :class:`MemoryBus`: for tests)
================  =================================================================
"""

from __future__ import annotations

from urllib.parse import urlsplit

from collab_server.fanout.base import FanOut
from collab_server.fanout.memory import MemoryBus


def open_fanout(url: str, instance_id: str) -> FanOut | None:
    """The fan-out named by ``url`` for instance ``instance_id``, or None for ``""``.
    ``ValueError`` for an unknown scheme."""
    if not url:
        return None
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        from collab_server.fanout.redis import RedisFanOut  # redis is an optional extra

        return RedisFanOut.from_url(url, instance_id)
    if scheme == "memory":
        return MemoryBus().connect(instance_id)
    raise ValueError(f"unsupported fan-out URL scheme {scheme!r}; use redis:// or rediss://")
