"""KeyedLock: one key at a time, keys independent, entries forgotten when unused."""

from __future__ import annotations

import asyncio

from persistence.keyed_lock import KeyedLock


async def test_serialises_one_key_not_others_and_forgets_unused_keys() -> None:
    locks = KeyedLock()
    events: list[str] = []

    async def work(key: str, name: str) -> None:
        async with locks(key):
            events.append(f"{name}+")
            await asyncio.sleep(0.01)
            events.append(f"{name}-")

    await asyncio.gather(work("a", "a1"), work("a", "a2"), work("b", "b1"))
    assert events.index("a1-") < events.index("a2+")  # same key: one after the other
    assert events.index("b1+") < events.index("a1-")  # another key: at the same time
    assert len(locks) == 0

    try:
        async with locks("c"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert len(locks) == 0
