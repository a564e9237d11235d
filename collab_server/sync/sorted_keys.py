"""Updates whose objects list their keys in one order, for Yjs clients.

pycrdt (yrs) re-encodes every update it hands out, a joiner's whole state included, and
keeps a JSON-like value's object in a hash map, so a note's keys come out in a different
order from note to note. Yjs builds each object in the order it reads, and V8 then makes
a hidden class per order: applying a 5,000-note state took 15% longer than the same
state written by Yjs, and every later read of those notes is polymorphic
(docs/benchmarks.md). :func:`sort_keys` rewrites an update so that every object's
entries are in sorted key order; nothing else changes (the entries' bytes are reordered,
not re-encoded).
"""

from __future__ import annotations

from collab_server.errors import ProtocolViolation
from collab_server.sync.protocol import read_uint
from collab_server.sync.update_check import value_end, value_spans

_OBJECT, _ARRAY = 118, 117


def sort_keys(update: bytes) -> bytes:
    """``update`` with the keys of every object in its JSON-like values sorted; the
    update itself if it has none or is not well-formed."""
    try:
        spans = value_spans(update)
    except ProtocolViolation:
        return update
    out: list[bytes] = []
    last = 0
    for start, end in spans:
        if update[start] in (_OBJECT, _ARRAY):
            out.append(update[last:start])
            out.append(_sorted_value(update, start)[0])
            last = end
    if not out:
        return update
    out.append(update[last:])
    return b"".join(out)


def _sorted_value(data: bytes, pos: int) -> tuple[bytes, int]:
    """The value at ``pos`` (well-formed: checked) with its objects' keys sorted, and
    the position after it."""
    tag = data[pos]
    if tag == _OBJECT:
        count, start = read_uint(data, pos + 1)
        entries = []
        at = start
        for _ in range(count):
            key_end = _string_end(data, at)
            value, end = _sorted_value(data, key_end)
            entries.append((data[at:key_end], value))
            at = end
        entries.sort(key=_key)
        return data[pos:start] + b"".join(key + value for key, value in entries), at
    if tag == _ARRAY:
        count, start = read_uint(data, pos + 1)
        items = []
        at = start
        for _ in range(count):
            value, at = _sorted_value(data, at)
            items.append(value)
        return data[pos:start] + b"".join(items), at
    end = value_end(data, pos)
    return data[pos:end], end


def _key(entry: tuple[bytes, bytes]) -> bytes:
    return entry[0]  # the length-prefixed UTF-8 key: one order, as good as any


def _string_end(data: bytes, pos: int) -> int:
    length, pos = read_uint(data, pos)
    return pos + length
